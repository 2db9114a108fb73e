"""Documents at ingestion: every term flags the document with its passage, shown on the document's
admin page; a block list's term keeps it out of the index."""

import pytest
from django.urls import reverse

from audit.models import Event
from knowledge import ingestion
from knowledge.models import Chunk, Document
from policy import services
from policy.models import Flag, WordList
from tests.conftest import ingest_texts
from tests.policy_lists import word_list

pytestmark = pytest.mark.django_db
HANDBOOK = {
    "handbook.txt": "Travel policy. Book flights through the portal.\n\n"
    "采购须知：内部价格不得外传。Project Falcon is confidential."
}


def ingested(kb, tmp_path) -> Document:
    ingest_texts(kb, tmp_path, HANDBOOK)
    return Document.objects.get()


def test_a_logged_term_flags_the_document_and_it_is_indexed(kb, tmp_path, manager):
    word_list("watch", WordList.Action.LOG, "内部价格")
    document = ingested(kb, tmp_path)
    assert document.status == Document.Status.READY and Chunk.objects.count() >= 1
    flag = Flag.objects.get(document=document)
    assert (flag.list_name, flag.action, flag.term) == ("watch", "log", "内部价格")
    assert flag.passage[flag.term_start : flag.term_end] == "内部价格" and "采购须知" in flag.passage


def test_a_masked_term_flags_the_document_and_it_is_indexed(kb, tmp_path):
    word_list("codes", WordList.Action.MASK, "project falcon")
    document = ingested(kb, tmp_path)
    assert document.status == Document.Status.READY
    assert Flag.objects.get(document=document).term == "project falcon"


def test_a_blocked_term_keeps_the_document_out_of_the_index_with_the_reason(kb, tmp_path):
    word_list("禁止", WordList.Action.BLOCK, "内部价格")
    document = ingested(kb, tmp_path)
    assert document.status == Document.Status.FAILED and not Chunk.objects.exists()
    assert "内部价格" in document.error and "禁止" in document.error
    assert Flag.objects.get(document=document).action == "block"


def test_each_hit_is_audited_against_the_document(kb, tmp_path):
    word_list("watch", WordList.Action.LOG, "内部价格", "Falcon")
    document = ingested(kb, tmp_path)
    events = Event.objects.filter(kind=Event.Kind.POLICY).order_by("id")
    assert [(e.target, e.detail["where"], e.detail["term"]) for e in events] == [
        (f"document:{document.id}", "document", "内部价格"),
        (f"document:{document.id}", "document", "Falcon"),
    ]


def test_reindexing_after_the_list_changes_clears_the_flags(kb, tmp_path):
    listed = word_list("禁止", WordList.Action.BLOCK, "内部价格")
    document = ingested(kb, tmp_path)
    services.word_list_delete(word_list=listed)
    Document.objects.filter(id=document.id).update(status=Document.Status.QUEUED)
    ingestion.ingest_documents(document_ids=[document.id])
    document.refresh_from_db()
    assert document.status == Document.Status.READY and not Flag.objects.exists()


def test_the_document_page_shows_the_flag_with_the_term_marked(kb, tmp_path, manager, client):
    word_list("watch", WordList.Action.LOG, "内部价格")
    document = ingested(kb, tmp_path)
    client.force_login(manager)  # a knowledge manager, with no permission on word lists
    page = client.get(reverse("admin:knowledge_document_change", args=[document.id])).content.decode()
    assert "Content policy flags" in page and "<mark>内部价格</mark>" in page and "watch" in page


def test_the_document_list_filters_flagged_and_blocked_documents(kb, tmp_path, admin_client):
    word_list("禁止", WordList.Action.BLOCK, "内部价格")
    ingest_texts(kb, tmp_path, HANDBOOK | {"clean.txt": "Nothing to see here."})
    changelist = reverse("admin:knowledge_document_changelist")
    for value in ("flagged", "blocked"):
        page = admin_client.get(changelist, {"policy": value}).content.decode()
        assert "handbook.txt" in page and "clean.txt" not in page
    assert "clean.txt" in admin_client.get(changelist).content.decode()
