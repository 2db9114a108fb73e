"""Originals live only behind Django's storage API: the whole path works on a storage with no disk."""

import io
import logging
from pathlib import Path

import docx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from django.db import transaction
from django.urls import reverse

from knowledge import retrieval, services, tasks
from knowledge.models import Document, KnowledgeBase
from tests.conftest import indexed

LEAVE = "# 年假\n\n员工入职满一年后，每年有十五天带薪年假。\n\n## 申请\n\n年假需提前两周在系统中申请。\n"


@pytest.fixture(autouse=True)
def in_memory(settings) -> None:
    """Originals kept in memory: no path exists for anything to open."""
    memory = {"BACKEND": "django.core.files.storage.InMemoryStorage"}
    settings.STORAGES = {**settings.STORAGES, "default": memory}


def docx_bytes(text: str) -> bytes:
    document, buffer = docx.Document(), io.BytesIO()
    document.add_paragraph(text)
    document.save(buffer)
    return buffer.getvalue()


def upload(kb: KnowledgeBase, name: str, content: bytes) -> Document:
    report = services.upload_files(
        knowledge_base=kb, files=[(name, ContentFile(content, name=name))], enqueue=False
    )
    return report.created[0]


def no_files_on_disk(settings) -> bool:
    return not any(path.is_file() for path in Path(settings.MEDIA_ROOT).rglob("*"))


def test_it_uploads_ingests_searches_serves_and_deletes_without_a_disk(
    client, user, kb, settings, django_capture_on_commit_callbacks
):
    document = upload(kb, "年假.md", LEAVE.encode())
    assert isinstance(document.file.storage._wrapped, InMemoryStorage)
    tasks.ingest_documents([document.id])  # the worker's task, run here: memory is not shared
    document.refresh_from_db()
    assert (document.status, document.error) == (Document.Status.READY, "")
    found = retrieval.search(query="年假需要提前多久申请？", knowledge_bases=[kb], top_k=1).passages
    assert found[0].document_id == document.id and "提前两周" in found[0].text
    client.force_login(user)
    response = client.get(reverse("knowledge:download", args=[document.id]))
    assert b"".join(response.streaming_content).decode() == LEAVE
    name = document.file.name
    with django_capture_on_commit_callbacks(execute=True):
        services.document_delete(document=document)
    assert not default_storage.exists(name) and indexed(kb.id) == set()
    assert no_files_on_disk(settings)


def test_it_reads_word_files_from_the_storage(kb):
    document = upload(kb, "leave.docx", docx_bytes("Staff get 25 days of vacation."))
    tasks.ingest_documents([document.id])
    assert document.chunks.get().text == "Staff get 25 days of vacation."


def test_it_deletes_every_file_of_a_knowledge_base(kb, django_capture_on_commit_callbacks):
    names = [upload(kb, f"{n}.txt", f"Note {n}.".encode()).file.name for n in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        services.knowledge_base_delete(knowledge_base=kb)
    assert not any(default_storage.exists(name) for name in names)


def test_a_deletion_rolled_back_keeps_its_file(kb, django_capture_on_commit_callbacks):
    document = upload(kb, "keep.txt", b"Parking is free.")
    kept = Document.objects.filter(id=document.id)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.document_delete(document=document)
        raise RuntimeError("the caller's transaction fails after the deletion")
    assert kept.exists() and default_storage.exists(document.file.name)


def test_a_file_the_storage_cannot_delete_leaves_the_deletion_standing(
    kb, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    document = upload(kb, "stuck.txt", b"Parking is free.")
    tasks.ingest_documents([document.id])

    def refuse(storage: InMemoryStorage, name: str) -> None:
        raise PermissionError(f"denied: {name}")

    monkeypatch.setattr(InMemoryStorage, "delete", refuse)
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        services.document_delete(document=document)
    assert not Document.objects.exists() and indexed(kb.id) == set()
    assert document.file.name in caplog.text
