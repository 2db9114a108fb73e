"""Finding the passages that answer a question: dense (FAISS) and lexical (BM25) search, fused.

`search` is the one retrieval function: chat, the `ask` command, the hit-testing page and
evaluation all call it, so a query ranks the same everywhere. It returns the passages with each
search's score and rank, and how long each step took.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TypeVar

from knowledge import embedding, index, lexical
from knowledge.models import Chunk, KnowledgeBase

RRF_K = 60
CANDIDATES = 50
MODES = ("hybrid", "dense", "lexical")
T = TypeVar("T")


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    document_id: int
    document_title: str
    knowledge_base_id: int
    text: str
    location: str
    score: float  # the fused score that ranks passages
    rank: int  # 1-based position in the fused ranking
    dense_score: float | None  # cosine similarity in [-1, 1]
    dense_rank: int | None
    lexical_score: float | None  # BM25
    lexical_rank: int | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchResult:
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)


def _lexical_index(kb_id: int) -> lexical.LexicalIndex:
    version = index.current_version(kb_id)
    found = lexical.cached(kb_id, version)
    if found is None:
        rows = list(Chunk.objects.filter(knowledge_base_id=kb_id).values_list("id", "text"))
        found = lexical.build(version, [r[0] for r in rows], [r[1] for r in rows])
        lexical.remember(kb_id, found)
    return found


def _fuse(ranked_lists: Sequence[list[tuple[int, float]]]) -> dict[int, float]:
    """Reciprocal rank fusion: robust to the two searches' scores being on different scales."""
    fused: dict[int, float] = {}
    for ranked in ranked_lists:
        for rank, (chunk_id, _score) in enumerate(ranked):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    return fused


def _ranks(hits: list[tuple[int, float]]) -> dict[int, tuple[float, int]]:
    return {chunk_id: (score, rank) for rank, (chunk_id, score) in enumerate(hits, start=1)}


def search(
    *,
    query: str,
    knowledge_bases: Sequence[KnowledgeBase],
    top_k: int | None = None,
    mode: str = "hybrid",
) -> SearchResult:
    """The best passages for the query across the given knowledge bases, best first.

    Callers pass only knowledge bases the asking user may read. `mode` is "hybrid" (both searches,
    fused), "dense" or "lexical".
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if not knowledge_bases or not query.strip():
        return SearchResult([])
    timings: dict[str, float] = {}

    def timed(step: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = work()
        timings[step] = round((time.perf_counter() - started) * 1000, 2)
        return result

    top_k = top_k or max(kb.top_k for kb in knowledge_bases)
    depth = max(CANDIDATES, top_k)  # each search's candidates; evaluation asks for hundreds
    dense: list[tuple[int, float]] = []
    sparse: list[tuple[int, float]] = []
    if mode != "lexical":
        dim = embedding.dimension()
        vector = timed("embed", lambda: embedding.embed([query])[0])
        dense = timed(
            "dense",
            lambda: [h for kb in knowledge_bases for h in index.search(kb.id, vector, dim=dim, k=depth)],
        )
        dense.sort(key=lambda hit: -hit[1])
    if mode != "dense":
        sparse = timed(
            "lexical",
            lambda: [h for kb in knowledge_bases for h in _lexical_index(kb.id).search(query, k=depth)],
        )
        sparse.sort(key=lambda hit: -hit[1])
    # One search alone ranks by its own score; both are fused by rank.
    fused = timed("fuse", lambda: _fuse([dense, sparse]) if mode == "hybrid" else dict(dense or sparse))
    best = sorted(fused, key=lambda chunk_id: -fused[chunk_id])[:top_k]
    chunks = timed("fetch", lambda: Chunk.objects.select_related("document").in_bulk(best))
    timings["total"] = round(sum(timings.values()), 2)
    dense_ranks, sparse_ranks = _ranks(dense), _ranks(sparse)
    passages = []
    for chunk_id in best:
        chunk = chunks.get(chunk_id)
        if chunk is None:
            continue  # deleted since the index was read
        dense_score, dense_rank = dense_ranks.get(chunk_id, (None, None))
        lexical_score, lexical_rank = sparse_ranks.get(chunk_id, (None, None))
        passages.append(
            Passage(
                chunk_id=chunk.id,
                document_id=chunk.document_id,
                document_title=chunk.document.title,
                knowledge_base_id=chunk.knowledge_base_id,
                text=chunk.text,
                location=chunk.location,
                score=fused[chunk.id],
                rank=len(passages) + 1,
                dense_score=dense_score,
                dense_rank=dense_rank,
                lexical_score=lexical_score,
                lexical_rank=lexical_rank,
            )
        )
    return SearchResult(passages, timings)


def retrieve_passages(
    *, question: str, knowledge_bases: Sequence[KnowledgeBase], top_k: int | None = None
) -> list[Passage]:
    return search(query=question, knowledge_bases=knowledge_bases, top_k=top_k).passages
