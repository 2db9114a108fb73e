"""LDAP / Active Directory sign-in against a real OpenLDAP server (tests/directory.py): users come
from the directory with their names, e-mail and groups, kept in sync at every sign-in; the groups
decide the knowledge bases they read; a directory that cannot be asked fails the sign-in quickly
with a message that says so; local accounts keep working."""

import socket
import time
from collections.abc import Iterator

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User
from django.test import Client

from accounts.ldap import VARIABLES, ldap_settings, with_ldap_backend
from accounts.templatetags.names import full_name
from audit.models import Event
from knowledge.models import KnowledgeBase
from tests.conftest import person
from tests.directory import SUFFIX
from tests.processes import free_port

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
ALICE = f"uid=alice,ou=people,{SUFFIX}"
ENGINEERING = f"cn=engineering,ou=groups,{SUFFIX}"
FINANCE = "财务部"
WRONG_PASSWORD = "Please enter a correct username and password"
UNREACHABLE = "The company directory did not answer"


@pytest.fixture
def use_ldap(directory, monkeypatch, settings):
    """Configure LDAP sign-in as the app does at start, from the service-account search setup with
    every group mirrored, changed by the LDAP_* variables given."""

    def configure(**variables: str) -> None:
        for name in VARIABLES:
            monkeypatch.delenv(name, raising=False)
        defaults = {
            "LDAP_SERVER_URI": directory.uri,
            "LDAP_BIND_DN": f"cn=kbchat,{SUFFIX}",
            "LDAP_BIND_PASSWORD": "service-password-1",
            "LDAP_USER_SEARCH_BASE": f"ou=people,{SUFFIX}",
            "LDAP_GROUP_SEARCH_BASE": f"ou=groups,{SUFFIX}",
            "LDAP_MIRROR_GROUPS": "*",
        }
        for name, value in (defaults | variables).items():
            if value:
                monkeypatch.setenv(name, value)
        for name, value in ldap_settings().items():
            setattr(settings, name, value)
        settings.AUTHENTICATION_BACKENDS = with_ldap_backend(settings.AUTHENTICATION_BACKENDS)

    return configure


@pytest.fixture
def ldap(use_ldap) -> None:
    use_ldap()


def sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def knowledge_base(name: str, slug: str, group_name: str) -> KnowledgeBase:
    created = KnowledgeBase.objects.create(name=name, slug=slug)
    created.groups.add(Group.objects.get_or_create(name=group_name)[0])
    return created


def test_it_creates_the_user_with_names_and_email_from_the_directory(client, ldap):
    assert sign_in(client, "alice", "alice-directory-1").status_code == 302
    alice = User.objects.get(username="alice")
    assert (alice.first_name, alice.last_name, alice.email) == ("Alice", "Liddell", "alice@example.com")
    assert not alice.has_usable_password()  # the directory holds it, not this app
    assert client.get("/").status_code == 200


def test_it_keeps_chinese_names_and_group_names(client, ldap):
    assert sign_in(client, "bob", "bob-directory-1").status_code == 302
    bob = User.objects.get(username="bob")
    assert (bob.first_name, bob.last_name) == ("小明", "王")
    assert list(bob.groups.values_list("name", flat=True)) == [FINANCE]
    assert '<span class="account-name" title="bob">王小明</span>' in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("first", "last", "shown"),
    [("小明", "王", "王小明"), ("Alice", "Liddell", "Alice Liddell"), ("", "", "someone")],
)
def test_names_are_shown_in_their_own_order(first, last, shown):
    assert full_name(User(username="someone", first_name=first, last_name=last)) == shown


def test_it_refuses_a_wrong_password_and_the_throttle_counts_it(client, ldap, settings):
    settings.AXES_FAILURE_LIMIT = 2
    refused = sign_in(client, "alice", "alice-password-guess")
    assert refused.status_code == 200 and WRONG_PASSWORD in refused.content.decode()
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 1
    assert sign_in(client, "alice", "alice-password-guess").status_code == 429
    assert sign_in(client, "alice", "alice-directory-1").status_code == 429  # paused, even when right
    assert not User.objects.filter(username="alice").exists()


