"""Copying an answer keeps its citation markers and adds the sources they point to."""

import pytest
from playwright.sync_api import expect

from chat.citations import shown_location
from chat.models import Message
from tests.browser import log_in
from tests.conftest import CORPUS, ingest
from tests.test_browser_chat import ask

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_copied_answer_keeps_its_markers_and_lists_its_sources(page, user, kb, fake_llm):
    guide = ingest(kb, CORPUS)
    fake_llm.script(reasoning="查资料。", content="DeepSeek-V3 共有 **6710 亿**参数 [1]。\n\n它开源 [1]。")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, user)
    ask(page, "DeepSeek-V3 有多少参数？")
    answer = page.locator(".msg-assistant").last
    expect(answer.locator(".msg-actions")).to_be_visible(timeout=60_000)
    expect(answer.locator("a.cite").first).to_have_text("1")  # shown as a bare number

    answer.locator(".action-copy").click()
    expect(answer.locator(".action-copy use")).to_have_attribute("href", "#i-check")
    copied = page.evaluate("navigator.clipboard.readText()")
    citation = Message.objects.get(role=Message.Role.ASSISTANT).citations[0]
    where = shown_location(citation)
    source = f"[1] {guide.title}" + (f" — {where}" if where else "")
    assert copied == f"DeepSeek-V3 共有 6710 亿参数 [1]。\n\n它开源 [1]。\n\nSources\n{source}"
    expect(answer.locator("a.cite").first).to_have_text("1")  # the page itself is unchanged
