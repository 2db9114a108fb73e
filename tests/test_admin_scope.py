"""The admin shows and changes only the knowledge bases a manager manages (those they may read) and
their documents. The owner (`manager`) reads `kb`; another manager, with the same permissions, reads
`other_kb` only; the outsider is staff without permissions; a superuser sees everything."""

import pytest
from django.test import Client
from django.urls import reverse

from knowledge.models import Document, KnowledgeBase
from tests.conftest import person, signed_in
from tests.test_admin import (
    CHANGELIST,
    PROGRESS,
    REINDEX_FAILED,
    UPLOAD,
    make_document,
    messages_of,
    text_file,
)

KBS = reverse("admin:knowledge_knowledgebase_changelist")


@pytest.fixture
def owner_admin(manager) -> Client:
    return signed_in(manager)


@pytest.fixture
def other_admin(other_manager) -> Client:
    return signed_in(other_manager)


@pytest.fixture
def outsider_admin(db) -> Client:
    staff = person("mallory")
    staff.is_staff = True
    staff.save()
    return signed_in(staff)


@pytest.fixture
def ours(kb) -> Document:
    return make_document(kb, "ours.txt", status="failed", error="Scanned PDF")


@pytest.fixture
def theirs(other_kb) -> Document:
    return make_document(other_kb, "theirs-secret.txt", status="failed", error="Scanned PDF")


def listed(client: Client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200
    return sorted(str(row) for row in response.context["cl"].result_list)


def kb_url(action: str, knowledge_base: KnowledgeBase) -> str:
    return reverse(f"admin:knowledge_knowledgebase_{action}", args=[knowledge_base.id])


def document_url(action: str, document: Document) -> str:
    return reverse(f"admin:knowledge_document_{action}", args=[document.id])


def test_it_lists_the_knowledge_bases_each_manager_manages(
    owner_admin, other_admin, admin_client, kb, other_kb
):
    assert listed(owner_admin, KBS) == ["Guide"]
    assert listed(other_admin, KBS) == ["Sales price list"]
    assert listed(admin_client, KBS) == ["Guide", "Sales price list"]
    assert "Sales price list" not in owner_admin.get(KBS).content.decode()


def test_it_does_not_open_or_change_another_managers_knowledge_base(owner_admin, other_admin, kb):
    assert owner_admin.get(kb_url("change", kb)).status_code == 200
    assert other_admin.get(kb_url("change", kb)).status_code == 302  # the admin's "does not exist"
    assert other_admin.get(kb_url("history", kb)).status_code == 302
    other_admin.post(kb_url("change", kb), {"name": "Taken", "slug": "guide", "top_k": 5})
    assert KnowledgeBase.objects.get(id=kb.id).name == "Guide"


def test_it_does_not_delete_another_managers_knowledge_base(other_admin, kb):
    other_admin.post(kb_url("delete", kb), {"post": "yes"})
    other_admin.post(KBS, {"action": "delete_selected", "_selected_action": [kb.id], "post": "yes"})
    assert KnowledgeBase.objects.filter(id=kb.id).exists()


def test_it_rebuilds_the_index_of_managed_knowledge_bases_only(other_admin, kb, other_kb):
    response = other_admin.post(KBS, {"action": "rebuild_index", "_selected_action": [kb.id, other_kb.id]})
    assert messages_of(response) == ["Sales price list: search index rebuilt with 0 vectors."]


def test_it_refuses_the_knowledge_base_admin_to_an_outsider(outsider_admin, kb):
    assert outsider_admin.get(KBS).status_code == 403
    assert outsider_admin.get(kb_url("change", kb)).status_code == 403


def test_it_lists_the_documents_of_managed_knowledge_bases(
    owner_admin, other_admin, admin_client, ours, theirs
):
    assert listed(owner_admin, CHANGELIST) == ["ours.txt"]
    assert listed(other_admin, CHANGELIST) == ["theirs-secret.txt"]
    assert listed(admin_client, CHANGELIST) == ["ours.txt", "theirs-secret.txt"]


def filtered_by(client: Client) -> list[str]:
    """The names the document list offers in its knowledge-base filter (shown from two on)."""
    specs = client.get(CHANGELIST).context["cl"].filter_specs
    by_kb = [spec for spec in specs if getattr(spec, "field_path", None) == "knowledge_base"]
    return [name for spec in by_kb for _, name in spec.lookup_choices]


def test_its_knowledge_base_filter_names_managed_knowledge_bases_only(
    owner_admin, admin_client, readers, ours, theirs
):
    handbook = KnowledgeBase.objects.create(name="Handbook", slug="handbook")
    handbook.groups.add(readers)
    make_document(handbook, "leave.txt")
    assert filtered_by(owner_admin) == ["Guide", "Handbook"]
    assert filtered_by(admin_client) == ["Guide", "Handbook", "Sales price list"]


def test_it_shows_nothing_of_another_knowledge_base_filtered_by_id(owner_admin, ours, theirs):
    url = f"{CHANGELIST}?knowledge_base__id__exact={theirs.knowledge_base_id}"
    html = owner_admin.get(url).content.decode()
    assert "theirs-secret.txt" not in html and "Sales price list" not in html
    assert "Re-index all failed" not in html


def test_it_counts_and_requeues_failed_documents_of_managed_knowledge_bases(
    owner_admin, ours, theirs, sent, django_capture_on_commit_callbacks
):
    assert "Re-index all failed (1)" in owner_admin.get(CHANGELIST).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        owner_admin.post(REINDEX_FAILED, {"knowledge_base": str(theirs.knowledge_base_id)})
        owner_admin.post(REINDEX_FAILED)
    assert sent == [ours.id]
    assert Document.objects.get(id=theirs.id).status == Document.Status.FAILED


def test_it_does_not_open_change_or_delete_another_managers_document(owner_admin, other_admin, ours):
    assert owner_admin.get(document_url("change", ours)).status_code == 200
    assert other_admin.get(document_url("change", ours)).status_code == 302
    other_admin.post(document_url("change", ours), {"title": "Taken"})
    other_admin.post(document_url("delete", ours), {"post": "yes"})
    other_admin.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [ours.id], "post": "yes"})
    assert Document.objects.get(id=ours.id).title == "ours.txt"


