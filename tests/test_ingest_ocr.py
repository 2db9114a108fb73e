"""Documents with scans through ingestion: handed from the text workers to the OCR worker's task,
read with their pages kept and progress per page, searchable over the REST API; the knowledge base's
switch; the admin's progress label."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from knowledge import admin_views, ingestion, services, tasks
from knowledge.models import Document
from tests.api_fixtures import ApiClient
from tests.scans import image_bytes, render_page, scanned_pdf

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
KBS = "/api/v1/knowledge-bases/"
ZH = "扫描件中的年假规定：员工每年享有十五天带薪年假。"
TEXT_PAGE = "Travel is booked through the office."


def scan(text: str) -> bytes:
    return image_bytes(
        render_page(text, dpi=150, width_mm=150, height_mm=40, point_size=12, margin_mm=8), "PNG"
    )


def scanned_policy() -> bytes:
    page = render_page(ZH, dpi=150, width_mm=150, height_mm=40, point_size=12, margin_mm=8)
    return scanned_pdf([TEXT_PAGE, page])


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, list[int]]]:
    """The tasks sent to the workers, by name, instead of to the broker."""
    messages: list[tuple[str, list[int]]] = []
    for task in (tasks.ingest_documents, tasks.ingest_scanned_documents):
        monkeypatch.setattr(
            task, "apply_async", lambda args, task=task, **_: messages.append((task.name, args[0]))
        )
    return messages


def upload(client: ApiClient, name: str, data: bytes):
    return client.upload(f"{KBS}guide/documents/", [SimpleUploadedFile(name, data)])


def test_a_scanned_pdf_is_handed_to_the_ocr_worker_and_searchable_with_its_pages(
    as_manager, as_owner, kb, sent
):
    response = upload(as_manager, "policy.pdf", scanned_policy())
    (created,) = response.json()["created"]
    assert created["needs_ocr"] is False  # a PDF's pages are judged as it is read
    ingestion.ingest_documents(document_ids=[created["id"]])  # a text worker meets the scan
    document = Document.objects.get()
    assert (document.status, document.needs_ocr, document.chunk_count) == ("queued", True, 0)
    assert sent[-1] == ("knowledge.tasks.ingest_scanned_documents", [document.id])

    ingestion.ingest_documents(document_ids=[document.id], read_scans=True)
    body = as_manager.get(f"/api/v1/documents/{document.id}/").json()
    assert body["status"] == "ready", body["error"]
    assert (body["ocr_pages_done"], body["ocr_pages_total"]) == (1, 1)
    found = as_owner.post(f"{KBS}guide/search/", {"query": "员工每年有几天带薪年假？", "top_k": 1}).json()
    (best,) = found["passages"]
    assert "十五天带薪年假" in best["text"]
    assert (best["document_id"], best["location"]) == (document.id, "p. 2")


def test_an_image_goes_straight_to_the_ocr_worker(as_manager, kb, sent):
    (created,) = upload(as_manager, "notice.png", scan(ZH)).json()["created"]
    assert created["needs_ocr"] is True
    assert sent == [("knowledge.tasks.ingest_scanned_documents", [created["id"]])]
    ingestion.ingest_documents(document_ids=[created["id"]], read_scans=True)
    document = Document.objects.get()
    assert document.status == Document.Status.READY, document.error
    assert "带薪年假" in document.chunks.get().text


def test_with_the_switch_off_a_scan_fails_naming_it(as_manager, kb, sent):
    response = as_manager.patch(f"{KBS}guide/", {"ocr": False})
    assert response.status_code == 200 and response.json()["ocr"] is False
    (created,) = upload(as_manager, "scan.pdf", scanned_pdf([render_page(ZH, dpi=100, height_mm=40)])).json()[
        "created"
    ]
    ingestion.ingest_documents(document_ids=[created["id"]])
    document = Document.objects.get()
    assert document.status == Document.Status.FAILED
    assert "reading scans (OCR) is turned off for this knowledge base" in document.error
    assert sent == [("knowledge.tasks.ingest_documents", [document.id])]  # not handed on


def test_with_the_switch_off_a_mixed_pdf_keeps_its_text_pages(as_manager, kb, sent):
    kb.ocr = False
    kb.save()
    (created,) = upload(as_manager, "policy.pdf", scanned_policy()).json()["created"]
    ingestion.ingest_documents(document_ids=[created["id"]])
    document = Document.objects.get()
    assert document.status == Document.Status.READY
    assert list(document.chunks.values_list("page", "text")) == [(1, TEXT_PAGE)]


def test_only_managers_change_the_switch(as_owner, kb):
    response = as_owner.patch(f"{KBS}guide/", {"ocr": False})
    assert response.status_code == 403
    kb.refresh_from_db()
    assert kb.ocr is True


def test_the_admin_shows_which_page_is_being_read(kb):
    document = Document(
        knowledge_base=kb, status=Document.Status.PROCESSING, ocr_pages_done=2, ocr_pages_total=12
    )
    state = admin_views.progress_state(document)
    assert state["progress_label"] == "OCR page 3/12"
    assert state["progress"] == 17
    document.chunks_total, document.chunks_done = 10, 5  # read: now its chunks are embedded
    assert admin_views.progress_state(document)["progress_label"] == "5/10 chunks · 50%"


def test_reindexing_a_scan_sends_it_to_the_ocr_worker_again(kb, sent):
    document = Document.objects.create(knowledge_base=kb, title="scan.png", status="failed", needs_ocr=True)
    services.documents_reindex(documents=[document])
    assert sent == [("knowledge.tasks.ingest_scanned_documents", [document.id])]


def test_the_ingest_command_reads_scans_inline(tmp_path, capsys):
    (tmp_path / "notice.png").write_bytes(scan(ZH))
    call_command("ingest", str(tmp_path), kb="notices", create=True, inline=True)
    document = Document.objects.get()
    assert document.status == Document.Status.READY, document.error
    assert "1 of 1 new documents ready" in capsys.readouterr().out


def test_the_knowledge_base_admin_form_has_the_switch_on_by_default(admin_client, kb):
    page = admin_client.get(reverse("admin:knowledge_knowledgebase_change", args=[kb.id])).content.decode()
    assert re.search(r'<input type="checkbox" name="ocr"[^>]* checked', page)
    assert "Read scans (OCR)" in page
