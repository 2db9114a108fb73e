"""The knowledge admin: bulk upload, live progress, re-index, delete and index rebuild."""

import io
import zipfile

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from playwright.sync_api import expect

from knowledge import embedding, index_sync, search_index, services
from knowledge.models import Chunk, Document
from tests.browser import ARTIFACTS
from tests.conftest import CORPUS, indexed

UPLOAD = reverse("admin:knowledge_document_add")
PROGRESS = reverse("admin:knowledge_document_progress")
REINDEX_FAILED = reverse("admin:knowledge_document_reindex_failed")
CHANGELIST = reverse("admin:knowledge_document_changelist")


def text_file(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode())


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def upload(client, kb, *files, capture):
    with capture(execute=True):
        return client.post(UPLOAD, {"knowledge_base": kb.id, "files": list(files)})


def make_document(kb, title: str, **fields) -> Document:
    return Document.objects.create(knowledge_base=kb, title=title, sha256=title, **fields)


def test_it_shows_the_upload_form_with_the_supported_types(admin_client, settings, kb):
    settings.MAX_UPLOAD_MB = 7
    html = admin_client.get(UPLOAD).content.decode()
    assert 'type="file" name="files" multiple' in html
    assert 'accept=".txt,.md,' in html and ".zip" in html
    assert "7 MB per file" in html


def test_it_uploads_each_file_as_its_own_queued_document(
    admin_client, kb, sent, django_capture_on_commit_callbacks
):
    files = [text_file("a.txt", "Leave is 16 weeks."), text_file("b.md", "# Travel\nBook by Friday.")]
    response = upload(admin_client, kb, *files, capture=django_capture_on_commit_callbacks)
    assert response.url == f"{CHANGELIST}?knowledge_base__id__exact={kb.id}"
    documents = Document.objects.filter(knowledge_base=kb, status=Document.Status.QUEUED)
    assert sorted(documents.values_list("title", flat=True)) == ["a.txt", "b.md"]
    assert sorted(sent) == sorted(documents.values_list("id", flat=True))
    assert "2 documents queued for indexing: a.txt, b.md." in messages_of(response)


def test_it_stores_the_other_files_and_names_an_empty_one(
    admin_client, kb, sent, django_capture_on_commit_callbacks
):
    files = [text_file("a.txt", "Leave is 16 weeks."), text_file("空白.txt", ""), text_file("b.md", "# B\nx")]
    response = upload(admin_client, kb, *files, capture=django_capture_on_commit_callbacks)
    assert sorted(Document.objects.values_list("title", flat=True)) == ["a.txt", "b.md"]
    assert len(sent) == 2
    assert messages_of(response) == [
        "2 documents queued for indexing: a.txt, b.md.",
        "Not uploaded: 空白.txt: the file is empty.",
    ]


def test_it_names_the_first_twenty_documents_of_a_large_upload(
    admin_client, kb, sent, django_capture_on_commit_callbacks
):
    files = [text_file(f"{n:02}.txt", f"Document {n}.") for n in range(23)]
    response = upload(admin_client, kb, *files, capture=django_capture_on_commit_callbacks)
    names = ", ".join(f"{n:02}.txt" for n in range(20))
    assert messages_of(response) == [f"23 documents queued for indexing: {names} and 3 more."]


def test_it_expands_a_zip_into_its_documents(admin_client, kb, sent, django_capture_on_commit_callbacks):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("policies/leave.txt", "Leave is 16 weeks.")
        archive.writestr("policies/travel.md", "# Travel\nBook by Friday.")
    bundle = SimpleUploadedFile("policies.zip", buffer.getvalue())
    upload(admin_client, kb, bundle, capture=django_capture_on_commit_callbacks)
    titles = sorted(Document.objects.values_list("title", flat=True))
    assert titles == ["policies/leave.txt", "policies/travel.md"]
    assert len(sent) == 2


def test_it_reports_a_duplicate_and_does_not_create_it(
    admin_client, kb, guide, sent, django_capture_on_commit_callbacks
):
    again = SimpleUploadedFile("copy.md", CORPUS.read_bytes())
    response = upload(admin_client, kb, again, capture=django_capture_on_commit_callbacks)
    assert Document.objects.count() == 1
    assert any("copy.md" in text and guide.title in text for text in messages_of(response))
    assert sent == []


def test_it_reports_an_unsupported_file(admin_client, kb, sent, django_capture_on_commit_callbacks):
    response = upload(
        admin_client, kb, text_file("run.exe", "MZ"), capture=django_capture_on_commit_callbacks
    )
    assert not Document.objects.exists()
    assert any("run.exe: unsupported file type" in text for text in messages_of(response))


def test_it_refuses_the_upload_page_to_non_staff(client, user, kb):
    client.force_login(user)
    response = client.post(UPLOAD, {"knowledge_base": kb.id, "files": [text_file("a.txt", "x")]})
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert not Document.objects.exists()


def test_it_returns_progress_for_the_given_ids(admin_client, kb):
    busy = make_document(kb, "busy", status="processing", chunks_done=3, chunks_total=12)
    waiting = make_document(kb, "waiting", error="Waiting for the task queue")
    make_document(kb, "other")
    documents = admin_client.get(PROGRESS, {"ids": f"{busy.id},{waiting.id}"}).json()["documents"]
    by_id = {state["id"]: state for state in documents}
    assert by_id.keys() == {busy.id, waiting.id}
    assert by_id[busy.id]["progress"] == 25
    assert by_id[busy.id]["progress_label"] == "3/12 chunks · 25%"
    assert by_id[waiting.id]["status"] == "queued"
    assert by_id[waiting.id]["error"] == "Waiting for the task queue"


