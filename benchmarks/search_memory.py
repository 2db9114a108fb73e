"""What a knowledge base's index costs each process in memory and time, and what processes share.

Imported by benchmarks/search_latency.py for `measure_load` (loading in a fresh process). Run as a
script, it builds the synthetic knowledge base of search_latency.py (`search_corpus.Corpus`) into a
temporary DATA_DIR, deleted at the end: most chunks in one `index.replace` (one segment, with its
IVF index once past INDEX_APPROXIMATE_FROM), then --tail chunks in two more segments and one chunk
in a thousand deleted, so that searches go through every path. Then it starts 1, 2 and 4 processes
at once; each opens the index and runs --queries dense and lexical searches, and once all of them
have, their RSS and PSS are read from /proc/<pid>/smaps_rollup (PSS divides each shared page among
the processes that map it, so the sum of PSS is what the processes cost the machine together).

--project runs another checkout of this project, to compare index formats, e.g. the code before
the mapped format:

    git archive 3494339 | tar -x -C /tmp/kbchat-before
    .venv/bin/python benchmarks/search_memory.py --project /tmp/kbchat-before

    .venv/bin/python benchmarks/search_memory.py [--chunks N] [--tail N] [--processes 1,2,4]
        [--queries N] [--project DIR] [--json]
"""

import argparse
import gc
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import describe
from search_build import ROOT, setup_django
from search_corpus import KB_ID, Batch, Corpus
from search_timing import timed_searches

SEGMENT = 50_000  # chunks generated at a time
ROLLUP = {"Rss": "rss_mb", "Pss": "pss_mb", "Anonymous": "private_mb", "Pss_File": "pss_file_mb"}


