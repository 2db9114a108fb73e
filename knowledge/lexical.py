"""BM25 over chunk text as an inverted index kept per immutable segment, searched with global statistics.

Why not bm25s: its indexes cannot add or remove documents, and one bm25s index per segment would give
each segment its own idf and average length, so scores from different segments would not compare.
Here each segment holds plain postings arrays (`Postings`), built once when the segment is written and
stored beside its vectors; a search sums the statistics of all segments first, then scores each one.

Scoring is bm25s's default ("lucene", k1=1.5, b=0.75), so results match a single bm25s index:
    idf = ln(1 + (N - df + 0.5) / (df + 0.5))
    score(term, row) = idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))
with N = the rows of all segments, avgdl = their tokens / N and df = the sum of the segments' df.
Like bm25s and Lucene, the textbook factor (k1 + 1) in the numerator is left out: it scales every
score alike, so rankings do not change.
Like Lucene, deleted (dead) rows still count in N, avgdl and df until their segment is compacted,
because removing them would mean rewriting postings; they are never returned.

This module is pure (no Django, no files): callers store the arrays and hold the loaded segments.
"""

import bisect
import itertools
import logging
import math
import re
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import jieba
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

jieba.setLogLevel(logging.WARNING)

K1 = 1.5
B = 0.75
# Stored with the arrays: postings built by another tokenizer would not match today's query tokens.
FORMAT = 2  # 2: terms sorted, with an offsets array, so a mapped segment is searched without a dict

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Runs of Chinese characters go to jieba; other words are split by the regular expression, which is
# several times faster than jieba on English text and gives the same words.
_RUNS = re.compile(f"([{_HAN}]+)|([^\\W{_HAN}]+)")
_WORD = re.compile(r"\w")
_ASCII_LETTERS = re.compile(r"[a-z]+")
_STOPWORDS = frozenset(STOPWORDS_EN)
# PyStemmer does not document thread safety; an uncontended lock costs less than a stemmer per call.
_stemmer = Stemmer.Stemmer("english")
_stemmer_lock = threading.Lock()


def warm_up() -> None:
    """Load jieba's dictionary, as the web server starts: the first Chinese question a process gets
    would otherwise wait for it (0.8 s of CPU here)."""
    jieba.initialize()


def _words(text: str) -> list[str]:
    words: list[str] = []
    for han, other in _RUNS.findall(text):
        if han:
            words += [token for token in jieba.lcut_for_search(han) if _WORD.search(token)]
        else:
            words.append(other)
    return words


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens for Chinese, words for the rest; lower-cased, without English stop
    words, English stemmed.

    Search mode also emits the parts of long Chinese words, so "混合专家" is found by "专家" too.
    Stemming makes "running" find "runs"; only plain ASCII words are stemmed, so "v3" stays as is.
    """
    tokens = [word for word in map(str.lower, _words(text)) if word not in _STOPWORDS]
    english = [i for i, token in enumerate(tokens) if _ASCII_LETTERS.fullmatch(token)]
    if english:
        with _stemmer_lock:
            stems = _stemmer.stemWords([tokens[i] for i in english])
        for i, stem in zip(english, stems, strict=True):
            tokens[i] = stem
    return tokens


class Terms(Mapping[str, int]):
    """A segment's term table as stored: the sorted terms' UTF-8 bytes end to end and where each
    starts, so that a mapped segment answers term -> column by binary search instead of each process
    building a dict of every term. Column j is the j-th term in sorted order."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self._blob, self._offsets = blob, offsets

    def _term(self, column: int) -> bytes:
        return self._blob[self._offsets[column] : self._offsets[column + 1]].tobytes()

    def __getitem__(self, term: str) -> int:
        wanted = term.encode()
        column = bisect.bisect_left(range(len(self)), wanted, key=self._term)
        if column == len(self) or self._term(column) != wanted:
            raise KeyError(term)
        return column

    def __iter__(self) -> Iterator[str]:
        text = self._blob.tobytes()
        for start, end in itertools.pairwise(self._offsets.tolist()):
            yield text[start:end].decode()

    def __len__(self) -> int:
        return len(self._offsets) - 1


def _in_term_order(names: Sequence[str]) -> tuple[dict[str, int], np.ndarray]:
    """Columns renumbered so that terms are in sorted order (code points, as their UTF-8 bytes sort,
    which `Terms` searches): the new term table and the new column of each old one."""
    order = sorted(range(len(names)), key=names.__getitem__)
    renumbered = np.empty(len(names), dtype=np.int64)
    renumbered[order] = np.arange(len(names))
    return {names[old]: new for new, old in enumerate(order)}, renumbered