def test_it_refuses_someone_the_directory_does_not_know(client, ldap):
    assert WRONG_PASSWORD in sign_in(client, "mallory", "anything-1").content.decode()
    assert not User.objects.filter(username="mallory").exists()


def test_a_user_reads_the_knowledge_bases_of_their_directory_groups(client, ldap):
    knowledge_base("Engineering wiki", "wiki", "engineering")
    knowledge_base("财务制度", "finance", FINANCE)
    sign_in(client, "alice", "alice-directory-1")
    page = client.get("/").content.decode()
    assert "Engineering wiki" in page and "财务制度" not in page
    bob = Client()
    sign_in(bob, "bob", "bob-directory-1")
    page = bob.get("/").content.decode()
    assert "财务制度" in page and "Engineering wiki" not in page


@pytest.fixture
def alice_leaves_engineering(directory) -> Iterator[None]:
    """Takes alice out of engineering in the directory; puts her back after the test."""
    change = f"dn: {ENGINEERING}\nchangetype: modify\n{{action}}: member\nmember: {ALICE}\n"
    yield lambda: directory.modify(change.format(action="delete"))
    directory.modify(change.format(action="add"))


def test_leaving_a_group_in_the_directory_removes_access_at_the_next_sign_in(
    client, ldap, alice_leaves_engineering
):
    knowledge_base("Engineering wiki", "wiki", "engineering")
    sign_in(client, "alice", "alice-directory-1")
    assert "Engineering wiki" in client.get("/").content.decode()
    client.logout()
    alice_leaves_engineering()
    assert sign_in(client, "alice", "alice-directory-1").status_code == 302
    assert "Engineering wiki" not in client.get("/").content.decode()
    assert not User.objects.get(username="alice").groups.exists()
    changes = Event.objects.filter(kind=Event.Kind.MEMBERSHIP).order_by("id")
    assert [event.summary for event in changes] == ["alice: +engineering", "alice: -engineering"]
    assert changes.last().user is None  # the directory's doing, while signing in


@pytest.fixture
def alice_renamed(directory) -> Iterator[None]:
    change = f"dn: {ALICE}\nchangetype: modify\nreplace: {{attribute}}\n{{attribute}}: {{value}}\n"
    yield lambda: directory.modify(change.format(attribute="mail", value="alice@example.org"))
    directory.modify(change.format(attribute="mail", value="alice@example.com"))


def test_names_and_email_follow_the_directory_at_every_sign_in(client, ldap, alice_renamed):
    sign_in(client, "alice", "alice-directory-1")
    client.logout()
    alice_renamed()
    sign_in(client, "alice", "alice-directory-1")
    assert User.objects.get(username="alice").email == "alice@example.org"


def test_only_the_groups_named_are_decided_by_the_directory(client, use_ldap):
    use_ldap(LDAP_MIRROR_GROUPS="engineering")
    alice = directory_account("alice", Group.objects.create(name="contractors"))  # a group from the admin
    sign_in(client, "alice", "alice-directory-1")
    assert set(alice.groups.values_list("name", flat=True)) == {"contractors", "engineering"}
    sign_in(Client(), "bob", "bob-directory-1")
    assert not Group.objects.filter(name=FINANCE).exists()


def test_nested_groups_count_when_the_group_type_says_so(client, use_ldap):
    use_ldap(LDAP_GROUP_TYPE="nestedGroupOfNames")
    sign_in(client, "alice", "alice-directory-1")
    assert set(User.objects.get(username="alice").groups.values_list("name", flat=True)) == {
        "engineering",
        "staff",
    }


def test_it_signs_in_by_a_dn_template_without_a_service_account(client, use_ldap):
    use_ldap(
        LDAP_BIND_DN="",
        LDAP_BIND_PASSWORD="",
        LDAP_USER_SEARCH_BASE="",
        LDAP_USER_DN_TEMPLATE=f"uid=%(user)s,ou=people,{SUFFIX}",
    )
    assert sign_in(client, "bob", "bob-directory-1").status_code == 302
    bob = User.objects.get(username="bob")
    assert bob.last_name == "王" and list(bob.groups.values_list("name", flat=True)) == [FINANCE]
    assert WRONG_PASSWORD in sign_in(Client(), "bob", "wrong-password-1").content.decode()


