"""Scans with real processes: the OCR worker reads a long scan page by page while the ingest worker,
on one process, goes on with a text document; then the scan answers with its page cited."""

import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from knowledge.models import Document
from tests.conftest import ask
from tests.processes import celery_worker, use_data_dir, wait_for
from tests.scans import render_page, scanned_pdf

pytestmark = pytest.mark.django_db(transaction=True)
PAGES = 8
ANSWER_PAGE = 6
FACT = "第六页：远程办公每周最多三天，需提前一天申请。"


def page(number: int):
    text = (
        FACT if number == ANSWER_PAGE else f"第{number}页：本页记录会议室预订的规则与时间安排，编号{number}。"
    )
    return render_page(text, dpi=150, width_mm=150, height_mm=40, point_size=12, margin_mm=8)


@pytest.fixture(scope="module")
def running_workers(django_db_setup, tmp_path_factory):
    """One ingest process only: were scans read there, the text document would wait for the scan."""
    data_dir = tmp_path_factory.mktemp("ocr-worker")
    with celery_worker(data_dir, log=data_dir / "worker.log", ocr=True, INGEST_WORKER_PROCESSES="1"):
        yield data_dir


@pytest.fixture
def admin_client(client, django_user_model, running_workers, settings):
    use_data_dir(settings, running_workers)
    admin = django_user_model.objects.create_superuser("root", password="root-password-1")
    client.force_login(admin)
    return client


def upload(client, kb, name: str, data: bytes) -> Document:
    response = client.post(
        reverse("admin:knowledge_document_add"),
        {"knowledge_base": kb.id, "files": [SimpleUploadedFile(name, data)]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Document.objects.get(title=name)


def progress_label(client, document: Document) -> str:
    response = client.get(reverse("admin:knowledge_document_progress"), {"ids": document.id})
    states = json.loads(response.content)["documents"]
    return next((state["progress_label"] for state in states if state["id"] == document.id), "")


def test_a_text_document_is_indexed_while_a_long_scan_is_read(admin_client, user, kb, llm, monkeypatch):
    scan = upload(admin_client, kb, "rules.pdf", scanned_pdf([page(n) for n in range(1, PAGES + 1)]))
    label = wait_for(
        lambda: "OCR page" in (text := progress_label(admin_client, scan)) and text, 120, "OCR progress"
    )
    assert label.startswith("OCR page ") and label.endswith(f"/{PAGES}")

    text = upload(admin_client, kb, "travel.txt", b"Travel is booked through the office portal.")
    wait_for(
        lambda: Document.objects.get(id=text.id).status == Document.Status.READY, 120, "the text document"
    )
    scan.refresh_from_db()
    assert scan.status == Document.Status.PROCESSING and scan.ocr_pages_done < PAGES

    deadline = time.monotonic() + 300
    while scan.status != Document.Status.READY and time.monotonic() < deadline:
        time.sleep(0.5)
        scan.refresh_from_db()
    assert scan.status == Document.Status.READY, scan.error
    assert sorted(set(scan.chunks.values_list("page", flat=True))) == list(range(1, PAGES + 1))

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    llm.script(reasoning="Page six has it.", content="远程办公每周最多三天 [1]。")
    done = dict(ask(user, kb, "远程办公每周最多几天？"))["done"]
    assert "远程办公每周最多三天" in done["citations"][0]["text"]
    assert done["citations"][0]["location"] == f"p. {ANSWER_PAGE}"
