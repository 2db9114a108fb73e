"""The embedder contract, and the embedder each knowledge base uses (its `embedder`, by name).

An embedder turns texts into unit-length float32 vectors (so inner product is cosine similarity),
counts tokens the way chunking needs, and knows its skill per script (knowledge.probe), measured
once per process: as the web server starts for the built-in embedder, at its first question for
the others. Two kinds exist, chosen by configuration (knowledge.embedder_config): a local
sentence-transformers model (knowledge.embedding) and an OpenAI-compatible embeddings server
(knowledge.remote_embedding).

Vectors of two embedders are never compared: a knowledge base's chunks and its questions are
embedded by the same one, and changing it re-embeds every chunk (knowledge.reembedding).
"""

import logging
import threading
from collections.abc import Sequence
from functools import cache

import numpy as np

from knowledge import embedding, probe
from knowledge.embedder_config import DEFAULT_NAME, EmbedderConfig, configured

logger = logging.getLogger(__name__)


class EmbedderError(Exception):
    """An embedder that cannot embed now; the message says why, for the admin and the logs."""


class Embedder:
    """What ingestion, retrieval and re-embedding ask of an embedder."""

    def __init__(self, config: EmbedderConfig) -> None:
        self.config = config
        self._skills: dict[str, float] | None = None
        self._skills_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.config.name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; EmbedderError when it cannot."""
        raise NotImplementedError

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Like `embed`, for the few texts of one search."""
        return self.embed(texts)

    def dimension(self) -> int:
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def max_chunk_tokens(self) -> int:
        """The longest chunk, in `count_tokens` tokens, that the embedder reads whole."""
        raise NotImplementedError

    def skills(self) -> dict[str, float]:
        """Skill per script in [0, 1] (knowledge.probe), measured at the first call in this process;
        a failed measurement raises and is tried again at the next call."""
        with self._skills_lock:
            if self._skills is None:
                self._skills = probe.measure(self.embed)
                logger.info("Embedder %r probed (skill per script: %s).", self.name, self._skills)
            return self._skills


class LocalEmbedder(Embedder):
    """A sentence-transformers model by name or path, on this machine; questions are batched on one
    thread as the built-in model's are."""

    def __init__(self, config: EmbedderConfig) -> None:
        super().__init__(config)
        self._queries = embedding._QueryBatcher(self.embed)

    def _model(self):
        return embedding.get_model(self.config.model)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return embedding.encode(self._model(), texts, batch_size=self.config.batch_size)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._queries.embed(texts)

    def dimension(self) -> int:
        return self._model().get_embedding_dimension()

    def count_tokens(self, text: str) -> int:
        return len(self._model().tokenizer.encode(text, add_special_tokens=False))

    def max_chunk_tokens(self) -> int:
        return self._model().max_seq_length - 2


class BuiltInEmbedder(LocalEmbedder):
    """The default model, through knowledge.embedding's functions: the web server warms it up and
    probes it as it starts, and ingestion workers load it as they start."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return embedding.embed(texts, batch_size=self.config.batch_size)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return embedding.embed_queries(texts)

    def skills(self) -> dict[str, float]:
        return embedding.skills()


@cache
def _embedder(config: EmbedderConfig) -> Embedder:
    """One embedder per configuration and process, so each is loaded and probed once."""
    from knowledge.remote_embedding import OpenAIEmbedder

    if config.name == DEFAULT_NAME:
        return BuiltInEmbedder(config)
    return LocalEmbedder(config) if config.type == "local" else OpenAIEmbedder(config)


def get(name: str) -> Embedder:
    """The embedder of this name; EmbedderError when none is configured (any more)."""
    for config in configured():
        if config.name == name:
            return _embedder(config)
    raise EmbedderError(f"The embedder {name!r} is not configured (setting EMBEDDERS).")


def default() -> Embedder:
    return get(DEFAULT_NAME)


def names() -> list[str]:
    """The configured embedders' names, the built-in default first."""
    return [config.name for config in configured()]