def test_it_refuses_progress_to_non_staff(client, user, kb):
    document = make_document(kb, "busy", status="processing")
    client.force_login(user)
    response = client.get(PROGRESS, {"ids": str(document.id)})
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_it_rejects_malformed_progress_ids(admin_client):
    assert admin_client.get(PROGRESS, {"ids": "1,two"}).status_code == 400


def test_it_renders_the_progress_bar_of_a_processing_document(admin_client, kb):
    make_document(kb, "busy", status="processing", chunks_done=5, chunks_total=10)
    html = admin_client.get(CHANGELIST).content.decode()
    assert 'data-status="processing"' in html
    assert 'aria-valuenow="50"><span class="doc-progress-bar"></span>' in html
    assert "5/10 chunks · 50%" in html
    assert "knowledge/admin/document_progress.js" in html


def test_it_shows_the_reason_of_a_queued_document(admin_client, kb):
    make_document(kb, "waiting", error=services.BROKER_DOWN)
    assert services.BROKER_DOWN in admin_client.get(CHANGELIST).content.decode()


def test_it_offers_and_requeues_all_failed_documents_only(
    admin_client, kb, sent, django_capture_on_commit_callbacks
):
    failed = make_document(kb, "broken", status="failed", error="Scanned PDF")
    make_document(kb, "fine", status="ready")
    assert "Re-index all failed (1)" in admin_client.get(CHANGELIST).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(REINDEX_FAILED, {"knowledge_base": str(kb.id)})
    assert response.status_code == 302
    assert sent == [failed.id]
    assert Document.objects.get(id=failed.id).status == Document.Status.QUEUED
    assert Document.objects.get(title="fine").status == Document.Status.READY


def test_it_refuses_reindex_failed_without_change_permission(client, django_user_model, kb):
    viewer = django_user_model.objects.create_user("viewer", password="viewer-password-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_document"))
    client.force_login(viewer)
    make_document(kb, "broken", status="failed")
    assert client.post(REINDEX_FAILED).status_code == 403
    assert client.get(REINDEX_FAILED).status_code == 405


def test_it_reindexes_the_selected_documents(admin_client, kb, sent, django_capture_on_commit_callbacks):
    document = make_document(kb, "done", status="ready")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "reindex", "_selected_action": [document.id]})
    assert sent == [document.id]
    assert Document.objects.get().status == Document.Status.QUEUED


def test_it_deletes_a_document_with_its_chunks_and_vectors(admin_client, kb, guide):
    assert indexed(kb.id)
    admin_client.post(reverse("admin:knowledge_document_delete", args=[guide.id]), {"post": "yes"})
    assert not Document.objects.exists() and not Chunk.objects.exists()
    assert indexed(kb.id) == set()


def test_it_deletes_selected_documents_with_their_vectors(admin_client, kb, guide):
    data = {"action": "delete_selected", "_selected_action": [guide.id], "post": "yes"}
    admin_client.post(CHANGELIST, data)
    assert not Chunk.objects.exists()
    assert indexed(kb.id) == set()


def test_it_rebuilds_the_index_and_shows_its_health(admin_client, kb, guide):
    index_sync.ensure_current()
    search_index.backend().replace(
        kb.id, ids=[], vectors=np.zeros((0, embedding.dimension()), dtype=np.float32), texts=[]
    )
    kb_changelist = reverse("admin:knowledge_knowledgebase_changelist")
    assert "mismatch: run" in admin_client.get(kb_changelist).content.decode()
    response = admin_client.post(kb_changelist, {"action": "rebuild_index", "_selected_action": [kb.id]})
    count = guide.chunks.count()
    assert f"Guide: search index rebuilt with {count} vectors." in messages_of(response)
    assert f"{count} chunks · {count} vectors ✓" in admin_client.get(kb_changelist).content.decode()


@pytest.mark.django_db(transaction=True)
def test_it_updates_a_processing_row_in_the_browser_without_a_reload(page, admin_user, kb):
    document = make_document(kb, "big.pdf", status="processing", chunks_done=2, chunks_total=10)
    page.goto(f"/admin/login/?next={CHANGELIST}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    cell = page.locator(f'.doc-state[data-document-id="{document.id}"]')
    expect(cell.locator(".doc-progress-label")).to_have_text("2/10 chunks · 20%")
    page.evaluate("window.notReloaded = true")

    Document.objects.filter(id=document.id).update(chunks_done=6)
    expect(cell.locator(".doc-progress-label")).to_have_text("6/10 chunks · 60%")
    page.screenshot(path=str(ARTIFACTS / "admin-document-progress.png"))
    Document.objects.filter(id=document.id).update(status="ready", chunk_count=10)
    expect(cell).to_have_attribute("data-status", "ready")
    expect(page.locator(f'.doc-chunks[data-document-id="{document.id}"]')).to_have_text("10")
    assert page.evaluate("window.notReloaded")


@pytest.mark.django_db(transaction=True)
def test_it_shows_what_became_of_each_file_of_an_upload_in_the_browser(page, admin_user, kb):
    page.goto(f"/admin/login/?next={UPLOAD}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.select_option("#id_knowledge_base", str(kb.id))
    page.set_input_files(
        "#id_files",
        [
            {"name": "假期.txt", "mimeType": "text/plain", "buffer": "员工每年有25天年假。".encode()},
            {"name": "empty.md", "mimeType": "text/markdown", "buffer": b""},
            {"name": "travel.md", "mimeType": "text/markdown", "buffer": b"# Travel\n\nBook trains."},
        ],
    )
    page.click("input[name=_upload]")
    queued = "2 documents queued for indexing: 假期.txt, travel.md."
    rejected = "Not uploaded: empty.md: the file is empty."
    expect(page.locator(".messagelist li")).to_have_text([queued, rejected])
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "admin-upload-each-file.png"), full_page=True)
