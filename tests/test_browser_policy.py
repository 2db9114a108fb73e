"""The content policy in the browser: a withdrawn answer on the chat page, and the admin's word list
and flagged document pages in English and Chinese."""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from chat.models import Message
from knowledge.models import Document
from policy.models import WordList
from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest, ingest_texts
from tests.policy_lists import word_list

pytestmark = pytest.mark.django_db(transaction=True)
STREAMED = "这是回答的前半部分，还没有问题。"


def test_a_withdrawn_answer_leaves_only_the_notice_on_the_chat_page(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    word_list("禁止", WordList.Action.BLOCK, "违禁品")
    fake_llm.script(reasoning="先想一想。" * 8, content=STREAMED * 6 + "违禁品就在这里。", delay=0.03)
    log_in(page, user)
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")
    answer = page.locator(".msg-assistant .answer").last
    expect(answer).to_contain_text(STREAMED, timeout=30_000)  # shown while it streams
    expect(answer).to_contain_text("This answer was withdrawn", timeout=30_000)
    expect(page.locator(".msg-assistant")).not_to_contain_text(STREAMED)
    expect(page.locator(".msg-assistant details.reasoning")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "chat-answer-withdrawn.png"))
    assert "违禁品" not in page.content()
    page.reload()
    expect(page.locator(".msg-assistant .answer").last).to_contain_text("This answer was withdrawn")
    assert Message.objects.get(role="assistant").reasoning == ""


def admin_log_in(page: Page, next_url: str) -> None:
    page.goto(f"/admin/login/?next={next_url}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")


def visit_policy_pages(page: Page, listed: WordList, document: Document, suffix: str, export: str) -> None:
    page.goto(reverse("admin:policy_wordlist_change", args=[listed.id]))
    expect(page.locator(".object-tools")).to_contain_text(export)
    expect(page.locator("textarea#id_terms")).to_have_value("违禁品\n内部价格\nProject Falcon")
    page.screenshot(path=str(ARTIFACTS / f"admin-word-list{suffix}.png"), full_page=True)
    page.goto(reverse("admin:policy_wordlist_import", args=[listed.id]))
    gbk = {"name": "terms.txt", "mimeType": "text/plain", "buffer": "敏感词\n".encode("gbk")}
    page.set_input_files("#id_file", [gbk])
    page.click("input[name=_import]")
    expect(page.locator(".errorlist")).to_contain_text("UTF-8")
    page.screenshot(path=str(ARTIFACTS / f"admin-word-list-import{suffix}.png"), full_page=True)
    page.goto(reverse("admin:knowledge_document_change", args=[document.id]))
    expect(page.locator("mark").first).to_have_text("内部价格")
    page.screenshot(path=str(ARTIFACTS / f"admin-document-flags{suffix}.png"), full_page=True)


def test_the_word_list_and_flag_pages_read_in_english_and_chinese(page, live_app, admin_user, kb, tmp_path):
    listed = word_list("敏感词", WordList.Action.LOG, "违禁品", "内部价格", "Project Falcon")
    ingest_texts(kb, tmp_path, {"采购.txt": "采购须知：内部价格不得外传。\n\nProject Falcon 仍在保密。"})
    document = Document.objects.get()
    admin_log_in(page, reverse("admin:policy_wordlist_changelist"))
    expect(page.locator("#result_list")).to_contain_text("敏感词")
    visit_policy_pages(page, listed, document, "", "Export .txt")
    expect(page.locator("#content")).to_contain_text("Content policy flags")

    context = page.context.browser.new_context(
        locale="zh-CN", base_url=live_app[0], viewport={"width": 1280, "height": 860}
    )
    chinese = context.new_page()
    try:
        admin_log_in(chinese, reverse("admin:policy_wordlist_changelist"))
        expect(chinese.locator("#content")).to_contain_text("敏感词表")
        visit_policy_pages(chinese, listed, document, "-zh", "导出 .txt")
        expect(chinese.locator("#content")).to_contain_text("内容策略标记")
    finally:
        context.close()
