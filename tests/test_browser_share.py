"""Sharing in headless Chromium: the owner shares a conversation from its page, a visitor who is not
signed in opens the link and reads the answer, its sources and (as chosen) its reasoning; the owner
revokes the link and it opens nothing. In English and in Chinese."""

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import ARTIFACTS, browser_page, log_in
from tests.share_fixtures import REASONING

pytestmark = pytest.mark.django_db(transaction=True)


COPIED = {"en": "Copied", "zh-CN": "已复制"}


def _share_from_the_conversation_page(page: Page, conversation_id: int, language: str, suffix: str) -> str:
    """Open the share dialog, choose to include the reasoning, make the link and copy it; the link."""
    page.goto(f"/c/{conversation_id}/")
    page.click(".share-button")
    dialog = page.locator("#share-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("input[name=show_reasoning]").check()
    page.screenshot(path=str(ARTIFACTS / f"share-dialog{suffix}.png"))
    dialog.locator("button[type=submit]").click()
    expect(page).to_have_url("/shares/")
    link = page.locator("#new-link").input_value()
    page.click(".shares-copy")
    expect(page.locator(".shares-copy span")).to_have_text(COPIED[language])
    page.screenshot(path=str(ARTIFACTS / f"share-links{suffix}.png"), full_page=True)
    return link


@pytest.mark.parametrize("language,suffix", [("en", ""), ("zh-CN", "-zh")])
def test_the_owner_shares_a_link_a_visitor_reads_it_and_revocation_closes_it(
    request, page: Page, chromium: Browser, live_app, user, answered, language, suffix
):
    page.context.set_extra_http_headers({"Accept-Language": language})
    log_in(page, user)
    link = _share_from_the_conversation_page(page, answered.id, language, suffix)
    assert link.startswith(live_app[0] + "/s/")

    with browser_page(request, chromium, live_app[0]) as visitor:
        visitor.context.set_extra_http_headers({"Accept-Language": language})
        response = visitor.goto(link)
        assert response is not None and response.status == 200
        expect(visitor.locator(".msg-user .bubble")).to_have_text("DeepSeek-V3 有多少参数？")
        expect(visitor.locator(".answer")).to_contain_text("671B")
        expect(visitor.locator(".source-doc")).to_have_text(["DeepSeek 指南.pdf", "Price list.docx"])
        expect(visitor.locator(".source-open")).to_have_count(0)  # not signed in: no way to the originals
        expect(visitor.locator("#composer, .action-regenerate, .action-rate, .sidebar")).to_have_count(0)
        visitor.locator(".reasoning summary").click()
        expect(visitor.locator(".reasoning-text")).to_have_text(REASONING)
        visitor.locator("a.cite").first.click()
        expect(visitor.locator(".source details").first).to_have_attribute("open", "")
        visitor.screenshot(path=str(ARTIFACTS / f"shared-page{suffix}.png"), full_page=True)

        page.locator("tr[data-share-id] .keys-revoke").click()
        expect(page.locator(".keys-revoked")).to_have_count(1)
        response = visitor.goto(link)
        assert response is not None and response.status == 404
        visitor.screenshot(path=str(ARTIFACTS / f"shared-page-revoked{suffix}.png"))
