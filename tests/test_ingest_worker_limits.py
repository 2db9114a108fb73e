"""One document that will not finish, with real workers started as `manage.py serve` starts them: the
other documents go on being ingested, the sweep goes on running, and the stuck one fails with why.

A pool process is made to stop making progress with SIGSTOP, as one lost in a reader's C code would:
the test decides how long it is stuck, instead of racing a file that is merely slow.
"""

import os
import signal
import socket

import pytest
from django.core.files.base import ContentFile

from chatsite.celery import app as celery_app
from knowledge import services, tasks
from knowledge.models import Document, KnowledgeBase
from tests.hostile_files import many_pages_pdf
from tests.processes import celery_worker, use_data_dir, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
SLOW_PDF = many_pages_pdf(2000, lines_per_page=400)  # 300 KB; a minute to read, 44 million characters


@pytest.fixture
def shared_dirs(settings, tmp_path):
    use_data_dir(settings, tmp_path)
    return tmp_path


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    def upload_now(kb: KnowledgeBase, name: str, data: bytes) -> Document:
        with django_capture_on_commit_callbacks(execute=True):
            report = services.upload_files(knowledge_base=kb, files=[(name, ContentFile(data, name=name))])
        return report.created[0]

    return upload_now


def unreachable(*args, **kwargs):
    raise ConnectionRefusedError("broker down")


def status(document: Document) -> str:
    return Document.objects.get(id=document.id).status


def stop_the_process_reading(document: Document, worker: str) -> int:
    """SIGSTOP the pool process that claimed the document; its pid."""
    wait_for(lambda: status(document) == "processing", what=f"{document.title} to be claimed")
    host = f"{worker}@{socket.gethostname()}"
    active = lambda: (celery_app.control.inspect([host]).active() or {}).get(host)  # noqa: E731
    pid = wait_for(active, what="the task in the pool")[0]["worker_pid"]
    os.kill(pid, signal.SIGSTOP)
    return pid


def test_small_documents_are_ingested_and_the_sweep_runs_while_one_is_stuck_past_its_limit(
    kb, shared_dirs, upload, monkeypatch
):
    other_kb = KnowledgeBase.objects.create(name="Travel", slug="travel", is_public=True)
    sweep = {"INGEST_SWEEP_SECONDS": "1", "INGEST_RESEND_UNSENT_SECONDS": "0"}
    limits = {"INGEST_READ_SECONDS": "5", "INGEST_MAX_CHARS": str(10**9)}  # time is the limit it meets
    with celery_worker(shared_dirs, log=shared_dirs / "w.log", beat=True, **limits, **sweep):
        slow = upload(kb, "manual.pdf", SLOW_PDF)
        stuck = stop_the_process_reading(slow, "worker")
        try:
            small = [
                upload(kb, "leave.txt", b"Leave is 16 weeks."),
                upload(other_kb, "trains.txt", b"Take trains."),
            ]
            with monkeypatch.context() as broker_down:  # only the sweep can send this one
                broker_down.setattr(tasks.ingest_documents, "apply_async", unreachable)
                small.append(upload(kb, "badges.txt", b"Badges are renewed every January."))
            assert Document.objects.get(id=small[-1].id).error == services.BROKER_DOWN
            wait_for(lambda: all(status(d) == "ready" for d in small), what="the small documents")
            assert status(slow) == "processing"
        finally:
            os.kill(stuck, signal.SIGCONT)
        wait_for(lambda: status(slow) == "failed", what="the stuck document to fail")
    assert Document.objects.get(id=slow.id).error == (
        "Reading the file took longer than 5 seconds, the limit (setting INGEST_READ_SECONDS)."
    )


def pool(worker: str) -> list[int]:
    host = f"{worker}@{socket.gethostname()}"
    return (
        (celery_app.control.inspect([host]).stats() or {}).get(host, {}).get("pool", {}).get("processes", [])
    )


def test_a_task_past_its_hard_time_limit_loses_its_process_and_its_documents_fail_with_why(
    kb, shared_dirs, upload, settings
):
    settings.INGEST_TASK_SOFT_SECONDS, settings.INGEST_TASK_HARD_SECONDS = 5, 7  # sent with the task
    limits = {"INGEST_TASK_SOFT_SECONDS": "5", "INGEST_TASK_HARD_SECONDS": "7"}  # in the reason
    with celery_worker(shared_dirs, log=shared_dirs / "w.log", beat=True, **limits):
        slow = upload(kb, "manual.pdf", SLOW_PDF)
        stuck = stop_the_process_reading(slow, "worker")
        wait_for(lambda: status(slow) == "failed", what="the hard time limit")
        assert wait_for(
            lambda: len(pool("worker")) == 2 and stuck not in pool("worker"), what="a new process"
        )
    assert Document.objects.get(id=slow.id).error == (
        "Indexing was stopped when its task reached the hard time limit of 7 seconds "
        "(setting INGEST_TASK_HARD_SECONDS); the worker process was replaced."
    )
