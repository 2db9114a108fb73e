"""Ingestion throughput end to end, against the embedding model's raw encode on the same chunks.

Writes the SciFact corpus out as one text file per abstract, uploads them into a fresh knowledge
base, and lets a real Celery worker (on the embedded file broker, or CELERY_BROKER_URL) ingest them.
Reports chunks per second from upload to the last document ready, then encodes the very same chunk
texts with the model directly (same process settings, same batch size), and the ratio of the two.
Also the worker's peak resident memory, its pool processes included.

    .venv/bin/python benchmarks/ingest.py [--limit N] [--json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "eval" / "scifact" / "corpus.jsonl"


def write_corpus(folder: Path, limit: int | None) -> list[Path]:
    paths = []
    with SCIFACT.open() as lines:
        for number, line in enumerate(lines):
            if limit is not None and number >= limit:
                break
            row = json.loads(line)
            path = folder / f"{row['_id']}.txt"
            path.write_text(f"{row['title']}\n\n{row['text']}")
            paths.append(path)
    return paths


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_for_worker(seconds: float = 120) -> None:
    from knowledge.management.commands.ingest import worker_running

    deadline = time.monotonic() + seconds
    while not worker_running():
        if time.monotonic() > deadline:
            raise SystemExit("The worker did not start.")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, help="only the first N abstracts")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="kbchat-bench-ingest-"))
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.files import File
    from django.core.management import call_command

    from knowledge import embedding, services
    from knowledge.models import Chunk, Document, KnowledgeBase

    call_command("migrate", verbosity=0)
    (data_dir / "corpus").mkdir()
    files = write_corpus(data_dir / "corpus", args.limit)
    log = (data_dir / "worker.log").open("wb")
    from chatsite import workers

    worker = subprocess.Popen(
        workers.ingest_worker(sys.executable),  # as `manage.py serve` runs it
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log,
        stderr=log,
    )
    try:
        wait_for_worker()
        kb = KnowledgeBase.objects.create(name="SciFact", slug="scifact", is_public=True)
        # Warm-up document: the worker loads the model before the clock starts.
        with files[0].open("rb") as handle:
            services.upload_files(knowledge_base=kb, files=[("warm-up.txt", File(handle))])
        while Document.objects.exclude(status__in=["ready", "failed"]).exists():
            time.sleep(0.2)
        Document.objects.all().delete()
        Chunk.objects.all().delete()

        started = time.perf_counter()
        handles = [path.open("rb") for path in files]
        named = [(path.name, File(handle)) for path, handle in zip(files, handles, strict=True)]
        report = services.upload_files(knowledge_base=kb, files=named)
        for handle in handles:
            handle.close()
        ids = [document.id for document in report.created]
        # A cheap poll, once a second: the two cores belong to the worker.
        while kb.documents.exclude(status__in=["ready", "failed"]).exists():
            time.sleep(1)
        pipeline_s = time.perf_counter() - started
        pool = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
        worker_peak_mb = sum(peak_memory_mb(pid) for pid in [worker.pid, *map(int, pool)])
    finally:
        worker.terminate()
        worker.wait()
        log.close()

    failed = Document.objects.filter(id__in=ids, status="failed").count()
    texts = list(Chunk.objects.filter(document_id__in=ids).values_list("text", flat=True))
    embedding.embed(texts[:64])  # load and warm the model here too
    started = time.perf_counter()
    embedding.get_model().encode(
        texts, batch_size=settings.EMBEDDING_BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False
    )
    raw_s = time.perf_counter() - started

    result = {
        "documents": len(ids),
        "failed": failed,
        "chunks": len(texts),
        "pipeline_s": round(pipeline_s, 1),
        "pipeline_chunks_per_s": round(len(texts) / pipeline_s, 1),
        "raw_encode_s": round(raw_s, 1),
        "raw_chunks_per_s": round(len(texts) / raw_s, 1),
        "ratio": round(raw_s / pipeline_s, 3),
        "worker_peak_mb": round(worker_peak_mb),
        "group_size": settings.INGEST_GROUP_SIZE,
        "embed_batch": settings.INGEST_EMBED_BATCH,
        "cpus": os.cpu_count(),
    }
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
