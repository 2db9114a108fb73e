"""Finding the passages that answer a question: dense (FAISS) and lexical (BM25) search, fused."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from knowledge import embedding, index, lexical
from knowledge.models import Chunk, KnowledgeBase

RRF_K = 60
CANDIDATES = 50


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    document_id: int
    document_title: str
    knowledge_base_id: int
    text: str
    location: str
    score: float
    dense_score: float | None
    lexical_score: float | None

    def as_dict(self) -> dict:
        return asdict(self)


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


def retrieve_passages(
    *, question: str, knowledge_bases: Sequence[KnowledgeBase], top_k: int | None = None
) -> list[Passage]:
    """The best passages for the question across the given knowledge bases, best first.

    Callers pass only knowledge bases the asking user may read.
    """
    if not knowledge_bases or not question.strip():
        return []
    top_k = top_k or max(kb.top_k for kb in knowledge_bases)
    dim = embedding.dimension()
    query = embedding.embed([question])[0]
    dense: list[tuple[int, float]] = []
    sparse: list[tuple[int, float]] = []
    for kb in knowledge_bases:
        dense += index.search(kb.id, query, dim=dim, k=CANDIDATES)
        sparse += _lexical_index(kb.id).search(question, k=CANDIDATES)
    dense.sort(key=lambda hit: -hit[1])
    sparse.sort(key=lambda hit: -hit[1])
    fused = _fuse([dense, sparse])
    best = sorted(fused, key=lambda chunk_id: -fused[chunk_id])[:top_k]
    chunks = Chunk.objects.select_related("document").in_bulk(best)
    dense_scores, sparse_scores = dict(dense), dict(sparse)
    return [
        Passage(
            chunk_id=chunk.id,
            document_id=chunk.document_id,
            document_title=chunk.document.title,
            knowledge_base_id=chunk.knowledge_base_id,
            text=chunk.text,
            location=chunk.location,
            score=fused[chunk.id],
            dense_score=dense_scores.get(chunk.id),
            lexical_score=sparse_scores.get(chunk.id),
        )
        for chunk_id in best
        if (chunk := chunks.get(chunk_id)) is not None
    ]
