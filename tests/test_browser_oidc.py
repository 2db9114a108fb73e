"""Single sign-on with a real OIDC provider, through the whole redirect flow in headless Chromium: our
sign-in page, the provider's sign-in and consent pages, back to the chat signed in."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import Page, expect

from knowledge.models import KnowledgeBase
from tests.browser import ARTIFACTS
from tests.oidc import configure_oidc, person_at_provider, sign_in_at_provider, sso, sso_page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def handbooks(db) -> None:
    """An engineering handbook read by the group `engineering`, a price list read by `sales`."""
    for group, name in (("engineering", "Engineering handbook"), ("sales", "Sales price list")):
        knowledge_base = KnowledgeBase.objects.create(name=name, slug=group)
        knowledge_base.groups.add(Group.objects.create(name=group))


def readable(page: Page) -> list[str]:
    """The knowledge bases the signed-in user may read, as the app's API lists them."""
    return [kb["name"] for kb in page.request.get("/api/v1/knowledge-bases/").json()["results"]]


def sign_in(page: Page) -> None:
    page.goto("/")
    sign_in_at_provider(page, "wangfang")
    expect(page.locator("textarea[name=question]")).to_be_visible()


def test_the_first_sign_in_creates_the_user_with_name_email_and_groups(sso_page, sso, handbooks):  # noqa: F811
    sso[1].set_people(
        {
            "wangfang": person_at_provider(
                "wangfang", "engineering", given_name="Fang", family_name="Wang", email="fang@example.com"
            )
        }
    )
    sign_in(sso_page)
    expect(sso_page.locator(".sidebar-foot .account-name")).to_have_text("Fang Wang")
    user = User.objects.get(username="wangfang")
    assert (user.first_name, user.last_name, user.email) == ("Fang", "Wang", "fang@example.com")
    assert not user.has_usable_password()
    assert readable(sso_page) == ["Engineering handbook"]


def test_groups_changed_at_the_provider_change_access_at_the_next_sign_in(sso_page, sso, handbooks):  # noqa: F811
    provider = sso[1]
    provider.set_people({"wangfang": person_at_provider("wangfang", "engineering", email="fang@example.com")})
    sign_in(sso_page)
    assert readable(sso_page) == ["Engineering handbook"]
    sso_page.get_by_role("button", name="Log out").click()
    provider.set_people({"wangfang": person_at_provider("wangfang", "sales", email="wang.fang@example.com")})
    sso_page.context.clear_cookies()  # signed out at the provider too
    sign_in(sso_page)
    assert readable(sso_page) == ["Sales price list"]
    assert User.objects.get(username="wangfang").email == "wang.fang@example.com"


def test_declining_at_the_provider_shows_why_on_the_sign_in_page(sso_page, sso):  # noqa: F811
    sso[1].set_people({"wangfang": person_at_provider("wangfang")})
    sso_page.goto("/accounts/login/")
    sign_in_at_provider(sso_page, "wangfang", approve=False)
    expect(sso_page.get_by_role("alert")).to_have_text("Keycloak did not sign you in. Please try again.")
    expect(sso_page.get_by_role("link", name="Sign in with Keycloak")).to_be_visible()
    assert not User.objects.filter(username="wangfang").exists()
    sso_page.screenshot(path=str(ARTIFACTS / "sign-in-sso-declined.png"))


def test_a_user_switched_off_in_the_admin_is_refused(sso_page, sso, handbooks):  # noqa: F811
    sso[1].set_people({"wangfang": person_at_provider("wangfang", "engineering")})
    sign_in(sso_page)
    User.objects.filter(username="wangfang").update(is_active=False)
    sso_page.context.clear_cookies()
    sso_page.goto("/")
    sign_in_at_provider(sso_page, "wangfang")
    expect(sso_page.get_by_role("alert")).to_have_text("Your account is switched off. Ask an administrator.")
    assert sso_page.request.get("/api/v1/knowledge-bases/").status == 401  # not signed in


def test_a_tampered_state_is_refused_with_a_clean_error(sso_page, sso):  # noqa: F811
    sso[1].set_people({"wangfang": person_at_provider("wangfang")})
    sso_page.goto("/accounts/login/")
    started = sso_page.request.get("/accounts/oidc/start/", max_redirects=0)  # state kept in our session
    authorize = urlsplit(started.headers["location"])
    query = {key: values[0] for key, values in parse_qs(authorize.query).items()}
    sso_page.goto(authorize._replace(query=urlencode({**query, "state": "forged-elsewhere"})).geturl())
    sso_page.fill("input[name=username]", "wangfang")
    sso_page.fill("input[name=password]", "wangfang-provider-password")
    sso_page.get_by_role("button", name="Sign in at the provider").click()
    sso_page.get_by_role("button", name="Authorize").click()
    expect(sso_page.get_by_role("alert")).to_have_text(
        "This sign-in link has expired or is not valid. Please try again."
    )
    assert not User.objects.filter(username="wangfang").exists()


@pytest.mark.parametrize(
    ("language", "button"), [("en-US", "Sign in with Keycloak"), ("zh-CN", "使用 Keycloak 登录")]
)
def test_the_sign_in_page_offers_the_provider(sso_page, sso, language, button):  # noqa: F811
    sso_page.set_extra_http_headers({"Accept-Language": language})
    sso_page.goto("/accounts/login/")
    expect(sso_page.get_by_role("link", name=button)).to_be_visible()
    expect(sso_page.locator("input[name=password]")).to_be_visible()
    sso_page.screenshot(path=str(ARTIFACTS / f"sign-in-sso-{language}.png"))


def test_with_local_sign_in_off_the_page_offers_the_provider_alone(sso_page, sso, settings, client):  # noqa: F811
    configure_oidc(settings, provider_name="Keycloak")
    settings.LOCAL_SIGN_IN = False
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    sso_page.goto("/accounts/login/")  # the app's origin, for its stylesheet
    sso_page.set_content(html)
    expect(sso_page.get_by_role("link", name="使用 Keycloak 登录")).to_be_visible()
    expect(sso_page.locator("input[name=password]")).to_have_count(0)
    sso_page.screenshot(path=str(ARTIFACTS / "sign-in-sso-only-zh-CN.png"))
