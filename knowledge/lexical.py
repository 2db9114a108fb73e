"""BM25 over chunk text, with jieba word segmentation so Chinese and English both tokenise."""

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import jieba
import numpy as np

jieba.setLogLevel(logging.WARNING)
_WORD = re.compile(r"\w", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens, lower-cased, punctuation and spaces dropped."""
    return [token.lower() for token in jieba.lcut_for_search(text) if _WORD.search(token)]


@dataclass(frozen=True)
class LexicalIndex:
    version: int
    chunk_ids: np.ndarray
    bm25: bm25s.BM25 | None

    def search(self, query: str, *, k: int) -> list[tuple[int, float]]:
        tokens = tokenize(query)
        if self.bm25 is None or not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(self.chunk_ids[i]), float(scores[i])) for i in top if scores[i] > 0]


def build(version: int, chunk_ids: Sequence[int], texts: Sequence[str]) -> LexicalIndex:
    if not chunk_ids:
        return LexicalIndex(version, np.zeros(0, dtype=np.int64), None)
    bm25 = bm25s.BM25()
    bm25.index([tokenize(text) or ["\0"] for text in texts], show_progress=False)
    return LexicalIndex(version, np.asarray(chunk_ids, dtype=np.int64), bm25)


_cache: dict[int, LexicalIndex] = {}
_cache_lock = threading.Lock()


def cached(kb_id: int, version: int) -> LexicalIndex | None:
    index = _cache.get(kb_id)
    return index if index and index.version == version else None


def remember(kb_id: int, index: LexicalIndex) -> None:
    with _cache_lock:
        _cache[kb_id] = index
