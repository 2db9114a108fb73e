"""Group memberships decide what a user reads, so every change of one is audited: in the admin (by
whom), by a directory at sign-in (by nobody signed in), from either side of the relation."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from accounts.oidc import oidc_user_sign_in
from audit.models import Event
from tests.conftest import person, signed_in
from tests.oidc import configure_oidc

pytestmark = pytest.mark.django_db


def changes() -> list[tuple[str, str, str]]:
    """(who, target, summary) of each membership event, oldest first."""
    events = Event.objects.filter(kind=Event.Kind.MEMBERSHIP).order_by("id")
    return [(event.username, event.target, event.summary) for event in events]


@pytest.fixture
def sales() -> Group:
    return Group.objects.create(name="销售部")


def test_an_administrator_changing_a_users_groups_in_the_admin_is_recorded(user, readers, sales):
    admin = User.objects.create_superuser("root", password="root-password-1")
    before = len(changes())  # the fixtures' own memberships are recorded too
    form = {
        "username": user.username,
        "is_active": "on",
        "groups": [sales.id],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    response = signed_in(admin).post(reverse("admin:auth_user_change", args=[user.id]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert changes()[before:] == [
        ("root", f"user:{user.id}", "alice: -readers"),
        ("root", f"user:{user.id}", "alice: +销售部"),
    ]
    event = Event.objects.filter(kind=Event.Kind.MEMBERSHIP).latest("id")
    detail = (event.detail["member"], event.detail["groups_added"], event.ip)
    assert detail == ("alice", ["销售部"], "127.0.0.1")


def test_memberships_given_outside_a_request_are_recorded_without_anyone(readers, sales):
    bob = person("bob", readers, sales)
    assert changes() == [("", f"user:{bob.id}", "bob: +readers +销售部")]


def test_users_added_to_a_group_and_groups_cleared_are_recorded_per_user(readers, sales):
    bob, carol = person("bob"), person("carol")
    sales.user_set.add(bob, carol)
    bob.groups.add(readers)
    bob.groups.clear()
    assert [summary for _who, _target, summary in changes()] == [
        "bob: +销售部",
        "carol: +销售部",
        "bob: +readers",
        "bob: -readers -销售部",
    ]


def test_a_change_that_changes_nothing_records_nothing(readers):
    bob = person("bob", readers)
    bob.groups.add(readers)
    bob.groups.remove(Group.objects.create(name="empty"))
    assert len(changes()) == 1


def test_groups_an_oidc_sign_in_mirrors_are_recorded(settings):
    configure_oidc(settings)
    claims = {"sub": "subject-1", "preferred_username": "wangfang"}
    oidc_user_sign_in(claims=claims | {"groups": ["engineering", "销售部"]})
    oidc_user_sign_in(claims=claims | {"groups": ["engineering"]})
    assert [summary for _who, _target, summary in changes()] == [
        "wangfang: +engineering +销售部",
        "wangfang: -销售部",
    ]
