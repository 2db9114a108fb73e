"""The API keys page in headless Chromium: create a key, see it once, use it, revoke it."""

import openai
import pytest
from playwright.sync_api import Page, expect

from tests.browser import ARTIFACTS, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_user_creates_uses_and_revokes_a_key(page: Page, live_app, user, kb):
    log_in(page, user)
    page.goto("/account/api-keys/")
    page.fill("input[name=name]", "知识库机器人")
    page.click("button[type=submit]:has-text('Create key')")
    secret = page.locator("input.keys-secret").input_value()
    assert secret.startswith("kb-")
    page.screenshot(path=str(ARTIFACTS / "api-keys.png"), full_page=True)
    client = openai.OpenAI(api_key=secret, base_url=f"{live_app[0]}/v1", max_retries=0)
    assert [model.id for model in client.models.list()] == ["kb:guide"]

    page.reload()
    expect(page.locator("input.keys-secret")).to_have_count(0)  # shown once
    row = page.locator("tr", has_text="知识库机器人")
    expect(row).not_to_contain_text("never")  # it was used
    row.locator("button:has-text('Revoke')").click()
    expect(page.locator("tr", has_text="知识库机器人")).to_contain_text("revoked")
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
