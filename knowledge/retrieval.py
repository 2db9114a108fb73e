"""Finding the passages that answer a question: dense and lexical (BM25) search, combined.

Both searches go to the configured search index (`knowledge.search_index.backend()`), whose
`SearchIndex` docstring states what its scores mean; the relevance below is built on that.

`search` is the one retrieval function: chat, the `ask` command, the hit-testing page, the API and
evaluation all call it, so a query ranks the same everywhere and the relevance floor means the same
everywhere.

Relevance, the score passages are ranked by and the floor is compared with, is a number in [0, 1]:
- dense: the cosine similarity of question and passage (negative ones count as 0);
- lexical: the passage's BM25 score as a fraction of the highest score the question's terms could
  reach in this knowledge base (every term, repeated, in a short passage);
- hybrid: the weighted mean of the two, where the lexical side weighs 1 and the dense side weighs
  the skill of the knowledge base's embedder in the question's script as measured when it loads
  (see `probe` and `dense_weight`), or 0 where that skill is below USABLE_SKILL. With the default
  English-only model a Chinese question is ranked by BM25 alone and an English one by both about
  alike; a multilingual model keeps its weight in both.
Each knowledge base's question vector and dense weight come from its own embedder
(knowledge.embedders); one that cannot embed now is searched by its words alone, with a warning.
Both scores are computed exactly for every candidate either search found, so a passage's relevance
does not depend on how deep each search looked.

A question may also be searched in translation (`translations`, decided and made by
chat.question_translation where the documents are in a language the search cannot reach from the
question's): each wording is searched as the question is, and a passage found by several keeps the
relevance, scores and ranks of the wording that found it most relevant, so the floor means the same.

A follow-up question ("what about its memory needs?") is searched together with the previous
question and, more lightly, the previous answer, so that what it refers to is found; the new
question always weighs most.
"""

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol, TypeVar

import numpy as np

from knowledge import embedders, embedding, floors, index_sync, lexical, probe, search_index, widening
from knowledge.models import Chunk, KnowledgeBase

logger = logging.getLogger(__name__)

CANDIDATES = 50
MODES = ("hybrid", "dense", "lexical")
# What earlier turns weigh next to the question (1): the previous question, then the previous answer.
CONTEXT_WEIGHTS = (0.5, 0.25)
# Below this probe skill the embedder is wrong more often than right in a script: its ranking is
# noise there, and any weight on it pulls a hybrid below BM25 alone.
USABLE_SKILL = 0.5
T = TypeVar("T")


