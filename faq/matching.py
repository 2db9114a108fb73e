"""How well a question matches the curated questions of a knowledge base's FAQ pairs.

A question is scored against each pair's question and its alternative phrasings; the pair's score
is its best phrasing's, a number in [0, 1]:
- the same text once compatibility-normalised, case-folded and stripped of punctuation and spaces
  ("年假有几天?" and "年假有几天？") scores 1;
- otherwise the weighted mean of the cosine similarity of their embeddings (negative counts as 0)
  and a lexical similarity: the Dice coefficient of their sets of terms, the search index's own
  tokens (jieba words for Chinese, stemmed English words) plus each Chinese character, so that
  "年假有几天" and "年假有几天呢" stay close where jieba cuts them differently. The dense side
  weighs what the search gives it (`retrieval.dense_weight`): the embedding model's skill in the
  question's script, nothing where it is below use (Chinese, with the default English-only model),
  so Chinese questions are matched by their words alone and English ones by both.
Vectors and terms are computed when a pair is saved (`encode`), and each process keeps them per
knowledge base until its pairs change: matching embeds the question once and compares numbers and
sets.
"""

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from django.conf import settings
from django.db.models import Count, Max
from django.utils.translation import gettext

from faq.models import FaqPair
from knowledge import embedding, lexical, retrieval
from knowledge.models import KnowledgeBase

_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class FaqMatch:
    pair_id: int
    knowledge_base_id: int
    question: str  # the curated question
    matched: str  # the phrasing that matched best (the question or an alternative)
    answer: str
    score: float  # in [0, 1]: compared with the knowledge base's FAQ threshold
    dense_score: float | None  # cosine similarity of the best phrasing, when the dense side counted
    lexical_score: float

    def as_dict(self) -> dict:
        return asdict(self)


def normalised(text: str) -> str:
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def terms(text: str) -> list[str]:
    """The lexical terms of a phrasing, sorted (stored with the pair)."""
    folded = unicodedata.normalize("NFKC", text)
    return sorted(set(lexical.tokenize(folded)) | set(_HAN.findall(folded)))


