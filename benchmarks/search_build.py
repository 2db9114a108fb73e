"""The index of benchmarks/search_latency.py, built through the real code a segment at a time, with
the exact top chunks of each question kept while the chunks stream past; a stopwatch for the index's
own steps, and Django set up for it (here and in the fresh process that measures loading)."""

import inspect
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from search_corpus import KB_ID, Corpus

ROOT = Path(__file__).resolve().parents[1]


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


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


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
