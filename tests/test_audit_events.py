"""Each action the audit log records writes exactly one event, with who did it and to what, from every
page, endpoint and command that does it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from api.models import ApiKey
from api.services import api_key_create
from audit.models import Event
from chat.models import Conversation
from knowledge import services
from knowledge.models import Document, KnowledgeBase
from tests.api_fixtures import ApiClient, key_for
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db
KBS = "/api/v1/knowledge-bases/"
api = pytest.mark.usefixtures("api_test")


def only(kind: Event.Kind) -> Event:
    """The one event of this kind (fails when there are none or several)."""
    return Event.objects.get(kind=kind)


def seen(event: Event) -> tuple:
    return (event.username, event.target, event.summary)


def sign_in(client: Client, username: str, password: str):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR="10.1.2.3"
    )


def test_it_records_a_sign_in_with_the_address(client, user):
    sign_in(client, "alice", "alice-password-1")
    event = only(Event.Kind.SIGN_IN)
    assert (event.user, event.ip) == (user, "10.1.2.3")
    assert event.detail == {"backend": "accounts.local.LocalPasswordBackend"}


def test_it_records_a_failed_sign_in_by_name_without_the_password(client, user):
    sign_in(client, "alice", "a-wrong-secret")
    event = only(Event.Kind.SIGN_IN_FAILED)
    assert (event.user, event.username, event.ip) == (None, "alice", "10.1.2.3")
    assert "a-wrong-secret" not in str(list(Event.objects.values()))


def test_it_records_a_sign_out(user):
    client = signed_in(user)
    client.post(reverse("logout"), REMOTE_ADDR="10.1.2.3")
    event = only(Event.Kind.SIGN_OUT)
    assert (event.user, event.ip) == (user, "10.1.2.3")


def test_signing_out_when_not_signed_in_records_nothing(client):
    client.post(reverse("logout"))
    assert not Event.objects.filter(kind=Event.Kind.SIGN_OUT).exists()


def upload_in_admin(client: Client, kb: KnowledgeBase, *files):
    return client.post(
        reverse("admin:knowledge_document_add"), {"knowledge_base": kb.id, "files": list(files)}
    )


def test_an_upload_in_the_admin_is_one_event_naming_its_documents(manager, kb, sent):
    files = [SimpleUploadedFile("假期.txt", "年假25天。".encode()), SimpleUploadedFile("b.md", b"# B")]
    upload_in_admin(signed_in(manager), kb, *files)
    event = only(Event.Kind.UPLOAD)
    documents = list(Document.objects.order_by("id"))
    assert seen(event) == ("carol", f"knowledge_base:{kb.id}", "假期.txt, b.md")
    assert event.detail["documents"] == [{"id": d.id, "title": d.title} for d in documents]
    assert (event.detail["created"], event.detail["knowledge_base"]) == (2, "Guide")


@api
@pytest.mark.django_db(transaction=True)
def test_an_upload_over_the_api_names_its_document(as_manager, kb):
    response = as_manager.upload(f"{KBS}guide/documents/", [SimpleUploadedFile("a.txt", b"Leave.")])
    document = Document.objects.get(id=response.json()["created"][0]["id"])
    assert seen(only(Event.Kind.UPLOAD)) == ("carol", f"document:{document.id}", "a.txt")


def test_reindexing_in_the_admin_is_recorded(manager, kb, sent):
    document = Document.objects.create(knowledge_base=kb, title="手册.pdf", sha256="x")
    changelist = reverse("admin:knowledge_document_changelist")
    signed_in(manager).post(changelist, {"action": "reindex", "_selected_action": [document.id]})
    assert seen(only(Event.Kind.REINDEX)) == ("carol", f"document:{document.id}", "手册.pdf")


@api
@pytest.mark.django_db(transaction=True)
def test_reindexing_over_the_api_is_recorded(as_manager, kb, sent):
    document = Document.objects.create(knowledge_base=kb, title="a.txt", sha256="x")
    as_manager.post(f"/api/v1/documents/{document.id}/reindex/")
    assert seen(only(Event.Kind.REINDEX)) == ("carol", f"document:{document.id}", "a.txt")


def test_rebuilding_an_index_from_the_command_is_recorded_without_a_user(kb):
    call_command("rebuild_index", "--kb", "guide", stdout=None)
    event = only(Event.Kind.REINDEX)
    assert (event.user, event.target, event.detail) == (None, f"knowledge_base:{kb.id}", {"vectors": 0})


def test_deleting_a_document_in_the_admin_is_recorded(manager, kb):
    document = Document.objects.create(knowledge_base=kb, title="旧手册.pdf", sha256="x", size=12)
    signed_in(manager).post(reverse("admin:knowledge_document_delete", args=[document.id]), {"post": "yes"})
    event = only(Event.Kind.DELETE)
    assert seen(event) == ("carol", f"document:{document.id}", "旧手册.pdf")
    assert event.detail == {"knowledge_base": "Guide", "size": 12}


@api
@pytest.mark.django_db(transaction=True)
def test_deleting_a_document_over_the_api_is_recorded(as_manager, kb):
    document = Document.objects.create(knowledge_base=kb, title="a.txt", sha256="x")
    assert as_manager.delete(f"/api/v1/documents/{document.id}/").status_code == 204
    assert seen(only(Event.Kind.DELETE)) == ("carol", f"document:{document.id}", "a.txt")


def test_a_refused_deletion_records_nothing(other_manager, kb):
    document = Document.objects.create(knowledge_base=kb, title="a.txt", sha256="x")
    signed_in(other_manager).post(
        reverse("admin:knowledge_document_delete", args=[document.id]), {"post": "yes"}
    )
    assert Document.objects.filter(id=document.id).exists()
    assert not Event.objects.filter(kind=Event.Kind.DELETE).exists()


def test_deleting_a_knowledge_base_is_one_event(manager, kb):
    Document.objects.create(knowledge_base=kb, title="a.txt", sha256="x")
    signed_in(manager).post(reverse("admin:knowledge_knowledgebase_delete", args=[kb.id]), {"post": "yes"})
    event = only(Event.Kind.DELETE)
    assert seen(event) == ("carol", f"knowledge_base:{kb.id}", "Guide")
    assert event.detail == {"slug": "guide", "documents": 1}


def test_deleting_a_conversation_is_recorded_for_its_owner(user, exchange):
    signed_in(user).post(reverse("chat:delete", args=[exchange.id]))
    event = only(Event.Kind.DELETE)
    assert seen(event) == ("alice", f"conversation:{exchange.id}", "Leave")
    assert event.detail == {"messages": 2}


def test_another_user_cannot_delete_a_conversation_or_leave_an_event(other, exchange):
    assert signed_in(other).post(reverse("chat:delete", args=[exchange.id])).status_code == 404
    assert Conversation.objects.filter(id=exchange.id).exists()
    assert not Event.objects.filter(kind=Event.Kind.DELETE).exists()


@api
@pytest.mark.django_db(transaction=True)
def test_deleting_a_conversation_over_the_api_is_recorded(as_owner, exchange):
    assert as_owner.delete(f"/api/v1/conversations/{exchange.id}/").status_code == 204
    assert seen(only(Event.Kind.DELETE)) == ("alice", f"conversation:{exchange.id}", "Leave")


def kb_form(*groups, **fields) -> dict:
    return {
        "name": "Guide",
        "slug": "guide",
        "groups": [group.id for group in groups],
        "retrieval_mode": "hybrid",
        "top_k": 5,
        "relevance_floor": 0,
        "faq_threshold": 0.9,
        "when_nothing_found": "reply",
        "chunk_overlap": 32,
        **fields,
    }


def test_giving_a_knowledge_base_to_a_group_in_the_admin_is_recorded(admin_client, kb, readers, sales):
    admin_client.post(
        reverse("admin:knowledge_knowledgebase_change", args=[kb.id]), kb_form(sales, is_public="on")
    )
    event = only(Event.Kind.PERMISSIONS)
    assert seen(event) == ("admin", f"knowledge_base:{kb.id}", "Guide: public +sales -readers")
    assert (event.detail["groups_added"], event.detail["groups_removed"]) == (["sales"], ["readers"])
    assert (event.detail["is_public"], event.detail["was_public"]) == (True, False)


def test_saving_a_knowledge_base_without_changing_its_readers_records_nothing(admin_client, kb, readers):
    admin_client.post(
        reverse("admin:knowledge_knowledgebase_change", args=[kb.id]), kb_form(readers, top_k=9)
    )
    kb.refresh_from_db()
    assert kb.top_k == 9
    assert not Event.objects.filter(kind=Event.Kind.PERMISSIONS).exists()


def test_a_new_knowledge_base_records_who_may_read_it(admin_client, readers):
    admin_client.post(reverse("admin:knowledge_knowledgebase_add"), kb_form(readers, name="人事", slug="hr"))
    hr = KnowledgeBase.objects.get(slug="hr")
    assert seen(only(Event.Kind.PERMISSIONS)) == ("admin", f"knowledge_base:{hr.id}", "人事: +readers")


@api
@pytest.mark.django_db(transaction=True)
def test_changing_readers_over_the_api_is_recorded(admin_user, kb, readers, sales):
    as_superuser = ApiClient(key_for(admin_user))
    assert as_superuser.patch(f"{KBS}guide/", {"groups": ["readers", "sales"]}).status_code == 200
    assert seen(only(Event.Kind.PERMISSIONS)) == ("admin", f"knowledge_base:{kb.id}", "Guide: +sales")
    as_superuser.patch(f"{KBS}guide/", {"top_k": 3})
    assert Event.objects.filter(kind=Event.Kind.PERMISSIONS).count() == 1


@api
@pytest.mark.django_db(transaction=True)
def test_creating_a_knowledge_base_over_the_api_records_its_readers(as_manager, readers):
    assert as_manager.post(KBS, {"name": "HR", "slug": "hr", "groups": ["readers"]}).status_code == 201
    hr = KnowledgeBase.objects.get(slug="hr")
    assert seen(only(Event.Kind.PERMISSIONS)) == ("carol", f"knowledge_base:{hr.id}", "HR: +readers")


def test_creating_an_api_key_on_the_page_is_recorded(user):
    signed_in(user).post(reverse("api:keys"), {"name": "维基机器人"})
    key = ApiKey.objects.get()
    event = only(Event.Kind.API_KEY_CREATED)
    assert seen(event) == ("alice", f"api_key:{key.id}", "维基机器人")
    assert event.detail == {"prefix": key.prefix}


def test_revoking_ones_own_key_is_recorded(user):
    key, _secret = api_key_create(user=user, name="bot")
    signed_in(user).post(reverse("api:key_revoke", args=[key.id]))
    event = only(Event.Kind.API_KEY_REVOKED)
    assert seen(event) == ("alice", f"api_key:{key.id}", "bot")
    assert event.detail == {"prefix": key.prefix, "owner": "alice"}


def test_another_user_cannot_revoke_a_key_or_leave_an_event(user, outsider):
    key, _secret = api_key_create(user=user, name="bot")
    assert signed_in(outsider).post(reverse("api:key_revoke", args=[key.id])).status_code == 404
    assert not Event.objects.filter(kind=Event.Kind.API_KEY_REVOKED).exists()


def test_an_administrator_revoking_a_key_is_recorded_as_the_administrator(admin_client, user):
    key, _secret = api_key_create(user=user, name="bot")
    changelist = reverse("admin:api_apikey_changelist")
    admin_client.post(changelist, {"action": "revoke", "_selected_action": [key.id]})
    admin_client.post(changelist, {"action": "revoke", "_selected_action": [key.id]})  # already revoked
    event = only(Event.Kind.API_KEY_REVOKED)
    assert (event.username, event.detail["owner"]) == ("admin", "alice")


def test_services_called_by_commands_record_no_user(kb):
    report = services.upload_files(knowledge_base=kb, files=[("a.txt", SimpleUploadedFile("a.txt", b"x"))])
    services.document_delete(document=report.created[0])
    assert [(e.kind, e.user) for e in Event.objects.order_by("id")] == [("upload", None), ("delete", None)]