def memory(pid: int | str = "self") -> dict[str, float]:
    """Resident (RSS), proportional (PSS), anonymous (private to the process) and the file-backed
    part of PSS, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        if key in ROLLUP:
            values[ROLLUP[key]] = round(int(value.split()[0]) / 1024, 1)
    return values


def folder_mb(folder: Path) -> float:
    return round(sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20)


def measure_load(vector: np.ndarray, text: str) -> dict:
    """In a fresh process: the time and memory of opening the index, and the first questions after."""
    setup_django()
    import faiss

    from knowledge import index, lexical

    gc.collect()
    before = memory()
    started = time.perf_counter()
    with index._kb_lock(KB_ID):
        loaded = index._load(KB_ID)
    load_s = time.perf_counter() - started
    opened = memory()
    question = Batch(np.zeros(1, dtype=np.int64), vector[None, :], [text], np.zeros(1, dtype=bool))
    first = timed_searches(question, "hybrid")["total"]["max"]
    second = timed_searches(question, "hybrid")["total"]["max"]
    searched = memory()
    lexical.tokenize("混合专家模型")
    arrays = [a for s in loaded.mapped for a in (s.ids, s.vectors, s.postings.rows, s.postings.freqs)]
    return {
        "load_s": round(load_s, 3),
        "first_hybrid_ms": round(first, 1),
        "second_hybrid_ms": round(second, 1),
        "rss_before_mb": before["rss_mb"],
        "rss_opened_mb": opened["rss_mb"],
        "rss_after_first_search_mb": searched["rss_mb"],
        "index_mb": round(searched["rss_mb"] - before["rss_mb"]),
        "index_private_mb": round(searched["private_mb"] - before["private_mb"]),
        "mapped_ids_vectors_postings_mb": round(sum(a.nbytes for a in arrays) / 2**20),
        "terms": sum(len(s.postings.terms) for s in loaded.mapped),
        "jieba_dictionary_mb": round(memory()["rss_mb"] - searched["rss_mb"]),
        "faiss_threads": faiss.omp_get_max_threads(),
    }


def _setup(project: str) -> None:
    """Django set up from this checkout of the project (its `knowledge` package is what is measured)."""
    os.chdir(project)  # Celery puts the working directory first on sys.path while it sets up
    sys.path[:] = [project, *(path for path in sys.path if path not in ("", str(ROOT)))]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()
    import knowledge

    if not knowledge.__file__ or not knowledge.__file__.startswith(project):
        raise RuntimeError(f"knowledge was imported from {knowledge.__file__}, not from {project}")


def _build(project: str, chunks: int, tail: int, seed: int) -> dict:
    """In its own process, so that what building takes is given back before the measured processes start."""
    _setup(project)
    from knowledge import index

    corpus = Corpus(seed)
    started = time.perf_counter()
    bulk = chunks - tail
    batches = [
        corpus.chunks(number, first, min(SEGMENT, bulk + 1 - first))
        for number, first in enumerate(range(1, bulk + 1, SEGMENT))
    ]
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    index.replace(
        KB_ID,
        ids=np.concatenate([b.ids for b in batches]),
        vectors=np.concatenate([b.vectors for b in batches]),
        texts=[text for b in batches for text in b.texts],
    )
    replace_s = time.perf_counter() - started
    del batches
    started = time.perf_counter()
    for number, first in enumerate(range(bulk + 1, chunks + 1, max(1, tail // 2)), start=bulk // SEGMENT + 1):
        batch = corpus.chunks(number, first, min(max(1, tail // 2), chunks + 1 - first))
        index.update(KB_ID, add_ids=batch.ids, add_vectors=batch.vectors, add_texts=batch.texts)
    index.update(KB_ID, remove_ids=np.arange(1, chunks + 1, 1000))
    manifest = index._manifest(KB_ID, index.current_version(KB_ID))
    return {
        "generate_s": round(generate_s),
        "replace_s": round(replace_s),
        "tail_and_deletions_s": round(time.perf_counter() - started),
        "segments": len(manifest.segments),
        "approximate": bool(manifest.approximate),
        "disk_mb": folder_mb(Path(os.environ["DATA_DIR"]) / "indexes" / f"kb-{KB_ID}"),
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 95)}


def _searcher(project: str, questions: Batch, results, done) -> None:
    """One web process: open the index, search it, report, and hold it until all are measured."""
    _setup(project)
    from knowledge import index, lexical, retrieval

    lexical.tokenize("混合专家模型")  # jieba's dictionary is loaded first: it is not the index's
    before = memory()
    started = time.perf_counter()
    with index._kb_lock(KB_ID):
        index._load(KB_ID)
    load_s = time.perf_counter() - started
    queries = [lexical.Query.of(text) for text in questions.texts]
    dense, lexical_ms = [], []
    for vector, query in zip(questions.vectors, queries, strict=True):
        started = time.perf_counter()
        index.search_dense(KB_ID, vector, k=retrieval.CANDIDATES)
        dense.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index.search_lexical(KB_ID, query, k=retrieval.CANDIDATES)
        lexical_ms.append((time.perf_counter() - started) * 1000)
    results.put(
        {
            "pid": os.getpid(),
            "before": before,
            "load_s": load_s,
            "first_dense_ms": dense[0],
            "first_lexical_ms": lexical_ms[0],
            "dense_ms": dense[1:],
            "lexical_ms": lexical_ms[1:],
        }
    )
    done.wait()


def _processes(project: str, questions: Batch, count: int) -> dict:
    """`count` processes at once, measured while every one of them holds the searched index."""
    context = multiprocessing.get_context("spawn")
    results, done = context.Queue(), context.Event()
    arguments = (project, questions, results, done)
    workers = [context.Process(target=_searcher, args=arguments) for _ in range(count)]
    for worker in workers:
        worker.start()
    reports = [results.get(timeout=3600) for _ in workers]
    rows = [{**report, "after": memory(report["pid"])} for report in reports]
    done.set()
    for worker in workers:
        worker.join()
    per_process = [
        {
            "rss_mb": row["after"]["rss_mb"],
            "pss_mb": row["after"]["pss_mb"],
            "private_mb": row["after"]["private_mb"],
            "index_rss_mb": round(row["after"]["rss_mb"] - row["before"]["rss_mb"]),
            "index_pss_mb": round(row["after"]["pss_mb"] - row["before"]["pss_mb"]),
            "load_s": round(row["load_s"], 3),
            "first_dense_ms": round(row["first_dense_ms"], 1),
            "first_lexical_ms": round(row["first_lexical_ms"], 1),
        }
        for row in rows
    ]
    return {
        "processes": count,
        "per_process": per_process,
        "total_rss_mb": round(sum(row["rss_mb"] for row in per_process)),
        "total_pss_mb": round(sum(row["pss_mb"] for row in per_process)),
        "dense_ms": _percentiles([ms for row in rows for ms in row["dense_ms"]]),
        "lexical_ms": _percentiles([ms for row in rows for ms in row["lexical_ms"]]),
    }


def _print_report(result: dict) -> None:
    print(f"\n{result['project']}: {result['build']}")
    columns = "processes  RSS/proc  PSS/proc  private/proc  index RSS  index PSS  total RSS  total PSS"
    print(columns + "  load s  dense p50/p95  lexical p50/p95  (MB, ms)")
    for group in result["groups"]:
        rows = group["per_process"]

        def mean(key: str, rows: list = rows) -> int:
            return round(sum(row[key] for row in rows) / len(rows))

        cells = [
            group["processes"],
            mean("rss_mb"),
            mean("pss_mb"),
            mean("private_mb"),
            mean("index_rss_mb"),
            mean("index_pss_mb"),
            group["total_rss_mb"],
            group["total_pss_mb"],
            max(row["load_s"] for row in rows),
            f"{group['dense_ms']['p50']}/{group['dense_ms']['p95']}",
            f"{group['lexical_ms']['p50']}/{group['lexical_ms']['p95']}",
        ]
        print("  ".join(f"{cell!s:>9}" for cell in cells))
    start, end = result["machine"]["load_average"], result["load_average_end"]
    print(f"load average {start} at the start, {end} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--tail", type=int, default=50_000, help="chunks added in two segments at the end")
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--project", default=str(ROOT), help="the checkout of this project to measure")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="kbchat-bench-memory-"))
    os.environ["DATA_DIR"] = str(data_dir)
    context = multiprocessing.get_context("spawn")
    try:
        machine = describe()
        with context.Pool(1) as pool:
            built = pool.apply(_build, (args.project, args.chunks, args.tail, args.seed))
        questions = Corpus(args.seed).questions(args.queries)
        groups = [_processes(args.project, questions, int(count)) for count in args.processes.split(",")]
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    result = {
        "machine": machine,
        "project": args.project,
        "chunks": args.chunks,
        "build": built,
        "groups": groups,
        "load_average_end": os.getloadavg()[0],
    }
    _print_report(result)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