def dice(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 0.0


def encode(phrasings: Sequence[str]) -> tuple[bytes, list[list[str]]]:
    """The vectors (float32 rows) and terms of a pair's phrasings, to store on it."""
    vectors = embedding.embed(list(phrasings))
    return np.ascontiguousarray(vectors, dtype=np.float32).tobytes(), [terms(text) for text in phrasings]


@dataclass(frozen=True)
class _Pair:
    """A pair as matching reads it: its phrasings' normalised texts, term sets and vectors."""

    id: int
    knowledge_base_id: int
    question: str
    answer: str
    phrasings: list[str]
    normalised: list[str]
    terms: list[frozenset[str]]
    vectors: np.ndarray | None  # one row per phrasing; None when saved under another embedding model

    @classmethod
    def of(cls, pair: FaqPair) -> "_Pair":
        phrasings = pair.phrasings
        stored = bytes(pair.vectors)
        rows = len(stored) // (4 * embedding.dimension()) if stored else 0
        vectors = None
        if rows == len(phrasings) and rows * 4 * embedding.dimension() == len(stored):
            vectors = np.frombuffer(stored, dtype=np.float32).reshape(rows, -1)
        stored_terms = [frozenset(t) for t in pair.terms] if len(pair.terms) == len(phrasings) else []
        return cls(
            id=pair.id,
            knowledge_base_id=pair.knowledge_base_id,
            question=pair.question,
            answer=pair.answer,
            phrasings=phrasings,
            normalised=[normalised(text) for text in phrasings],
            terms=stored_terms or [frozenset(terms(text)) for text in phrasings],
            vectors=vectors,
        )


# Each process keeps the pairs of each knowledge base it has matched against, with the version
# they were read at (count, last change, highest id): a question costs one small query while they
# are unchanged, instead of reading every pair's vectors.
_loaded: dict[int, tuple[tuple, list[_Pair]]] = {}
_loaded_lock = threading.Lock()


def _pairs_of(knowledge_base_id: int) -> list[_Pair]:
    stored = FaqPair.objects.filter(knowledge_base_id=knowledge_base_id)
    version = tuple(stored.aggregate(n=Count("id"), changed=Max("updated_at"), top=Max("id")).values())
    with _loaded_lock:
        cached = _loaded.get(knowledge_base_id)
    if cached is not None and cached[0] == version:
        return cached[1]
    fields = ("id", "knowledge_base_id", "question", "answer", "alternatives", "vectors", "terms")
    pairs = [_Pair.of(pair) for pair in stored.only(*fields)]
    with _loaded_lock:
        _loaded[knowledge_base_id] = (version, pairs)
    return pairs


def _score_pair(
    pair: _Pair, *, text: str, question_terms: set[str], vector: np.ndarray | None, weight: float
) -> FaqMatch:
    best: tuple[float, float | None, float, str] = (-1.0, None, 0.0, pair.question)
    cosines = pair.vectors @ vector if pair.vectors is not None and vector is not None else None
    for i, phrasing in enumerate(pair.phrasings):
        lexical_score = dice(question_terms, pair.terms[i])
        cosine = float(cosines[i]) if cosines is not None else None
        if text and pair.normalised[i] == text:
            score = 1.0
        elif cosine is not None:
            score = (weight * max(cosine, 0.0) + lexical_score) / (weight + 1)
        else:
            score = lexical_score
        if score > best[0]:
            best = (score, cosine, lexical_score, phrasing)
    score, cosine, lexical_score, phrasing = best
    return FaqMatch(
        pair_id=pair.id,
        knowledge_base_id=pair.knowledge_base_id,
        question=pair.question,
        matched=phrasing,
        answer=pair.answer,
        score=round(min(max(score, 0.0), 1.0), 4),
        dense_score=None if cosine is None else round(cosine, 4),
        lexical_score=round(lexical_score, 4),
    )


def match(*, question: str, knowledge_bases: Sequence[KnowledgeBase], limit: int = 5) -> list[FaqMatch]:
    """The best-matching pairs of the knowledge bases (those the asker may read), best first."""
    if not knowledge_bases or not question.strip():
        return []
    pairs = [pair for kb in knowledge_bases for pair in _pairs_of(kb.id)]
    if not pairs:
        return []
    weight = retrieval.dense_weight(question)
    vector = embedding.embed_queries([question])[0] if weight else None
    text, question_terms = normalised(question), set(terms(question))
    found = [
        _score_pair(pair, text=text, question_terms=question_terms, vector=vector, weight=weight)
        for pair in pairs
    ]
    found.sort(key=lambda m: (-m.score, m.pair_id))
    return found[:limit]


def hit(matches: Sequence[FaqMatch], knowledge_bases: Sequence[KnowledgeBase]) -> FaqMatch | None:
    """The best match at or above its knowledge base's FAQ threshold: its answer is the answer."""
    thresholds = {kb.id: kb.faq_threshold for kb in knowledge_bases}
    return next((m for m in matches if m.score >= thresholds.get(m.knowledge_base_id, 2.0)), None)


SUGGESTED = 3  # pairs at most given to the model as passages


def suggested_passages(matches: Sequence[FaqMatch]) -> list[retrieval.Passage]:
    """The pairs matching at least FAQ_SUGGEST_FLOOR (below the threshold, or the answer would have
    been theirs) as passages, to go ahead of the documents' in the prompt and be cited like them."""
    floor = settings.FAQ_SUGGEST_FLOOR
    kept = [m for m in matches if m.score >= floor and m.score > 0][:SUGGESTED]
    return [
        retrieval.Passage(
            chunk_id=0,
            document_id=0,
            document_title=gettext("FAQ: %(question)s") % {"question": m.question},
            knowledge_base_id=m.knowledge_base_id,
            text=f"Q: {m.question}\nA: {m.answer}",
            location="",
            score=m.score,
            rank=rank,
            dense_score=m.dense_score,
            dense_rank=None,
            lexical_score=m.lexical_score,
            lexical_rank=None,
            faq_pair_id=m.pair_id,
        )
        for rank, m in enumerate(kept, start=1)
    ]