def directory_account(name: str, *groups: Group) -> User:
    """An account made in the admin and handed to the directory: its local password turned off."""
    account = person(name, *groups)
    account.set_unusable_password()
    account.save(update_fields=["password"])
    return account


def test_a_local_account_with_a_password_is_not_taken_over_by_the_directory(client, ldap):
    erin = person("erin", Group.objects.create(name="administrators"))  # erin is in the directory too
    assert WRONG_PASSWORD in sign_in(client, "erin", "erin-directory-1").content.decode()
    assert sign_in(client, "erin", "erin-password-1").status_code == 302  # her local password
    assert list(erin.groups.values_list("name", flat=True)) == ["administrators"]


def test_an_account_handed_to_the_directory_signs_in_through_it(client, ldap):
    erin = directory_account("erin", Group.objects.create(name="administrators"))
    assert sign_in(client, "erin", "erin-directory-1").status_code == 302
    erin.refresh_from_db()
    assert erin.first_name == "Erin" and list(erin.groups.values_list("name", flat=True)) == ["engineering"]


def test_local_accounts_keep_working_beside_the_directory(client, ldap):
    person("carol")
    assert sign_in(client, "carol", "carol-password-1").status_code == 302


def test_an_unreachable_directory_fails_quickly_saying_so(client, use_ldap):
    use_ldap(LDAP_SERVER_URI=f"ldap://127.0.0.1:{free_port()}")  # nothing listens there
    started = time.monotonic()
    refused = sign_in(client, "alice", "alice-directory-1")
    assert time.monotonic() - started < 6  # the machine may be busy; a hang never ends
    assert refused.status_code == 200 and UNREACHABLE in refused.content.decode()
    person("carol")  # a local account still signs in
    assert sign_in(Client(), "carol", "carol-password-1").status_code == 302


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections (the kernel does, from the backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"ldap://127.0.0.1:{listener.getsockname()[1]}"


def test_a_directory_that_never_answers_fails_the_sign_in_after_the_timeout(client, use_ldap, silent_server):
    use_ldap(LDAP_SERVER_URI=silent_server, LDAP_TIMEOUT_SECONDS="1")
    started = time.monotonic()
    refused = sign_in(client, "alice", "alice-directory-1")
    assert time.monotonic() - started < 6  # without the timeout it would wait forever
    assert UNREACHABLE in refused.content.decode()


def test_a_refused_service_account_is_reported_for_an_administrator(client, use_ldap):
    use_ldap(LDAP_BIND_PASSWORD="not-the-password")
    refused = sign_in(client, "alice", "alice-directory-1")
    assert "tell an administrator" in refused.content.decode()
    assert WRONG_PASSWORD not in refused.content.decode()


def test_it_signs_in_over_start_tls_trusting_the_ca_given(client, use_ldap, directory):
    use_ldap(LDAP_START_TLS="true", LDAP_CA_CERT_FILE=str(directory.ca_file))
    assert sign_in(client, "alice", "alice-directory-1").status_code == 302


def test_a_certificate_it_cannot_trust_stops_the_sign_in(client, use_ldap):
    use_ldap(LDAP_START_TLS="true")  # the test CA is not among the system's
    refused = sign_in(client, "alice", "alice-directory-1")
    assert refused.status_code == 200 and "tell an administrator" in refused.content.decode()
    assert not User.objects.filter(username="alice").exists()


def test_the_directory_problem_is_explained_in_chinese(client, use_ldap):
    use_ldap(LDAP_SERVER_URI=f"ldap://127.0.0.1:{free_port()}")
    refused = client.post(
        LOGIN, {"username": "alice", "password": "alice-directory-1"}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert "公司目录" in refused.content.decode()


def test_with_local_accounts_off_the_directory_still_signs_in_with_a_password(client, ldap, settings):
    settings.LOCAL_SIGN_IN = False
    person("local")  # a local account with a password: switched off with LOCAL_SIGN_IN=false
    assert 'name="password"' in client.get(LOGIN).content.decode()
    assert sign_in(client, "local", "local-password-1").status_code != 302
    assert sign_in(client, "alice", "alice-directory-1").status_code == 302
