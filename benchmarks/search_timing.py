"""Searches timed for benchmarks/search_latency.py: what `retrieval.search` does per knowledge base
once the question is embedded, per mode and per step, and the recall of the approximate dense
search against exact search for several numbers of probed lists."""

import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from search_build import ExactTop
from search_corpus import KB_ID, Batch

DENSE_WEIGHT = 0.9  # the default model's skill in English; Chinese questions get 0 (timing is alike)


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
        found = [chunk_id for chunk_id, _score in index.search_dense(KB_ID, vector, k=depth)]
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
            approximate = warm(questions).approximate
            nprobe = approximate.parameters.nprobe if approximate else None
            rows.append(
                {
                    "nprobe": nprobe,
                    **recall(questions, exact),
                    "dense_ms": timed_searches(questions, "dense")["total"],
                    "hybrid_ms": timed_searches(questions, "hybrid")["total"],
                }
            )
    return rows


def warm(questions: Batch):
    """One untimed search: loads the index and the lazily computed arrays and jieba's dictionary."""
    from knowledge import index

    timed_searches(questions.select([0, *np.flatnonzero(questions.chinese)[:1].tolist()]), "hybrid")
    return index._cache[KB_ID]