class _Timer(Protocol):
    """Runs one step of a search and adds its duration to the search's timings."""

    def __call__(self, step: str, work: Callable[[], T]) -> T: ...


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    document_id: int
    document_title: str
    knowledge_base_id: int
    text: str
    location: str
    score: float  # relevance in [0, 1]: ranks passages and is what the relevance floor compares with
    rank: int  # 1-based position in the final ranking
    dense_score: float | None  # cosine similarity in [-1, 1]
    dense_rank: int | None
    lexical_score: float | None  # BM25
    lexical_rank: int | None
    # `location` in words of the language active when the passage was found; citations keep these
    # two so that they are shown in their reader's language (knowledge.locations).
    page: int | None = None
    heading: str = ""
    # A curated FAQ pair given to the model as a passage (faq.matching), not a chunk of a document:
    # chunk_id and document_id are then 0.
    faq_pair_id: int | None = None
    # The translation of the question whose search gave this passage its relevance and scores
    # (search's `translations`); empty when the question itself did.
    translation: str = ""
    # Where the chunks the search chose are in `text`, best first, as (start, end) offsets: `text` is
    # what is sent, the chunk widened with its neighbours (knowledge.widening). Empty: all of it.
    matched: tuple[tuple[int, int], ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchResult:
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    below_floor: int = 0  # passages found but dropped by the relevance floor


@dataclass
class _Candidate:
    chunk_id: int
    knowledge_base: KnowledgeBase
    relevance: float = 0.0
    dense_score: float | None = None
    dense_rank: int | None = None
    lexical_score: float | None = None
    lexical_rank: int | None = None
    translation: str = ""  # the translation of the question that found it, or "": the question


def dense_weight(query: str, *, skills: Mapping[str, float] | None = None) -> float:
    """How much the dense side counts next to BM25 (1) for this query: the embedder's skill (the
    built-in one's unless given) in the weakest script making up at least probe.MAJOR_SCRIPT_SHARE of
    the query (a Chinese question naming "DeepSeek-V3" is a Chinese question), or 0 below USABLE_SKILL.
    Unprobed scripts count as the weakest probed one."""
    skills = embedding.skills() if skills is None else skills
    weakest = min(skills[script] for script in probe.SCRIPTS)  # of the scripts, not the crossings
    shares = probe.script_shares(query) or {"latin": 1.0}
    skill = min(
        skills.get(script, weakest) for script, share in shares.items() if share >= probe.MAJOR_SCRIPT_SHARE
    )
    return skill if skill >= USABLE_SKILL else 0.0


def _query_vector(
    embedder: embedders.Embedder, query: str, context: Sequence[tuple[str, float]]
) -> np.ndarray:
    """The question's embedding, nudged towards the earlier turns it may refer to."""
    vectors = embedder.embed_queries([query, *(text for text, _weight in context)])
    blended = vectors[0] + sum(w * v for (_text, w), v in zip(context, vectors[1:], strict=True))
    return blended / np.linalg.norm(blended)


def _search_one(
    kb: KnowledgeBase,
    *,
    mode: str,
    vector: np.ndarray | None,
    terms: lexical.Query,
    depth: int,
    dense_weight: float,
    timed: _Timer,
) -> list[_Candidate]:
    """Candidates from one knowledge base with their scores and relevance. `vector` is the question's
    embedding when this knowledge base's mode has a dense side, None when it is lexical only."""
    index = search_index.backend()
    dense: list[tuple[int, float]] = []
    if vector is not None:
        query = vector
        try:
            dense = timed("dense", lambda: index.search_dense(kb.id, query, k=depth))
        except ValueError:
            # Its index was rebuilt for the next embedder, of another dimension, since the knowledge
            # base was read (knowledge.reembedding): this one search goes by words.
            logger.warning("Knowledge base %s switched embedders mid-search; by words only", kb.id)
            mode, vector = "lexical", None
    sparse: list[tuple[int, float]] = []
    if mode != "dense":
        sparse = timed("lexical", lambda: index.search_lexical(kb.id, terms, k=depth))
    found: dict[int, _Candidate] = {}
    for rank, (chunk_id, score) in enumerate(dense, start=1):
        found[chunk_id] = _Candidate(chunk_id, kb, dense_score=score, dense_rank=rank)
    for rank, (chunk_id, score) in enumerate(sparse, start=1):
        candidate = found.setdefault(chunk_id, _Candidate(chunk_id, kb))
        candidate.lexical_score, candidate.lexical_rank = score, rank
    if found:
        timed(
            "fuse",
            lambda: _score(kb.id, found, mode=mode, vector=vector, terms=terms, dense_weight=dense_weight),
        )
    return list(found.values())


def _score(
    kb_id: int,
    found: dict[int, _Candidate],
    *,
    mode: str,
    vector: np.ndarray | None,
    terms: lexical.Query,
    dense_weight: float,
) -> None:
    """Complete each candidate's scores (exactly, where one search did not return it) and relevance."""
    index = search_index.backend()
    if vector is not None:
        missing = [i for i, c in found.items() if c.dense_score is None]
        if missing:
            for chunk_id, score in zip(missing, index.dense_scores(kb_id, vector, missing), strict=True):
                found[chunk_id].dense_score = float(score)
    ceiling = 1.0
    if mode != "dense":
        missing = [i for i, c in found.items() if c.lexical_score is None]
        if missing:
            for chunk_id, score in zip(missing, index.lexical_scores(kb_id, terms, missing), strict=True):
                found[chunk_id].lexical_score = float(score)
        ceiling = index.lexical_ceiling(kb_id, terms) or 1.0
    weights = {"dense": (1.0, 0.0), "lexical": (0.0, 1.0), "hybrid": (dense_weight, 1.0)}[mode]
    for candidate in found.values():
        cosine = max(candidate.dense_score or 0.0, 0.0)
        bm25 = (candidate.lexical_score or 0.0) / ceiling
        candidate.relevance = (weights[0] * cosine + weights[1] * bm25) / sum(weights)


def _candidates(
    query: str,
    knowledge_bases: Sequence[KnowledgeBase],
    *,
    translated: bool,
    mode: str | None,
    context: Sequence[tuple[str, float]],
    depth: int,
    timed: _Timer,
) -> list[_Candidate]:
    """The candidates one wording of the question (the question, or a translation of it) finds in
    each knowledge base, with their relevance."""
    dense = _dense_sides(query, context, knowledge_bases, mode=mode, timed=timed)
    terms = lexical.Query.of(query, context=context)
    found = [
        candidate
        for kb in knowledge_bases
        for candidate in _search_one(
            kb,
            mode=dense[kb.id].mode,
            vector=dense[kb.id].vector,
            terms=terms,
            depth=depth,
            dense_weight=dense[kb.id].weight,
            timed=timed,
        )
    ]
    if translated:
        for candidate in found:
            candidate.translation = query
    return found


def _best_of_each(candidates: Iterable[_Candidate]) -> list[_Candidate]:
    """Each chunk once, as the wording of the question that found it most relevant found it (the
    first on a tie: the question itself)."""
    best: dict[int, _Candidate] = {}
    for candidate in candidates:
        kept = best.get(candidate.chunk_id)
        if kept is None or candidate.relevance > kept.relevance:
            best[candidate.chunk_id] = candidate
    return list(best.values())


def search(
    *,
    query: str,
    knowledge_bases: Sequence[KnowledgeBase],
    top_k: int | None = None,
    mode: str | None = None,
    context: Sequence[str] = (),
    depth: int | None = None,
    translations: Sequence[str] = (),
    widen: bool = True,
) -> SearchResult:
    """The best passages for the query across the given knowledge bases, best first.

    Callers pass only knowledge bases the asking user may read. Each knowledge base is searched in
    its own mode with its own relevance floor (`floors.relevance_floor`) unless `mode` overrides the
    mode (the hit-testing page and evaluation compare modes). `context` holds the previous question
    and answer, newest first, for follow-up questions (either may be empty). `depth` is how many
    candidates each search returns (at least top_k). `translations` are the question in other
    languages (chat.question_translation), each searched as the question is: a passage found by
    several keeps its highest relevance, and the floor of the wording that found it applies to that.
    With `widen` the chosen chunks are widened into the passages sent (knowledge.widening), which
    may merge two of one section into one passage.
    """
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    index_sync.ensure_current()
    if not knowledge_bases or not query.strip():
        return SearchResult([])
    weighted = [
        (text, weight) for text, weight in zip(context, CONTEXT_WEIGHTS, strict=False) if text.strip()
    ]
    timings: dict[str, float] = {}

    def timed(step: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = work()
        timings[step] = round(timings.get(step, 0.0) + (time.perf_counter() - started) * 1000, 2)
        return result

    top_k = top_k or max(kb.top_k for kb in knowledge_bases)
    depth = max(depth or CANDIDATES, top_k)
    wordings = dict.fromkeys([query, *(text for text in translations if text.strip())])
    candidates = _best_of_each(
        candidate
        for wording in wordings
        for candidate in _candidates(
            wording,
            knowledge_bases,
            translated=wording != query,
            mode=mode,
            context=weighted,
            depth=depth,
            timed=timed,
        )
    )
    floor = {
        (kb.id, wording): floors.relevance_floor(kb, wording)
        for kb in knowledge_bases
        for wording in wordings
    }
    kept = [c for c in candidates if c.relevance >= floor[c.knowledge_base.id, c.translation or query]]
    kept.sort(key=lambda c: (-c.relevance, c.chunk_id))
    best = kept[:top_k]
    chunks = timed(
        "fetch", lambda: Chunk.objects.select_related("document").in_bulk([c.chunk_id for c in best])
    )
    passages: list[Passage] = []
    for candidate in best:
        chunk = chunks.get(candidate.chunk_id)
        if chunk is None:
            continue  # deleted since the index was read
        passages.append(
            Passage(
                chunk_id=chunk.id,
                document_id=chunk.document_id,
                document_title=chunk.document.title,
                knowledge_base_id=chunk.knowledge_base_id,
                text=chunk.text,
                location=chunk.location,
                score=round(candidate.relevance, 4),
                rank=len(passages) + 1,
                dense_score=candidate.dense_score,
                dense_rank=candidate.dense_rank,
                lexical_score=candidate.lexical_score,
                lexical_rank=candidate.lexical_rank,
                page=chunk.page,
                heading=chunk.heading,
                translation=candidate.translation,
            )
        )
    if widen:
        passages = timed("widen", lambda: widening.widen(passages))
    timings["total"] = round(sum(timings.values()), 2)
    return SearchResult(passages, timings, below_floor=len(candidates) - len(kept))


@dataclass(frozen=True)
class _DenseSide:
    mode: str
    weight: float
    vector: np.ndarray | None  # None when the knowledge base is searched by its words alone


def _dense_sides(
    query: str,
    context: Sequence[tuple[str, float]],
    knowledge_bases: Sequence[KnowledgeBase],
    *,
    mode: str | None,
    timed: _Timer,
) -> dict[int, _DenseSide]:
    """Each knowledge base's mode, dense weight and question vector, from its own embedder (each
    embedder embeds the question once). A hybrid search whose dense side weighs nothing in this
    query's script is BM25 alone: the question is not embedded at all (unless a mode is asked for,
    to compare them). A knowledge base whose embedder fails is searched by its words alone."""
    weights: dict[str, float | None] = {}
    for name in {kb.embedder for kb in knowledge_bases}:
        try:
            weights[name] = dense_weight(query, skills=embedders.get(name).skills())
        except embedders.EmbedderError as exc:
            logger.warning("Searching by words only: %s", exc)
            weights[name] = None
    vectors: dict[str, np.ndarray | None] = {}
    sides = {}
    for kb in knowledge_bases:
        weight = weights[kb.embedder]
        wanted = mode or ("lexical" if kb.retrieval_mode == "hybrid" and not weight else kb.retrieval_mode)
        if wanted != "lexical" and weight is not None and kb.embedder not in vectors:
            vectors[kb.embedder] = _try_query_vector(kb.embedder, query, context, timed=timed)
        vector = vectors.get(kb.embedder) if wanted != "lexical" else None
        if vector is None:
            wanted = "lexical"
        sides[kb.id] = _DenseSide(wanted, weight or 0.0, vector)
    return sides


def _try_query_vector(
    name: str, query: str, context: Sequence[tuple[str, float]], *, timed: _Timer
) -> np.ndarray | None:
    try:
        return timed("embed", lambda: _query_vector(embedders.get(name), query, context))
    except embedders.EmbedderError as exc:
        logger.warning("Searching by words only: %s", exc)
        return None


def retrieve_passages(
    *,
    question: str,
    knowledge_bases: Sequence[KnowledgeBase],
    top_k: int | None = None,
    context: Sequence[str] = (),
    translations: Sequence[str] = (),
) -> list[Passage]:
    return search(
        query=question,
        knowledge_bases=knowledge_bases,
        top_k=top_k,
        context=context,
        translations=translations,
    ).passages
