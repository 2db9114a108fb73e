"""The error pages in headless Chromium under the site's CSP: styled, nothing refused, a way back."""

import pytest
from playwright.sync_api import expect

from chat.models import Conversation
from tests.browser import ARTIFACTS, log_in
from tests.test_browser_content_security import watched  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_deleted_conversation_shows_the_not_found_page_with_a_way_back(page, watched, user, kb):  # noqa: F811
    conversation = Conversation.objects.create(user=user, title="Holidays")
    url = conversation.get_absolute_url()
    conversation.delete()
    log_in(page, user)
    response = page.goto(url)
    assert response is not None and response.status == 404
    card = page.locator(".error-card")
    expect(card.locator("h1")).to_have_text("Page not found")
    expect(card).to_have_css("border-radius", "18px")  # the style sheet applies
    page.screenshot(path=str(ARTIFACTS / "error-404.png"))
    card.locator("a", has_text="Back to chat").click()
    expect(page.locator("textarea[name=question]")).to_be_visible()
    refused = [problem for problem in watched if "status of 404" not in problem]  # the page's own status
    assert refused == [], "\n".join(refused)


@pytest.mark.parametrize(
    ("language", "heading", "back"),
    [("en", "This page has expired", "Back to chat"), ("zh-CN", "页面已过期", "返回对话")],
)
def test_a_form_sent_without_its_csrf_cookie_shows_the_expired_page(
    page,
    watched,  # noqa: F811
    user,
    language,
    heading,
    back,
):
    page.set_extra_http_headers({"Accept-Language": language})
    page.goto("/accounts/login/")
    page.context.clear_cookies(name="csrftoken")  # as when the browser drops the site's cookies
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", f"{user.username}-password-1")
    with page.expect_response(lambda response: response.request.method == "POST") as sent:
        page.click("button[type=submit]")
    assert sent.value.status == 403
    card = page.locator(".error-card")
    expect(card.locator("h1")).to_have_text(heading)
    expect(card).to_have_css("border-radius", "18px")
    page.screenshot(path=str(ARTIFACTS / f"error-403-csrf-{language}.png"))
    card.locator("a", has_text=back).click()
    expect(page.locator("input[name=username]")).to_be_visible()  # signed out: the chat asks to sign in
    refused = [problem for problem in watched if "status of 403" not in problem]
    assert refused == [], "\n".join(refused)
