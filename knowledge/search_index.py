"""The search index contract: what ingestion, services and retrieval ask of a knowledge base's index.

A backend is a module whose functions are the operations of `SearchIndex`, named by the dotted path
in the SEARCH_INDEX_BACKEND setting (as Django's SESSION_ENGINE names a sessions module). The
segment index in `knowledge/index.py` is the default. A new backend is one module plus one subclass
of the contract tests in tests/index_contract.py.

The database is the source of truth; an index is derived data that `replace` can rebuild at any
time. Every operation takes the id of a knowledge base, and knowledge bases are kept apart: what is
written to one is never read from another. Chunk ids are never reused.
"""

import importlib
from collections.abc import Sequence
from functools import cache
from typing import Protocol, cast

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from knowledge import lexical


class SearchIndex(Protocol):
    """Dense and lexical search over the chunks of each knowledge base.

    Relevance semantics, which `knowledge.retrieval` relies on to rank passages by one number in
    [0, 1] and to compare that number with a knowledge base's relevance floor:

    - Dense scores are the inner product of the query vector with a chunk's vector. Both are unit
      length (the embedder normalises them), so a dense score is their cosine similarity, in
      [-1, 1], higher is closer.
    - Lexical scores are BM25 scores of the chunk's text for a `lexical.Query`: texts are analysed
      with `lexical.tokenize` (jieba for Chinese, stemmed words for English), each query term
      counts once, scaled by its weight (earlier turns weigh less than the question), and the
      statistics (document count, average length, document frequencies) are those of the whole
      knowledge base, so scores from one knowledge base compare with each other. A score is >= 0
      and 0 means no query term occurs in the chunk.
    - The lexical ceiling is the score no chunk reaches for that query in that knowledge base (every
      term's weight in full): retrieval divides lexical scores by it, so that the share of the
      question's weighted terms a chunk matches, in [0, 1), compares across knowledge bases and with
      the floor. It is 0 when no query term occurs in the knowledge base.
    - Searches return (chunk id, score) pairs, best first, at most k, each id once and only ids the
      index holds (added and not removed since); an empty index or k <= 0 gives []. A dense search
      may be approximate (it may miss a close chunk), but the scores it returns are exact.
    - Exact scores of given ids (`dense_scores`, `lexical_scores`) are what a search would score
      those chunks, in the order given, whether or not a search would find them; an id the index
      does not hold (never added, removed, or in another knowledge base) scores 0. Retrieval uses
      them to complete the scores of candidates that only one of the two searches found.

    Writes are atomic: a reader sees the index before or after a write, never half of it, and
    writers to the same knowledge base from several processes do not lose each other's changes.
    """

    def update(
        self,
        kb_id: int,
        *,
        remove_ids: Sequence[int] = (),
        add_ids: Sequence[int] = (),
        add_vectors: np.ndarray | None = None,
        add_texts: Sequence[str] = (),
    ) -> int:
        """Remove chunks and add chunks (id, unit vector, text) in one write; returns the index's new
        version, which grows with each write until a `drop`. Removing an id the index does not hold
        does nothing; ValueError when the ids, vectors and texts to add differ in number."""
        ...

    def replace(self, kb_id: int, *, ids: Sequence[int], vectors: np.ndarray, texts: Sequence[str]) -> int:
        """Make the index hold exactly these chunks (a rebuild from the database); returns as `update`."""
        ...

    def drop(self, kb_id: int) -> None:
        """Forget the knowledge base's index entirely (it was deleted); later reads find nothing."""
        ...

    def ids(self, kb_id: int) -> set[int]:
        """The chunk ids the index holds, as saved (what another process would read)."""
        ...

    def search_dense(self, kb_id: int, query: np.ndarray, *, k: int) -> list[tuple[int, float]]:
        """The k chunks with the highest dense score for this unit query vector, best first."""
        ...

    def search_lexical(self, kb_id: int, query: lexical.Query | str, *, k: int) -> list[tuple[int, float]]:
        """The k chunks with the highest positive lexical score for the query, best first; ties by
        chunk id."""
        ...

    def dense_scores(self, kb_id: int, query: np.ndarray, ids: Sequence[int]) -> np.ndarray:
        """The exact dense score of each of these chunks, in the order given (0 for unknown ids)."""
        ...

    def lexical_scores(self, kb_id: int, query: lexical.Query | str, ids: Sequence[int]) -> np.ndarray:
        """The lexical score of each of these chunks, in the order given (0 for unknown ids)."""
        ...

    def lexical_ceiling(self, kb_id: int, query: lexical.Query | str) -> float:
        """The lexical score no chunk of this knowledge base reaches for the query; 0 when no query
        term occurs in it."""
        ...


OPERATIONS = tuple(
    name for name, value in vars(SearchIndex).items() if callable(value) and not name.startswith("_")
)


@cache
def backend() -> SearchIndex:
    """The configured backend, imported once (again after SEARCH_INDEX_BACKEND changes in tests)."""
    path = settings.SEARCH_INDEX_BACKEND
    try:
        module = importlib.import_module(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"SEARCH_INDEX_BACKEND {path!r} cannot be imported: {error}") from error
    missing = [name for name in OPERATIONS if not callable(getattr(module, name, None))]
    if missing:
        raise ImproperlyConfigured(
            f"SEARCH_INDEX_BACKEND {path!r} is not a search index: it lacks {', '.join(missing)}"
        )
    return cast(SearchIndex, module)


@receiver(setting_changed)
def _forget_backend(*, setting: str, **kwargs: object) -> None:
    if setting == "SEARCH_INDEX_BACKEND":
        backend.cache_clear()
