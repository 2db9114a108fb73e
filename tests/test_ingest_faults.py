"""Faults with real processes: a worker killed mid-document, two workers at once, a broker that was down."""

import json
import os
import signal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from knowledge import services, tasks
from knowledge.models import Document
from tests.processes import celery_worker, use_data_dir, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
# 132 SciFact abstracts (allenai/scifact, CC BY-NC 2.0): see tests/data/README.md.
SCIFACT = Path(__file__).resolve().parent / "data" / "scifact-abstracts.jsonl"


def abstracts(count: int, skip: int = 0) -> list[str]:
    with SCIFACT.open() as lines:
        rows = [json.loads(line) for _, line in zip(range(skip + count), lines, strict=False)][skip:]
    return [f"{row['title']}\n\n{row['text']}" for row in rows]


@pytest.fixture
def shared_dirs(settings, tmp_path) -> Path:
    use_data_dir(settings, tmp_path)
    return tmp_path


def upload_now(kb, files: list[tuple[str, bytes]], django_capture_on_commit_callbacks) -> list[Document]:
    with django_capture_on_commit_callbacks(execute=True):
        report = services.upload_files(
            knowledge_base=kb, files=[(n, ContentFile(b, name=n)) for n, b in files]
        )
    return report.created


def test_a_document_whose_worker_was_killed_is_finished_once_by_another(
    kb, shared_dirs, django_capture_on_commit_callbacks
):
    book = "\n\n".join(abstracts(120)).encode()
    with celery_worker(
        shared_dirs, log=shared_dirs / "a.log", name="doomed", INGEST_EMBED_BATCH="16"
    ) as doomed:
        (document,) = upload_now(kb, [("scifact-120.txt", book)], django_capture_on_commit_callbacks)
        wait_for(
            lambda: Document.objects.filter(id=document.id, status="processing", chunks_done__gt=0).exists(),
            what="the first batch of embeddings",
        )
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its pool processes, as when a machine dies
    document.refresh_from_db()
    assert document.status == Document.Status.PROCESSING and document.chunk_count == 0

    # The sweep runs beside ingestion now: the rescuer must show signs of life more often than this.
    rescue = {"INGEST_STALE_SECONDS": "15", "INGEST_SWEEP_SECONDS": "1", "INGEST_EMBED_BATCH": "16"}
    with celery_worker(
        shared_dirs, log=shared_dirs / "b.log", name="rescuer", beat=True, purge=False, **rescue
    ):
        wait_for(lambda: Document.objects.get(id=document.id).status == "ready", what="the rescue")
    document.refresh_from_db()
    assert document.attempts == 2
    assert document.chunks.count() == document.chunk_count > 100
    call_command("check_index", kb=kb.slug)


def test_two_workers_ingesting_into_one_knowledge_base_leave_a_consistent_index(
    kb, shared_dirs, settings, django_capture_on_commit_callbacks
):
    settings.INGEST_GROUP_SIZE = 1  # one task per document, so both workers take some
    files = [(f"abstract-{i}.txt", text.encode()) for i, text in enumerate(abstracts(12, skip=120))]
    with (
        celery_worker(shared_dirs, log=shared_dirs / "one.log", name="one"),
        celery_worker(shared_dirs, log=shared_dirs / "two.log", name="two", purge=False),
    ):
        documents = upload_now(kb, files, django_capture_on_commit_callbacks)
        ids = [d.id for d in documents]
        wait_for(
            lambda: Document.objects.filter(id__in=ids, status="ready").count() == len(ids), what="all ready"
        )
    logs = [(shared_dirs / f"{name}.log").read_text() for name in ("one", "two")]
    assert all("ingest_documents" in log for log in logs), "both workers should have taken documents"
    call_command("check_index", kb=kb.slug)


def test_a_document_uploaded_while_the_broker_was_down_is_picked_up_later(
    kb, shared_dirs, monkeypatch, django_capture_on_commit_callbacks
):
    with monkeypatch.context() as broker_down:
        broker_down.setattr(
            tasks.ingest_documents, "apply_async", lambda *a, **k: (_ for _ in ()).throw(OSError)
        )
        (document,) = upload_now(
            kb, [("late.txt", b"Badges are renewed every January.")], django_capture_on_commit_callbacks
        )
    document.refresh_from_db()
    assert (document.status, document.error) == ("queued", services.BROKER_DOWN)

    back = {"INGEST_RESEND_UNSENT_SECONDS": "0", "INGEST_SWEEP_SECONDS": "1"}
    with celery_worker(shared_dirs, log=shared_dirs / "w.log", name="back", beat=True, **back):
        wait_for(lambda: Document.objects.get(id=document.id).status == "ready", what="the late document")
