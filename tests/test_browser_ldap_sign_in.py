"""Signing in with a directory account in the browser, on the app as it starts from LDAP_* variables:
the person lands on the chat page under their directory name, offered their groups' knowledge bases."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser import ARTIFACTS
from tests.directory import SUFFIX
from tests.processes import asgi_server
from tests.test_ldap_sign_in import FINANCE, knowledge_base

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def live_app(django_db_setup, directory, tmp_path_factory):
    """The app under uvicorn, configured for the test directory (the `page` fixture opens it)."""
    data_dir = tmp_path_factory.mktemp("ldap-app")
    ldap = {
        "LDAP_SERVER_URI": directory.uri,
        "LDAP_START_TLS": "true",
        "LDAP_CA_CERT_FILE": str(directory.ca_file),
        "LDAP_BIND_DN": f"cn=kbchat,{SUFFIX}",
        "LDAP_BIND_PASSWORD": "service-password-1",
        "LDAP_USER_SEARCH_BASE": f"ou=people,{SUFFIX}",
        "LDAP_GROUP_SEARCH_BASE": f"ou=groups,{SUFFIX}",
        "LDAP_MIRROR_GROUPS": "*",
    }
    with asgi_server(data_dir, log=data_dir / "server.log", **ldap) as url:
        yield url, data_dir


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def offered_knowledge_bases(page: Page) -> list[str]:
    expect(page.locator("textarea[name=question]")).to_be_visible()
    page.click("#kb-menu summary")
    return page.locator("#kb-menu .menu-item span").all_inner_texts()


def test_a_directory_user_signs_in_to_their_groups_knowledge_bases(page):
    knowledge_base("Engineering wiki", "wiki", "engineering")
    knowledge_base("财务制度", "finance", FINANCE)
    sign_in(page, "alice", "alice-directory-1")
    assert offered_knowledge_bases(page) == ["Engineering wiki"]
    expect(page.locator(".account-name")).to_have_text("Alice Liddell")
    page.screenshot(path=str(ARTIFACTS / "ldap-sign-in-en.png"))


def test_a_wrong_directory_password_is_refused_in_chinese(page):
    knowledge_base("Engineering wiki", "wiki", "engineering")
    knowledge_base("财务制度", "finance", FINANCE)
    page.set_extra_http_headers({"Accept-Language": "zh-CN"})
    sign_in(page, "bob", "not-his-password")
    expect(page.locator(".form-error")).to_contain_text("请输入一个正确的用户名和密码")
    page.screenshot(path=str(ARTIFACTS / "ldap-wrong-password-zh.png"))
    sign_in(page, "bob", "bob-directory-1")
    assert offered_knowledge_bases(page) == ["财务制度"]
    expect(page.locator(".account-name")).to_have_text("王小明")
    page.screenshot(path=str(ARTIFACTS / "ldap-sign-in-zh.png"))
