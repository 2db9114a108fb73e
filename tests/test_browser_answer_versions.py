"""The versions of an answer in the browser: "‹ 1/2 ›" switches without a reload, and the choice
stays (a reload, and the next question's history, follow it)."""

import pytest
from playwright.sync_api import Page, expect

from chat.models import Message
from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest
from tests.test_browser_chat import ask

pytestmark = pytest.mark.django_db(transaction=True)


def answered_twice(page: Page, fake_llm) -> None:
    """Ask, rate the answer down, regenerate: two versions, the second shown."""
    fake_llm.script(reasoning="First try.", content="First answer: 7B [1].")
    ask(page, "DeepSeek-V3 有多少参数？")
    first = page.locator(".msg-assistant").first
    expect(first.locator(".answer")).to_contain_text("First answer", timeout=30_000)
    first.locator(".action-rate[data-rating=down]").click()
    expect(first.locator(".action-rate[data-rating=down]")).to_have_attribute("aria-pressed", "true")
    fake_llm.script(reasoning="Second try.", content="Second answer: 671B [1].")
    first.locator(".action-regenerate").click()
    expect(page.locator(".msg-assistant:visible .answer")).to_contain_text("Second answer", timeout=30_000)
    expect(page.locator(".msg-assistant:visible .version-label")).to_have_text("2/2")


def switch(page: Page, button: str) -> None:
    with page.expect_response(lambda response: "/show/" in response.url and response.ok):
        page.locator(f".msg-assistant:visible {button}").click()


def test_it_switches_between_versions_and_remembers_the_choice(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    log_in(page, user)
    answered_twice(page, fake_llm)
    expect(page.locator(".msg-assistant:visible")).to_have_count(1)
    expect(page.locator(".msg-assistant:visible .version-prev")).to_be_enabled()
    expect(page.locator(".msg-assistant:visible .version-next")).to_be_disabled()
    page.screenshot(path=str(ARTIFACTS / "answer-versions.png"))

    switch(page, ".version-prev")
    shown = page.locator(".msg-assistant:visible")
    expect(shown.locator(".answer")).to_contain_text("First answer")
    expect(shown.locator(".version-label")).to_have_text("1/2")
    expect(shown.locator(".action-rate[data-rating=down]")).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(page.locator(".msg-assistant:visible .answer")).to_contain_text("First answer")
    expect(page.locator(".msg-assistant:visible .version-label")).to_have_text("1/2")

    fake_llm.script(reasoning="Follow-up.", content="It was trained with RL.")
    ask(page, "它用什么训练？")
    expect(page.locator(".msg-assistant:visible .answer").last).to_contain_text("RL", timeout=30_000)
    history = "\n".join(m["content"] for m in fake_llm.requests[-1]["messages"])
    assert "First answer: 7B" in history and "Second answer" not in history
    rated = Message.objects.get(content="First answer: 7B [1].")
    assert (rated.rating, rated.shown) == ("down", True)


def test_the_switcher_reads_well_in_chinese(page, live_app, user, kb, fake_llm):
    ingest(kb, CORPUS)
    context = page.context.browser.new_context(
        locale="zh-CN", base_url=live_app[0], viewport={"width": 1280, "height": 860}
    )
    chinese = context.new_page()
    try:
        log_in(chinese, user)
        answered_twice(chinese, fake_llm)
        previous = chinese.locator(".msg-assistant:visible .version-prev")
        expect(previous).to_have_attribute("title", "上一个版本")
        switch(chinese, ".version-prev")
        expect(chinese.locator(".msg-assistant:visible .version-label")).to_have_text("1/2")
        chinese.locator(".msg-assistant:visible .version-next").hover()
        chinese.screenshot(path=str(ARTIFACTS / "answer-versions-zh.png"))
    finally:
        context.close()


def test_a_refused_regenerate_keeps_the_versions_and_says_why(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    log_in(page, user)
    answered_twice(page, fake_llm)
    switch(page, ".version-prev")
    second = Message.objects.filter(content="Second answer: 671B [1].")
    second.update(status=Message.Status.STREAMING)  # the server refuses to regenerate meanwhile
    with page.expect_response(lambda response: "/resend/" in response.url) as refused:
        page.locator(".msg-assistant:visible .action-regenerate").click()
    assert refused.value.status == 409
    shown = page.locator(".msg-assistant:visible")
    expect(shown.locator(".error-box")).to_contain_text("There is no finished answer to replace.")
    expect(shown).to_have_count(1)
    expect(page.locator(".msg-assistant")).to_have_count(2)
    expect(shown.locator(".answer")).to_contain_text("First answer")
    expect(shown.locator(".version-label")).to_have_text("1/2")
    page.screenshot(path=str(ARTIFACTS / "answer-regenerate-refused.png"))

    second.update(status=Message.Status.COMPLETE)
    fake_llm.script(reasoning="Third try.", content="Third answer: 671B [1].")
    shown.locator(".retry-button").click()
    expect(page.locator(".msg-assistant:visible .answer")).to_contain_text("Third answer", timeout=30_000)
    expect(page.locator(".msg-assistant:visible .version-label")).to_have_text("3/3")
    expect(page.locator(".error-box")).to_have_count(0)