def test_it_reindexes_selected_documents_it_manages_only(
    other_admin, ours, theirs, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        other_admin.post(CHANGELIST, {"action": "reindex", "_selected_action": [ours.id, theirs.id]})
    assert sent == [theirs.id]


def test_it_offers_managed_knowledge_bases_for_upload(owner_admin, admin_client, kb, other_kb):
    response = owner_admin.get(UPLOAD)
    field = response.context["adminform"].form["knowledge_base"]
    assert list(field.field.queryset) == [kb]
    assert field.initial == kb.id  # the only one it may choose
    assert "Sales price list" not in response.content.decode()
    assert "Sales price list" in admin_client.get(UPLOAD).content.decode()


def test_it_refuses_an_upload_into_another_managers_knowledge_base(owner_admin, other_kb):
    response = owner_admin.post(UPLOAD, {"knowledge_base": other_kb.id, "files": [text_file("a.txt", "x")]})
    assert response.status_code == 200
    assert "knowledge_base" in response.context["adminform"].form.errors
    assert not Document.objects.exists()


def test_it_reports_the_progress_of_managed_documents_only(owner_admin, admin_client, ours, theirs):
    ids = {"ids": f"{ours.id},{theirs.id}"}
    assert [state["id"] for state in owner_admin.get(PROGRESS, ids).json()["documents"]] == [ours.id]
    assert len(admin_client.get(PROGRESS, ids).json()["documents"]) == 2


def test_it_refuses_the_document_admin_to_an_outsider(outsider_admin, ours):
    for url in (CHANGELIST, UPLOAD, document_url("change", ours)):
        assert outsider_admin.get(url).status_code == 403
    assert outsider_admin.get(PROGRESS, {"ids": str(ours.id)}).status_code == 403
    assert outsider_admin.post(REINDEX_FAILED).status_code == 403
