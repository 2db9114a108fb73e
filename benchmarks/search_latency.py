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
import json
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from machine import describe
from report import print_section
from search_build import ExactTop, build, setup_django
from search_corpus import KB_ID, Corpus
from search_memory import folder_mb, measure_load
from search_timing import probe_table, recall, timed_searches, warm


def _print_report(result: dict) -> None:
    section = partial(print_section, width=30)

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
    setup_django()
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
        memory["disk_mb"] = folder_mb(Path(settings.INDEX_DIR) / f"kb-{KB_ID}")
        memory["build_peak_rss_mb"] = round(build_peak_mb)

        approximate = warm(questions).approximate
        latency = {mode: timed_searches(questions, mode) for mode in ("hybrid", "dense", "lexical")}
        default_recall = recall(questions, exact)
        lists = approximate.nlist if approximate else None
        result = {
            "machine": machine,
            "knowledge_base": {
                "chunks": args.chunks,
                "questions": args.queries,
                "chinese_questions": int(questions.chinese.sum()),
                "segment": args.segment,
                "approximate_from": settings.INDEX_APPROXIMATE_FROM,
                "ivf_lists": lists,
                "default_nprobe": approximate.parameters.nprobe if approximate else None,
                "lexical_segments": len(index._cache[KB_ID].lexical),
                "candidates": retrieval.CANDIDATES,
                "example_question": questions.texts[position],
            },
            "build": built,
            "latency_ms": latency,
            "recall": default_recall,
            "memory": memory,
        }
        del approximate
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
