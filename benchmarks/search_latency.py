"""Search latency, approximate recall and memory of one knowledge base of a million chunks.

Builds the index of a synthetic knowledge base through the real code (`index.update`, one segment of
--segment chunks at a time, so it crosses INDEX_APPROXIMATE_FROM and compaction trains FAISS IVF as
in production), then times what `retrieval.search` does per knowledge base once the question is
embedded (`retrieval._search_one`: dense, lexical and fusion), measures the recall of the approximate
dense search against exact search for several numbers of probed lists, and, in a fresh process,
what loading the index costs in time and memory. No database rows are written.

The data are synthetic, drawn with numpy from a fixed seed:
- vectors of the default model's dimension in an anisotropic space with a common mean direction:
  200 topics, 5,000 subtopics of Zipf-distributed sizes, each chunk a blend of its own subtopic
  (a fifth) and two others, so that the data form a continuum as text does rather than clean
  clusters (clusters alone make IVF far too easy at scale: recall 1.0 probing 8 of 1,000 lists).
  The constants below were chosen against 45,000 SciFact sentences embedded by all-MiniLM-L6-v2:
  with 209 lists (44,000 vectors) probing 1/32, 1/16, 1/8 and 1/4 of them finds 0.84/0.90/0.94/
  0.97 of the exact top 10 (real: 0.82/0.90/0.96/0.98) and the 10th neighbour has cosine 0.56
  (0.55); real and synthetic recall improve alike from 8,000 to 44,000 vectors. Random pairs:
  0.18 +- 0.10 (real 0.12 +- 0.12);
- texts of 40-60 words from a Zipf-distributed vocabulary of 50,000 made-up words with English
  stop words and question words at the ranks they have in English, a fifth of each text from its
  topic's own words; one chunk in ten is Chinese (words from jieba's dictionary, some English);
- questions near the chunks' subtopics, of 3-8 mostly rarer words after a question opening.

    .venv/bin/python benchmarks/search_latency.py [--chunks N] [--queries N] [--segment N] [--json]
"""

import argparse
import gc
import inspect
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
KB_ID = 1
DIMENSION = 384  # all-MiniLM-L6-v2, the default model
DENSE_WEIGHT = 0.9  # the default model's skill in English; Chinese questions get 0 (timing is alike)

# Vectors: topic + subtopic + chunk offsets, drawn with variances falling as rank^-SPECTRUM; MIXED
# of a chunk's subtopic weight goes to MIXED_WITH other subtopics (Dirichlet shares).
TOPICS, SUBTOPICS = 200, 5000
SPECTRUM, MEAN, SUBTOPIC_SPREAD, CHUNK_SPREAD, ISOTROPIC = 0.8, 0.6, 1.0, 0.8, 0.3
MIXED, MIXED_WITH = 0.8, 2
# Texts
VOCABULARY, TOPIC_WORDS, CHINESE_WORDS, CHINESE_TOPIC_WORDS = 50_000, 300, 5000, 60
TOPIC_SHARE, CHINESE_SHARE = 0.2, 0.1
STOP_WORDS = "the of and to in a is that for it as with was on by are be this from or at an which not we"
# Not stop words for the tokenizer, so a question's "what" or "how" is searched: placed at their
# English frequency ranks.
QUESTION_WORDS = {"what": 50, "who": 60, "when": 70, "how": 80, "where": 150, "does": 200, "why": 300}
OPENINGS = ("what is", "what are the", "how does", "how do", "why does", "when was", "where is", "who")


def _zipf_cdf(count: int, offset: float = 2.7) -> np.ndarray:
    weights = 1 / (np.arange(count) + 1 + offset)
    return np.cumsum(weights) / weights.sum()


def _draw(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(size)), len(cdf) - 1)


def _made_up_words(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    onsets = [*"bcdfghjklmnprstvz", "br", "ch", "cl", "dr", "fr", "gr", "kr", "pl", "pr", "sh", "st", "tr"]
    vowels = [*"aeiou", "ai", "ea", "io", "ou"]
    codas = ["", "", "", "n", "r", "s", "l", "m", "k", "x"]
    words: dict[str, None] = {}
    while len(words) < count:
        syllables = rng.integers(2, 5)
        pieces = [
            onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))] for _ in range(syllables)
        ]
        word = "".join(pieces) + codas[rng.integers(len(codas))]
        if word not in taken:
            words[word] = None
    return list(words)


