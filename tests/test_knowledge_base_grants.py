"""Whom a manager may let read a knowledge base, in the admin and the REST API: only groups they are
in; groups they are not in stay; only a superuser makes one readable by everyone; and a manager's
knowledge base stays readable by one of their groups, so it does not vanish from their view."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from knowledge.models import KnowledgeBase
from tests.api_fixtures import ApiClient, key_for
from tests.conftest import signed_in

ADD = reverse("admin:knowledge_knowledgebase_add")
KBS = "/api/v1/knowledge-bases/"
api = pytest.mark.usefixtures("api_test")


@pytest.fixture
def owner_admin(manager):
    return signed_in(manager)


@pytest.fixture
def as_superuser(admin_user) -> ApiClient:
    return ApiClient(key_for(admin_user))


def change_url(knowledge_base: KnowledgeBase) -> str:
    return reverse("admin:knowledge_knowledgebase_change", args=[knowledge_base.id])


def kb_form(*groups: Group, **fields) -> dict:
    """The admin form of a knowledge base read by `groups`."""
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


def readers_of(knowledge_base: KnowledgeBase) -> list[str]:
    return sorted(knowledge_base.groups.values_list("name", flat=True))


def test_it_offers_a_manager_only_their_own_groups(owner_admin, admin_client, readers, sales):
    assert list(owner_admin.get(ADD).context["adminform"].form.fields["groups"].queryset) == [readers]
    assert list(admin_client.get(ADD).context["adminform"].form.fields["groups"].queryset) == [readers, sales]


def test_it_rejects_a_forged_group_in_the_admin(owner_admin, kb, readers, sales):
    response = owner_admin.post(change_url(kb), kb_form(readers, sales))
    assert "groups" in response.context["adminform"].form.errors
    assert readers_of(kb) == ["readers"]


def test_it_keeps_the_groups_the_manager_is_not_in(owner_admin, kb, readers, sales):
    kb.groups.add(sales)
    assert (
        "Also read by groups you are not in, which stay: sales"
        in owner_admin.get(change_url(kb)).content.decode()
    )
    assert owner_admin.post(change_url(kb), kb_form(readers)).status_code == 302
    assert readers_of(kb) == ["readers", "sales"]


def test_only_a_superuser_makes_a_knowledge_base_public_in_the_admin(owner_admin, admin_client, kb, readers):
    owner_admin.post(change_url(kb), kb_form(readers, is_public="on"))
    assert not KnowledgeBase.objects.get(id=kb.id).is_public
    admin_client.post(change_url(kb), kb_form(readers, is_public="on"))
    assert KnowledgeBase.objects.get(id=kb.id).is_public


def test_a_managers_new_knowledge_base_needs_one_of_their_groups(owner_admin, readers):
    response = owner_admin.post(ADD, kb_form())
    assert response.context["adminform"].form.errors["groups"] == [
        "Choose at least one of your groups: without one you could not see this knowledge base after saving."
    ]
    assert owner_admin.post(ADD, kb_form(readers)).status_code == 302
    assert readers_of(KnowledgeBase.objects.get(slug="guide")) == ["readers"]


def test_a_manager_cannot_take_their_last_group_off_in_the_admin(owner_admin, kb, sales):
    kb.groups.add(sales)
    response = owner_admin.post(change_url(kb), kb_form())
    assert "groups" in response.context["adminform"].form.errors
    assert readers_of(kb) == ["readers", "sales"]


def invalid_fields(response) -> set[str]:
    assert response.status_code == 400, response.json()
    return set(response.json()["error"]["fields"])


@api
@pytest.mark.django_db(transaction=True)
def test_the_api_grants_only_the_managers_own_groups(as_manager, kb, sales):
    new = {"name": "价格表", "slug": "prices", "groups": ["sales"]}
    assert invalid_fields(as_manager.post(KBS, new)) == {"groups"}
    assert invalid_fields(as_manager.post(KBS, {**new, "groups": ["nobody"]})) == {"groups"}
    assert invalid_fields(as_manager.patch(f"{KBS}guide/", {"groups": ["readers", "sales"]})) == {"groups"}
    assert not KnowledgeBase.objects.filter(slug="prices").exists()
    assert readers_of(kb) == ["readers"]


@api
@pytest.mark.django_db(transaction=True)
def test_the_api_keeps_the_groups_the_manager_is_not_in(as_manager, kb, sales):
    kb.groups.add(sales)
    response = as_manager.patch(f"{KBS}guide/", {"groups": ["readers"]})
    assert response.json()["groups"] == ["readers", "sales"]
    assert as_manager.patch(f"{KBS}guide/", {"groups": ["sales", "readers"]}).status_code == 200
    assert invalid_fields(as_manager.patch(f"{KBS}guide/", {"groups": []})) == {"groups"}
    assert readers_of(kb) == ["readers", "sales"]


@api
@pytest.mark.django_db(transaction=True)
def test_only_a_superuser_makes_a_knowledge_base_public_in_the_api(as_manager, as_superuser, kb):
    assert invalid_fields(as_manager.patch(f"{KBS}guide/", {"is_public": True})) == {"is_public"}
    assert as_manager.patch(f"{KBS}guide/", {"is_public": False, "top_k": 3}).status_code == 200
    assert as_superuser.patch(f"{KBS}guide/", {"is_public": True}).status_code == 200
    assert KnowledgeBase.objects.get(id=kb.id).is_public


@api
@pytest.mark.django_db(transaction=True)
def test_a_managers_new_knowledge_base_needs_one_of_their_groups_in_the_api(
    as_manager, as_superuser, readers
):
    assert invalid_fields(as_manager.post(KBS, {"name": "人事", "slug": "hr"})) == {"groups"}
    assert as_superuser.post(KBS, {"name": "人事", "slug": "hr"}).status_code == 201
