"""What loading the index of benchmarks/search_latency.py costs in time and memory, measured in a
fresh process, and the index's size on disk."""

import gc
import os
import time
from pathlib import Path

import numpy as np
from process_stats import status
from search_build import Stopwatch, setup_django
from search_corpus import KB_ID, Batch
from search_timing import timed_searches


def _rss_mb() -> float:
    return status(os.getpid())["VmRSS"] / 1024


def measure_load(vector: np.ndarray, text: str) -> dict:
    """In a fresh process: the time and memory of loading the index, and the first questions after."""
    setup_django()
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


def folder_mb(folder: Path) -> float:
    return round(sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20)