def _chinese_words(count: int) -> list[str]:
    """The most frequent two-character words of jieba's dictionary, so that jieba segments as in real text."""
    import jieba

    jieba.dt.check_initialized()
    pairs = [
        (-frequency, word)
        for word, frequency in jieba.dt.FREQ.items()
        if len(word) == 2 and frequency > 0 and all("\u4e00" <= c <= "\u9fff" for c in word)
    ]
    return [word for _frequency, word in sorted(pairs)[:count]]


@dataclass
class Batch:
    ids: np.ndarray
    vectors: np.ndarray
    texts: list[str]
    chinese: np.ndarray

    def select(self, positions: list[int]) -> "Batch":
        return Batch(
            self.ids[positions],
            self.vectors[positions],
            [self.texts[p] for p in positions],
            self.chinese[positions],
        )


class Corpus:
    """The synthetic knowledge base: the same seed gives the same chunks and questions."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = np.random.default_rng([seed, 0])
        self.rotation = np.linalg.qr(rng.standard_normal((DIMENSION, DIMENSION)))[0].astype(np.float32)
        scales = np.arange(1, DIMENSION + 1) ** (-SPECTRUM / 2)
        self.scales = (scales / np.sqrt((scales**2).sum())).astype(np.float32)
        mean = rng.standard_normal(DIMENSION)
        self.mean = (MEAN * mean / np.linalg.norm(mean)).astype(np.float32)
        topics = self._anisotropic(rng, TOPICS)
        self.subtopic_topic = rng.integers(0, TOPICS, SUBTOPICS)
        self.subtopics = topics[self.subtopic_topic] + SUBTOPIC_SPREAD * self._anisotropic(rng, SUBTOPICS)
        sizes = rng.permutation(1 / (np.arange(SUBTOPICS) + 10) ** 0.8)
        self.subtopic_cdf = np.cumsum(sizes) / sizes.sum()

        stop = STOP_WORDS.split()
        taken = set(stop) | set(QUESTION_WORDS)
        latin = stop + _made_up_words(rng, VOCABULARY - len(taken), taken)
        for word, rank in sorted(QUESTION_WORDS.items(), key=lambda item: item[1]):
            latin.insert(rank, word)
        self.words = latin + _chinese_words(CHINESE_WORDS)
        self.latin_cdf = _zipf_cdf(VOCABULARY)
        self.chinese_cdf = _zipf_cdf(CHINESE_WORDS)
        self.topic_cdf = _zipf_cdf(TOPIC_WORDS, offset=0)
        self.chinese_topic_cdf = _zipf_cdf(CHINESE_TOPIC_WORDS, offset=0)
        self.topic_words = rng.integers(1000, VOCABULARY, (TOPICS, TOPIC_WORDS))
        self.chinese_topic_words = VOCABULARY + rng.integers(
            200, CHINESE_WORDS, (TOPICS, CHINESE_TOPIC_WORDS)
        )

    def _anisotropic(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return (rng.standard_normal((count, DIMENSION), dtype=np.float32) * self.scales) @ self.rotation

    def _vectors(self, rng: np.random.Generator, subtopics: np.ndarray) -> np.ndarray:
        count = len(subtopics)
        shares = MIXED * rng.dirichlet(np.ones(MIXED_WITH), count).astype(np.float32)
        vectors = (1 - MIXED) * self.subtopics[subtopics]
        for column in range(MIXED_WITH):
            vectors += shares[:, column, None] * self.subtopics[_draw(rng, self.subtopic_cdf, count)]
        vectors += CHUNK_SPREAD * self._anisotropic(rng, count)
        vectors += self.mean
        vectors += ISOTROPIC / np.sqrt(DIMENSION) * rng.standard_normal(vectors.shape, dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    def _words(
        self, rng: np.random.Generator, topics: np.ndarray, chinese: np.ndarray, topic_share: float
    ) -> np.ndarray:
        """A word id per entry of `topics` (one per word to draw), Chinese where `chinese` says."""
        count = len(topics)
        from_topic = rng.random(count) < topic_share
        latin_topic = self.topic_words[topics, _draw(rng, self.topic_cdf, count)]
        latin = np.where(from_topic, latin_topic, _draw(rng, self.latin_cdf, count))
        han_topic = self.chinese_topic_words[topics, _draw(rng, self.chinese_topic_cdf, count)]
        han = np.where(from_topic, han_topic, VOCABULARY + _draw(rng, self.chinese_cdf, count))
        return np.where(chinese, han, latin)

    def _chinese_text(self, words: list[str]) -> str:
        """Chinese words run together, English ones set apart by spaces, a comma every eighth word."""
        parts = [word if word >= "\u3400" else f" {word} " for word in words]
        for position in range(7, len(parts), 8):
            parts[position] += "，"
        return "".join(parts) + "。"

    def chunks(self, number: int, first_id: int, count: int) -> Batch:
        rng = np.random.default_rng([self.seed, 1, number])
        subtopics = _draw(rng, self.subtopic_cdf, count)
        chinese = rng.random(count) < CHINESE_SHARE
        lengths = rng.integers(40, 61, count)
        owners = np.repeat(np.arange(count), lengths)
        # In a Chinese chunk one word in ten is English, as with names of models and products.
        han = chinese[owners] & (rng.random(len(owners)) < 0.9)
        words = self._words(rng, self.subtopic_topic[subtopics][owners], han, TOPIC_SHARE)
        names = [self.words[i] for i in words.tolist()]
        ends = np.cumsum(lengths).tolist()
        texts = [
            self._chinese_text(names[start:end]) if is_chinese else " ".join(names[start:end])
            for start, end, is_chinese in zip([0, *ends], ends, chinese.tolist(), strict=False)
        ]
        ids = np.arange(first_id, first_id + count, dtype=np.int64)
        return Batch(ids, self._vectors(rng, subtopics), texts, chinese)

    def questions(self, count: int) -> Batch:
        """Questions drawn like chunks (so where the chunks are), of mostly rarer words."""
        rng = np.random.default_rng([self.seed, 2])
        subtopics = _draw(rng, self.subtopic_cdf, count)
        chinese = rng.random(count) < CHINESE_SHARE
        texts = []
        for subtopic, is_chinese in zip(subtopics.tolist(), chinese.tolist(), strict=True):
            length = int(rng.integers(2, 5) if is_chinese else rng.integers(3, 9))
            topics = np.full(length * 4, self.subtopic_topic[subtopic])
            words = self._words(rng, topics, np.full(len(topics), is_chinese), 0.5)
            rare = [self.words[i] for i in words.tolist() if is_chinese or i >= 300][:length]
            if is_chinese:
                texts.append("".join(rare))
            else:
                texts.append(" ".join([OPENINGS[rng.integers(len(OPENINGS))], *rare]) + "?")
        ids = np.zeros(count, dtype=np.int64)
        return Batch(ids, self._vectors(rng, subtopics), texts, chinese)


class ExactTop:
    """The exact top k chunks of each question, kept while the chunks stream past."""

    def __init__(self, questions: np.ndarray, k: int) -> None:
        self.questions, self.k = questions, k
        self.ids = np.zeros((len(questions), 0), dtype=np.int64)
        self.scores = np.zeros((len(questions), 0), dtype=np.float32)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        scores = np.concatenate([self.scores, self.questions @ vectors.T], axis=1)
        all_ids = np.concatenate([self.ids, np.broadcast_to(ids, (len(self.questions), len(ids)))], axis=1)
        best = np.argpartition(-scores, self.k - 1, axis=1)[:, : self.k]
        self.scores = np.take_along_axis(scores, best, axis=1)
        self.ids = np.take_along_axis(all_ids, best, axis=1)

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and scores of each question's k best chunks, best first."""
        order = np.argsort(-self.scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(self.ids, order, axis=1), np.take_along_axis(self.scores, order, axis=1)


class Stopwatch:
    """Seconds spent in chosen functions, which stay wrapped until `restore`."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._wrapped: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started

        self._wrapped.append((owner, name, inspect.getattr_static(owner, name)))
        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, original in reversed(self._wrapped):
            setattr(owner, name, original)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build(corpus: Corpus, exact: ExactTop, chunks: int, segment: int) -> dict:
    """The index, built a segment at a time, and what the building took."""
    from knowledge import index, lexical

    stopwatch = Stopwatch()
    for owner, name, label in [
        (index, "_new_segment", "tokenize"),
        (lexical.Postings, "build", "postings"),
        (index, "_write_segment", "write"),
        (index, "_merged", "merge"),
        (index, "_write_approximate", "ivf"),
    ]:
        stopwatch.wrap(owner, name, label)
    generate_s = update_s = slowest_update_s = 0.0
    compactions = []
    try:
        for number, first in enumerate(range(1, chunks + 1, segment)):
            started = time.perf_counter()
            batch = corpus.chunks(number, first, min(segment, chunks + 1 - first))
            exact.add(batch.ids, batch.vectors)
            generate_s += time.perf_counter() - started
            started = time.perf_counter()
            index.update(KB_ID, add_ids=batch.ids, add_vectors=batch.vectors, add_texts=batch.texts)
            took = time.perf_counter() - started
            update_s += took
            slowest_update_s = max(slowest_update_s, took)
            manifest = index._manifest(KB_ID, index.current_version(KB_ID))
            if len(manifest.segments) == 1:
                lists = index._list_count(manifest.counts[0]) if manifest.approximate else 0
                compactions.append({"at": int(batch.ids[-1]), "ivf_lists": lists, "update_s": round(took, 1)})
            progress = f"{batch.ids[-1]:>12,} chunks {len(manifest.segments):>3} segments {took:6.1f} s"
            print(progress, file=sys.stderr, flush=True)
    finally:
        stopwatch.restore()
    seconds = stopwatch.seconds
    steps = {
        "tokenize_s": seconds["tokenize"] - seconds["postings"],
        "postings_s": seconds["postings"],
        "write_segments_s": seconds["write"],
        "compaction_merge_s": seconds["merge"],
        "ivf_train_add_write_s": seconds["ivf"],
    }
    steps["other_s"] = update_s - sum(steps.values())
    figures = {
        "generate_and_exact_s": generate_s,
        "update_s": update_s,
        **steps,
        "slowest_update_s": slowest_update_s,
        "segments": len(manifest.segments),
        "compactions": compactions,
    }
    rounded = {key: round(value, 1) if isinstance(value, float) else value for key, value in figures.items()}
    return rounded


def _summary(values: list[float]) -> dict:
    array = np.asarray(values)
    return {
        "p50": round(float(np.percentile(array, 50)), 2),
        "p95": round(float(np.percentile(array, 95)), 2),
        "max": round(float(array.max()), 2),
    }


def _search_once(kb, mode: str, vector: np.ndarray, text: str, weight: float) -> tuple[float, dict]:
    """One knowledge base searched as `retrieval.search` does it: ms in all, and ms per step."""
    from knowledge import lexical, retrieval

    timings: dict[str, float] = {}

    def timed(step: str, work: Callable):
        started = time.perf_counter()
        result = work()
        timings[step] = timings.get(step, 0.0) + (time.perf_counter() - started) * 1000
        return result

    started = time.perf_counter()
    terms = timed("terms", lambda: lexical.Query.of(text))
    retrieval._search_one(
        kb,
        mode=mode,
        vector=vector,
        terms=terms,
        depth=retrieval.CANDIDATES,
        dense_weight=weight,
        timed=timed,
    )
    return (time.perf_counter() - started) * 1000, timings


def timed_searches(questions: Batch, mode: str) -> dict:
    """Each question searched in this mode, minus embedding it and fetching the passages' rows."""
    from knowledge.models import KnowledgeBase

    kb = KnowledgeBase(id=KB_ID, name="Benchmark", slug="benchmark")
    totals: list[float] = []
    steps: defaultdict[str, list[float]] = defaultdict(list)
    for vector, text, chinese in zip(questions.vectors, questions.texts, questions.chinese, strict=True):
        total, timings = _search_once(kb, mode, vector, text, 0.0 if chinese else DENSE_WEIGHT)
        totals.append(total)
        for step, ms in timings.items():
            steps[step].append(ms)
    return {"total": _summary(totals), **{step: _summary(values) for step, values in steps.items()}}


def recall(questions: Batch, exact: ExactTop) -> dict:
    from knowledge import index, retrieval

    depth = retrieval.CANDIDATES
    truth, cosines = exact.top(depth)
    at_10, at_depth = [], []
    for vector, expected in zip(questions.vectors, truth, strict=True):
        found = [chunk_id for chunk_id, _score in index.search(KB_ID, vector, k=depth)]
        at_10.append(len(set(found[:10]) & set(expected[:10].tolist())) / 10)
        at_depth.append(len(set(found) & set(expected.tolist())) / depth)
    return {
        "recall_at_10": round(float(np.mean(at_10)), 4),
        "worst_at_10": round(float(np.min(at_10)), 2),
        f"recall_at_{depth}": round(float(np.mean(at_depth)), 4),
        "exact_cosine_1st_10th_50th": [
            round(float(c), 3) for c in cosines[:, [0, 9, depth - 1]].mean(axis=0)
        ],
    }


def probe_table(questions: Batch, exact: ExactTop, probes: list[int]) -> list[dict]:
    """Recall and latency per number of probed lists, each with the index loaded afresh."""
    from django.test import override_settings

    from knowledge import index

    rows = []
    for count in probes:
        with override_settings(INDEX_APPROXIMATE_PROBES=count):
            index._cache.pop(KB_ID, None)
            nprobe = getattr(_warm(questions).vectors, "nprobe", None)
            rows.append(
                {
                    "nprobe": nprobe,
                    **recall(questions, exact),
                    "dense_ms": timed_searches(questions, "dense")["total"],
                    "hybrid_ms": timed_searches(questions, "hybrid")["total"],
                }
            )
    return rows


def _warm(questions: Batch):
    """One untimed search: loads the index and the lazily computed arrays and jieba's dictionary."""
    from knowledge import index

    timed_searches(questions.select([0, *np.flatnonzero(questions.chinese)[:1].tolist()]), "hybrid")
    return index._cache[KB_ID]


def measure_load(vector: np.ndarray, text: str) -> dict:
    """In a fresh process: the time and memory of loading the index, and the first questions after."""
    _setup_django()
    import faiss

    from knowledge import index, lexical

    stopwatch = Stopwatch()
    stopwatch.wrap(faiss, "read_index", "read_ivf_s")
    stopwatch.wrap(index, "_read_segment", "read_segments_s")
    stopwatch.wrap(index, "_add", "add_segments_to_vectors_s")
    gc.collect()
    before = _rss_mb()
    started = time.perf_counter()
    with index._kb_lock(KB_ID):
        loaded = index._load(KB_ID)
    load_s = time.perf_counter() - started
    stopwatch.restore()
    parts = {label: round(seconds, 2) for label, seconds in stopwatch.seconds.items()}
    parts["other_s"] = round(load_s - sum(stopwatch.seconds.values()), 2)  # mostly the IVF's id hash map
    loaded_mb = _rss_mb()
    question = Batch(np.zeros(1, dtype=np.int64), vector[None, :], [text], np.zeros(1, dtype=bool))
    first = timed_searches(question, "hybrid")["total"]["max"]
    second = timed_searches(question, "hybrid")["total"]["max"]
    searched_mb = _rss_mb()
    lexical.tokenize("混合专家模型")
    jieba_mb = _rss_mb() - searched_mb

    vectors_mb = 0.0
    if loaded.approximate:
        ivf = faiss.extract_index_ivf(loaded.vectors)
        stored = sum(ivf.invlists.list_size(i) for i in range(ivf.nlist))
        vectors_mb = stored * (ivf.code_size + 8) / 2**20
    elif loaded.vectors is not None:
        vectors_mb = loaded.size * (loaded.vectors.d * 4 + 8) / 2**20
    arrays = ("indptr", "rows", "freqs", "lengths")
    postings_mb = sum(getattr(s.postings, name).nbytes for s in loaded.lexical for name in arrays) / 2**20
    ids_mb = sum(
        s.ids.nbytes + s.sorted_order.nbytes + s.postings._float_lengths.nbytes for s in loaded.lexical
    )
    ids_mb /= 2**20
    return {
        "load_s": round(load_s, 2),
        **parts,
        "first_hybrid_ms": round(first, 1),
        "second_hybrid_ms": round(second, 1),
        "rss_before_mb": round(before),
        "rss_loaded_mb": round(loaded_mb),
        "rss_after_first_search_mb": round(searched_mb),
        "index_mb": round(searched_mb - before),
        "vectors_and_ids_mb": round(vectors_mb),
        "postings_arrays_mb": round(postings_mb),
        "lexical_ids_order_lengths_mb": round(ids_mb),
        "terms": sum(len(s.postings.terms) for s in loaded.lexical),
        "other_mb": round(searched_mb - before - vectors_mb - postings_mb - ids_mb),
        "jieba_dictionary_mb": round(jieba_mb),
        "faiss_threads": faiss.omp_get_max_threads(),
    }


def _folder_mb(folder: Path) -> float:
    return round(sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20)


def _print_report(result: dict) -> None:
    def section(title: str, values: dict) -> None:
        print(f"\n{title}")
        for key, value in values.items():
            print(f"  {key:>30}: {value}")

    section("Machine", result["machine"])
    section("Knowledge base", result["knowledge_base"])
    section("Build", {k: v for k, v in result["build"].items() if k != "compactions"})
    for compaction in result["build"]["compactions"]:
        print(f"  {'compacted':>30}: {compaction}")
    for mode in ("hybrid", "dense", "lexical"):
        section(f"{mode.capitalize()} search, ms per question (default nprobe)", result["latency_ms"][mode])
    section("Approximate dense search against exact (default nprobe)", result["recall"])
    section("Memory and loading, in a fresh process", result["memory"])
    print("\nProbed lists: recall and latency (ms)")
    columns = [
        "nprobe",
        "recall@10",
        "worst@10",
        "recall@50",
        "dense_p50",
        "dense_p95",
        "hybrid_p50",
        "hybrid_p95",
    ]
    print("  " + " ".join(f"{column:>10}" for column in columns))
    for row in result["probes"]:
        cells = (
            row["nprobe"],
            row["recall_at_10"],
            row["worst_at_10"],
            row["recall_at_50"],
            row["dense_ms"]["p50"],
            row["dense_ms"]["p95"],
            row["hybrid_ms"]["p50"],
            row["hybrid_ms"]["p95"],
        )
        print("  " + " ".join(f"{cell!s:>10}" for cell in cells))
    start, end = result["machine"]["load_average"], result["load_average_end"]
    print(f"\nTotal {result['total_s']} s; load average {start} at the start, {end} at the end.")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--segment", type=int, default=50_000, help="chunks per index.update call")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--probes", default="16,32,64,96,128,192,256", help="nprobe values to compare with the default"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()

    started = time.perf_counter()
    data_dir = Path(tempfile.mkdtemp(prefix="kbchat-bench-search-"))
    os.environ["DATA_DIR"] = str(data_dir)
    _setup_django()
    from django.conf import settings

    from knowledge import index, retrieval

    try:
        import faiss

        machine = describe(faiss=faiss.__version__, numpy=np.__version__)
        corpus = Corpus(args.seed)
        questions = corpus.questions(args.queries)
        exact = ExactTop(questions.vectors, retrieval.CANDIDATES)
        built = build(corpus, exact, args.chunks, args.segment)
        del corpus
        gc.collect()
        build_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        position = int(np.flatnonzero(~questions.chinese)[0])
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            memory = pool.apply(measure_load, (questions.vectors[position], questions.texts[position]))
        memory["per_million_chunks_mb"] = round(memory["index_mb"] * 1_000_000 / args.chunks)
        memory["disk_mb"] = _folder_mb(Path(settings.INDEX_DIR) / f"kb-{KB_ID}")
        memory["build_peak_rss_mb"] = round(build_peak_mb)

        vectors = _warm(questions).vectors
        latency = {mode: timed_searches(questions, mode) for mode in ("hybrid", "dense", "lexical")}
        default_recall = recall(questions, exact)
        lists = getattr(vectors, "nlist", None)
        result = {
            "machine": machine,
            "knowledge_base": {
                "chunks": args.chunks,
                "questions": args.queries,
                "chinese_questions": int(questions.chinese.sum()),
                "segment": args.segment,
                "approximate_from": settings.INDEX_APPROXIMATE_FROM,
                "ivf_lists": lists,
                "default_nprobe": getattr(vectors, "nprobe", None),
                "lexical_segments": len(index._cache[KB_ID].lexical),
                "candidates": retrieval.CANDIDATES,
                "example_question": questions.texts[position],
            },
            "build": built,
            "latency_ms": latency,
            "recall": default_recall,
            "memory": memory,
        }
        del vectors
        if lists:
            probes = sorted({*map(int, args.probes.split(",")), index.probes(lists)})
            result["probes"] = probe_table(questions, exact, probes)
        else:
            result["probes"] = []
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    result["total_s"] = round(time.perf_counter() - started)
    result["load_average_end"] = os.getloadavg()[0]
    result["data_dir"] = str(data_dir) if args.keep else None
    _print_report(result)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
