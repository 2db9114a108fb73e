"""An OpenAI-compatible embeddings server as an embedder: Ollama (bge-m3 …), vLLM, TEI, hosted APIs.

Texts go as `POST {base_url}/embeddings {"model", "input": [...]}` in batches of `batch_size`;
the vectors come back in `data[i].embedding`, ordered by `data[i].index`, and are normalised here
(not every server does). A rate limit or an overloaded server (429, 5xx), a timeout or a refused
connection is tried again up to `retries` times, after the wait the server asks for (Retry-After)
or a doubling back-off, as the chat upstream is (chat/openai_compatible.py); anything else fails at
once with the server's own message.

Such a server has no tokenizer to ask, so chunks are measured by an estimate that errs high: one
token per Chinese, Japanese or Korean character, one per punctuation mark, and one per four
characters of a word (real tokenizers give English about one token per 4-5 characters, and Chinese
one per 1-1.5 characters). `chunk_tokens` of them make a chunk; the default 256 keeps chunks about
as long as the built-in model's, which suits retrieval and prompts whatever the model could read.
"""

import logging
import math
import re
import threading
import time
from collections.abc import Sequence

import numpy as np
import requests

from knowledge.embedders import Embedder, EmbedderError

logger = logging.getLogger(__name__)

_RETRIED = frozenset({429, 500, 502, 503, 504})
_FIRST_WAIT = 0.5  # seconds before the first retry without Retry-After; doubles each time
_LONGEST_WAIT = 30.0
_PIECES = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|\w+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """Tokens the text takes, estimated high (see the module's docstring)."""
    return sum(1 if len(piece) == 1 else math.ceil(len(piece) / 4) for piece in _PIECES.findall(text))


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


class OpenAIEmbedder(Embedder):
    def __init__(self, config) -> None:
        super().__init__(config)
        self._url = config.base_url.rstrip("/") + "/embeddings"
        self._session = requests.Session()
        self._dimension: int | None = config.dimensions
        self._dimension_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        step = self.config.batch_size or 32
        vectors = np.concatenate([self._batch(list(texts[i : i + step])) for i in range(0, len(texts), step)])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not norms.all():
            raise EmbedderError(f"The embedder {self.name!r} returned a zero vector.")
        return np.ascontiguousarray(vectors / norms, dtype=np.float32)

    def dimension(self) -> int:
        with self._dimension_lock:
            if self._dimension is None:
                self._dimension = int(self.embed(["dimension"]).shape[1])
            return self._dimension

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def max_chunk_tokens(self) -> int:
        return self.config.chunk_tokens

    def _batch(self, texts: list[str]) -> np.ndarray:
        body: dict = {"model": self.config.model, "input": texts, "encoding_format": "float"}
        if self.config.dimensions:
            body["dimensions"] = self.config.dimensions
        for attempt in range(self.config.retries + 1):
            try:
                return self._post(body, count=len(texts))
            except _Retry as failure:
                if attempt == self.config.retries:
                    tries = attempt + 1
                    raise EmbedderError(
                        f"The embedder {self.name!r} ({self._url}) failed {tries} time(s): {failure}"
                    ) from None
                wait = failure.wait if failure.wait is not None else _FIRST_WAIT * 2**attempt
                logger.warning("Embedder %r: %s; trying again in %.1f s", self.name, failure, wait)
                time.sleep(min(wait, _LONGEST_WAIT))
        raise AssertionError("unreachable")

    def _post(self, body: dict, *, count: int) -> np.ndarray:
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        try:
            response = self._session.post(self._url, json=body, headers=headers, timeout=self.config.timeout)
        except requests.Timeout:
            raise _Retry(f"no answer within {self.config.timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise _Retry(f"cannot be reached ({exc})") from None
        if response.status_code in _RETRIED:
            raise _Retry(f"HTTP {response.status_code}: {_message(response)}", _retry_after(response))
        if response.status_code != 200:
            raise EmbedderError(
                f"The embedder {self.name!r} ({self._url}) refused the request: "
                f"HTTP {response.status_code}: {_message(response)}"
            )
        return self._vectors(response, count=count)

    def _vectors(self, response: requests.Response, *, count: int) -> np.ndarray:
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbedderError(
                f"The embedder {self.name!r} ({self._url}) answered in an unexpected shape ({exc!r})."
            ) from None
        if vectors.ndim != 2 or len(vectors) != count or not vectors.shape[1]:
            raise EmbedderError(
                f"The embedder {self.name!r} ({self._url}) sent {len(vectors)} vectors of shape "
                f"{vectors.shape[1:]} for {count} texts."
            )
        if self._dimension is not None and vectors.shape[1] != self._dimension:
            raise EmbedderError(
                f"The embedder {self.name!r} sent vectors of {vectors.shape[1]} dimensions, "
                f"not {self._dimension}."
            )
        return vectors


def _message(response: requests.Response) -> str:
    """The error's text as OpenAI ({"error": {"message"}}), TEI and Ollama ({"error": "..."}) send it."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        error = error.get("message")
    return str(error or response.text[:300] or response.reason)


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None
