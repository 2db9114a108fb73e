"""The Celery processes the app runs beside its web server (`manage.py serve`, and the tests).

Ingestion runs on the prefork pool, INGEST_WORKER_PROCESSES processes (2 by default, one per core of
the machine it is sized for): a document that takes long holds one process while the others go on
with the queue, and prefork is the only pool that can enforce the ingest task's hard time limit (it
kills and replaces a process; the solo pool cannot interrupt itself). The sweep has a queue and a
process of its own, on the solo pool with beat inside, so it runs on time however long ingestion
takes; that process never loads the embedding model.

Documents with scans (images, PDFs with scanned pages) are read by a worker of their own on the OCR
queue: one process, so a long scan holds that process alone while the ingest processes go on with the
text documents, and OCR_THREADS threads (1 by default, so it takes one core of two at most). It loads
the OCR engine at its first scan; the other processes never do.
"""

from django.conf import settings


def ingest_worker(python: str, *, name: str = "ingest") -> list[str]:
    celery = [python, "-m", "celery", "-A", "chatsite", "worker", f"--hostname={name}@%h"]
    return [*celery, "--pool=prefork", f"--queues={settings.INGEST_QUEUE}", "--loglevel=INFO"]


def ocr_worker(python: str, *, name: str = "ocr") -> list[str]:
    celery = [python, "-m", "celery", "-A", "chatsite", "worker", f"--hostname={name}@%h"]
    return [*celery, "--pool=prefork", "--concurrency=1", f"--queues={settings.OCR_QUEUE}", "--loglevel=INFO"]


def sweeper(python: str, *, name: str = "sweeper", schedule: str | None = None) -> list[str]:
    celery = [python, "-m", "celery", "-A", "chatsite", "worker", f"--hostname={name}@%h"]
    beat = ["--beat", *([f"--schedule={schedule}"] if schedule else [])]
    return [*celery, "--pool=solo", f"--queues={settings.SWEEP_QUEUE}", *beat, "--loglevel=INFO"]