@dataclass(frozen=True, eq=False)
class Postings:
    """One segment's inverted index, as flat arrays that save to an npz file without pickle.

    Compressed sparse columns: column j (a term) lists the rows that contain it and how often.
    Columns are in sorted term order.
    """

    terms: Mapping[str, int]  # term -> column: a dict when built, `Terms` when read
    indptr: np.ndarray  # int64, len(terms) + 1; column j's postings are rows[indptr[j]:indptr[j+1]]
    rows: np.ndarray  # int32 row numbers (the order of the token lists given to build)
    freqs: np.ndarray  # float32 term frequencies
    lengths: np.ndarray  # int32 tokens per row

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]]) -> "Postings":
        """Count each (term, row) pair with one numpy sort instead of a Python counter per row."""
        n_rows = len(token_lists)
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=n_rows)
        vocabulary: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        term_ids = np.fromiter(
            map(vocabulary.__getitem__, itertools.chain.from_iterable(token_lists)),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        terms, renumbered = _in_term_order(list(vocabulary))
        term_ids = renumbered[term_ids]
        # One key per token, term * n_rows + row: sorted, each run of equal keys is one posting and
        # its length the term frequency, and postings come out ordered by column, then row.
        keys = term_ids * max(n_rows, 1) + np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
        keys.sort()
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if len(keys) else keys
        pairs = keys[starts]
        columns, rows = np.divmod(pairs, max(n_rows, 1))
        indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(columns, minlength=len(vocabulary)), out=indptr[1:])
        return cls(
            terms=terms,
            indptr=indptr,
            rows=rows.astype(np.int32),
            freqs=np.diff(starts, append=len(keys)).astype(np.float32),
            lengths=lengths.astype(np.int32),
        )

    @classmethod
    def merge(cls, parts: Sequence[tuple["Postings", np.ndarray]]) -> "Postings":
        """The kept rows (bool mask per part) of several postings, renumbered in order: for compaction.

        The same as building from the kept rows' token lists, without tokenizing again; terms left
        without postings are dropped.
        """
        terms: dict[str, int] = {}
        columns, rows, freqs, lengths = [], [], [], []
        n_rows = 0
        for postings, keep in parts:
            keep = np.asarray(keep, dtype=bool)
            if len(keep) != len(postings):
                raise ValueError(f"{len(keep)} keep flags for {len(postings)} rows")
            new_rows = np.cumsum(keep, dtype=np.int64) - 1 + n_rows
            names = postings._names()
            global_columns = np.fromiter(
                (terms.setdefault(term, len(terms)) for term in names), dtype=np.int64, count=len(names)
            )
            kept = keep[postings.rows]
            posting_columns = np.repeat(global_columns, np.diff(postings.indptr))
            columns.append(posting_columns[kept])
            rows.append(new_rows[postings.rows[kept]])
            freqs.append(postings.freqs[kept])
            lengths.append(postings.lengths[keep])
            n_rows += int(keep.sum())
        if not parts:
            return cls.build([])
        all_rows = np.concatenate(rows)
        counts = np.bincount(np.concatenate(columns), minlength=len(terms))
        names = [""] * len(terms)
        for term, column in terms.items():
            names[column] = term
        used = np.flatnonzero(counts > 0)
        used_terms, renumbered = _in_term_order([names[column] for column in used])
        new_column = np.full(len(terms), -1, dtype=np.int64)
        new_column[used] = renumbered
        all_columns = new_column[np.concatenate(columns)]
        order = np.argsort(all_columns, kind="stable")  # rows ascend within a part, parts in order
        indptr = np.zeros(len(used) + 1, dtype=np.int64)
        np.cumsum(np.bincount(all_columns, minlength=len(used)), out=indptr[1:])
        return cls(
            terms=used_terms,
            indptr=indptr,
            rows=all_rows[order].astype(np.int32),
            freqs=np.concatenate(freqs)[order],
            lengths=np.concatenate(lengths).astype(np.int32),
        )

    def reordered(self, order: np.ndarray) -> "Postings":
        """The same postings with rows renumbered so that new row i is old row order[i] (a permutation)."""
        new_row = np.empty(len(order), dtype=np.int32)
        new_row[order] = np.arange(len(order), dtype=np.int32)
        return replace(self, rows=new_row[self.rows], lengths=self.lengths[order])

    def _names(self) -> list[str]:
        """Terms in column order."""
        names = [""] * len(self.terms)
        for term, column in self.terms.items():
            names[column] = term
        return names

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays to store in a segment; "lex_" keeps them apart from the vectors' arrays.

        Terms are one array of UTF-8 bytes end to end plus where each starts (`Terms`), because an
        array of Python strings would need pickle and could not be mapped.
        """
        encoded = [name.encode() for name in self._names()]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(term) for term in encoded], out=offsets[1:])
        return {
            "lex_format": np.array(FORMAT, dtype=np.int32),
            "lex_terms": np.frombuffer(b"".join(encoded), dtype=np.uint8),
            "lex_term_offsets": offsets,
            "lex_indptr": self.indptr,
            "lex_rows": self.rows,
            "lex_freqs": self.freqs,
            "lex_lengths": self.lengths,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "Postings":
        """The inverse of `to_arrays`, e.g. from an np.load NpzFile or mapped .npy files, without
        copying them; checks only what is cheap to check.

        Raises ValueError for another format (rebuild the segment) or inconsistent arrays.
        """
        found = int(arrays["lex_format"]) if "lex_format" in arrays else None
        if found != FORMAT:
            raise ValueError(f"lexical postings format {found}, expected {FORMAT}")
        offsets = np.asarray(arrays["lex_term_offsets"], dtype=np.int64)
        postings = cls(
            terms=Terms(np.asarray(arrays["lex_terms"], dtype=np.uint8), offsets),
            indptr=np.asarray(arrays["lex_indptr"], dtype=np.int64),
            rows=np.asarray(arrays["lex_rows"], dtype=np.int32),
            freqs=np.asarray(arrays["lex_freqs"], dtype=np.float32),
            lengths=np.asarray(arrays["lex_lengths"], dtype=np.int32),
        )
        nnz = len(postings.rows)
        if (
            len(offsets) < 1
            or offsets[-1] != len(arrays["lex_terms"])
            or len(postings.indptr) != len(offsets)
            or postings.indptr[0] != 0
            or postings.indptr[-1] != nnz
            or len(postings.freqs) != nnz
        ):
            raise ValueError("inconsistent lexical postings arrays")
        return postings

    def __len__(self) -> int:
        return len(self.lengths)

    @cached_property
    def total_tokens(self) -> int:
        """Summed once per loaded segment: every search needs it for the global average length."""
        return int(self.lengths.sum(dtype=np.int64))

    def document_frequency(self, term: str) -> int:
        column = self.terms.get(term)
        return 0 if column is None else int(self.indptr[column + 1] - self.indptr[column])


@dataclass(frozen=True, eq=False)
class Segment:
    """A segment as searched: its postings, the chunk id of each row, and which rows are deleted."""

    postings: Postings
    ids: np.ndarray  # int64 chunk id per row
    dead: np.ndarray | None  # bool per row, True = deleted (tombstoned); None = none dead
    ids_sorted: bool = False  # rows in chunk id order, as the segment index stores them

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.postings) or (self.dead is not None and len(self.dead) != len(self.ids)):
            raise ValueError("a segment's ids, dead flags and postings rows must have the same length")
        if self.dead is not None and self.dead.dtype != np.bool_:
            raise ValueError("dead flags must be a bool array (a mask, not row numbers)")

    @cached_property
    def sorted_order(self) -> np.ndarray | None:
        """Rows in chunk id order, to find the rows of given ids (None when that is every row in order)."""
        return None if self.ids_sorted else np.argsort(self.ids, kind="stable")


@dataclass(frozen=True)
class Query:
    """A question's terms, and optionally earlier turns' terms that count for less (follow-ups).

    Each earlier part's terms are scaled so that their summed idf is `weight` times the question's:
    a long earlier answer cannot outweigh a short question by the number of its words.
    """

    parts: tuple[tuple[tuple[str, ...], float], ...]

    @classmethod
    def of(cls, text: str, *, context: Sequence[tuple[str, float]] = ()) -> "Query":
        return cls(
            tuple((tuple(dict.fromkeys(tokenize(part))), weight) for part, weight in [(text, 1.0), *context])
        )


def _weights(segments: Sequence[Segment], query: Query | str) -> tuple[dict[str, float], float]:
    """Each term's idf times its weight (terms in no segment left out), and the question's summed idf.

    N, avgdl and df are summed over the segments given (dead rows included), so pass every segment
    of the index, or scores change.
    """
    query = Query.of(query) if isinstance(query, str) else query
    n_docs = sum(len(segment.postings) for segment in segments)
    weights: dict[str, float] = {}
    question_mass = 0.0
    for position, (terms, weight) in enumerate(query.parts):
        idf = {}
        for term in terms:
            df = sum(segment.postings.document_frequency(term) for segment in segments)
            if df:
                idf[term] = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
        mass = sum(idf.values())
        if position == 0:
            question_mass, scale = mass, 1.0
        else:
            scale = weight * question_mass / mass if mass else 0.0
        for term, value in idf.items():
            weights[term] = weights.get(term, 0.0) + value * scale
    return {term: w for term, w in weights.items() if w > 0}, question_mass


def ceiling(segments: Sequence[Segment], query: Query | str) -> float:
    """The score no chunk reaches: every term's weight in full (as with a term repeated endlessly).

    A score divided by it is the share of the question's weighted terms a chunk matches, in [0, 1).
    """
    return sum(_weights(segments, query)[0].values())


def _segment_scores(segment: Segment, weights: dict[str, float], avgdl: float) -> np.ndarray | None:
    """BM25 of every row of the segment (None when no term occurs in it).

    Scores are accumulated in one float32 array (a column's rows are unique, so adding at them adds
    each posting once).
    """
    postings = segment.postings
    found = [(postings.terms.get(term), weight) for term, weight in weights.items()]
    columns = [(column, weight) for column, weight in found if column is not None]
    if not columns:
        return None
    base = np.float32(K1 * (1 - B))
    per_length = np.float32(K1 * B / avgdl)
    scores = np.zeros(len(postings), dtype=np.float32)
    for column, weight in columns:
        start, end = postings.indptr[column], postings.indptr[column + 1]
        rows = postings.rows[start:end].astype(np.intp)  # numpy would convert int32 at each indexing
        tf = postings.freqs[start:end]
        # In place: weight * tf / (tf + k1 * (1 - b) + k1 * b / avgdl * dl)
        # float32, so that scoring stays in float32 (int32 with float32 would give float64)
        term_scores = postings.lengths.take(rows).astype(np.float32)
        term_scores *= per_length
        term_scores += base
        term_scores += tf
        np.divide(tf, term_scores, out=term_scores)
        term_scores *= np.float32(weight)
        np.add.at(scores, rows, term_scores)  # faster than scores[rows] += in numpy 2
    return scores


def _prepared(segments: Sequence[Segment], query: Query | str) -> tuple[dict[str, float], float] | None:
    n_docs = sum(len(segment.postings) for segment in segments)
    if n_docs == 0:
        return None
    weights = _weights(segments, query)[0]
    if not weights:
        return None
    return weights, sum(segment.postings.total_tokens for segment in segments) / n_docs


def search(segments: Sequence[Segment], query: Query | str, *, k: int) -> list[tuple[int, float]]:
    """Up to k (chunk id, BM25 score), best first; only positive scores, never dead rows.

    Each distinct query term counts once.
    """
    prepared = _prepared(segments, query)
    if prepared is None or k <= 0:
        return []
    top_ids, top_scores = [], []
    for segment in segments:
        scores = _segment_scores(segment, *prepared)
        if scores is None:
            continue
        best = _best_rows(scores, segment.dead, k)
        top_ids.append(segment.ids[best])
        top_scores.append(scores[best])
    if not top_ids:
        return []
    ids, scores = np.concatenate(top_ids), np.concatenate(top_scores)
    best = np.lexsort((ids, -scores))[:k]  # ties by chunk id, so results are stable
    return [(int(ids[i]), float(scores[i])) for i in best]


def scores(segments: Sequence[Segment], query: Query | str, ids: Sequence[int]) -> np.ndarray:
    """BM25 of the given chunks (0 for those not in any live row), in the order given."""
    result = np.zeros(len(ids), dtype=np.float32)
    prepared = _prepared(segments, query)
    if prepared is None or not len(ids):
        return result
    wanted = np.asarray(ids, dtype=np.int64)
    for segment in segments:
        rows = _rows_of(segment, wanted)
        if not (rows >= 0).any():
            continue
        segment_scores = _segment_scores(segment, *prepared)
        if segment_scores is not None:
            found = rows >= 0
            result[found] = segment_scores[rows[found]]
    return result


def _rows_of(segment: Segment, ids: np.ndarray) -> np.ndarray:
    """The live row holding each id, or -1."""
    if not len(segment.ids):
        return np.full(len(ids), -1)
    order = segment.sorted_order
    positions = np.searchsorted(segment.ids, ids, sorter=order).clip(max=len(segment.ids) - 1)
    rows = positions if order is None else order[positions]
    found = segment.ids[rows] == ids
    if segment.dead is not None:
        found &= ~segment.dead[rows]
    return np.where(found, rows, -1)


_SAMPLE = 32768


def _best_rows(scores: np.ndarray, dead: np.ndarray | None, k: int) -> np.ndarray:
    """Rows of the k best positive scores of live rows, in no order, without a pass over the dead flags.

    The k-th best score of a sample of live rows cannot beat the k-th best of all live rows, so only
    rows scoring at least that much (a few times k) are candidates for the exact selection.
    """
    stride = max(1, len(scores) // _SAMPLE)
    sample = scores[::stride]
    if dead is not None:
        sample = np.where(dead[::stride], np.float32(0), sample)
    # Most rows score 0, and numpy partitions an array of mostly equal values far more slowly.
    sample = sample[sample > 0]
    threshold = np.partition(sample, len(sample) - k)[len(sample) - k] if len(sample) > k else 0
    found = np.flatnonzero(scores >= threshold if threshold > 0 else scores > 0)
    if dead is not None:
        found = found[~dead[found]]
    if len(found) > k:
        found = found[np.argpartition(-scores[found], k - 1)[:k]]
    return found
