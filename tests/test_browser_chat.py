"""The chat page in headless Chromium against the app under its ASGI server and the test upstream."""

import pytest
from playwright.sync_api import Page, expect

from chat.models import Message
from tests.browser import ARTIFACTS
from tests.conftest import CORPUS, ingest

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("textarea[name=question]")).to_be_visible()
    page.wait_for_load_state("load")  # chat.js has run and listens for Enter


def test_it_streams_reasoning_then_collapses_it_and_shows_a_cited_answer(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    reasoning = "用户问的是 DeepSeek-V3 的参数量。资料 [1] 里写着 6710 亿（671B）参数，所以答案很明确。" * 3
    fake_llm.script(
        reasoning=reasoning, content="DeepSeek-V3 共有 **6710 亿（671B）** 参数 [1]。", delay=0.03
    )
    log_in(page, "alice", "alice-password-1")

    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")

    thinking = page.locator("details.reasoning.is-thinking")
    expect(thinking).to_be_visible(timeout=30_000)  # the server may still be loading its model
    expect(thinking).to_have_attribute("open", "")
    expect(thinking).to_contain_text("DeepSeek-V3")
    page.screenshot(path=str(ARTIFACTS / "chat-reasoning.png"))
    answer = page.locator(".msg-assistant .answer").last
    expect(answer).to_contain_text("6710 亿（671B）", timeout=30_000)
    pane = page.locator("details.reasoning").last
    expect(pane).not_to_have_attribute("open", "")
    expect(pane.locator(".reasoning-label")).to_contain_text("Thought for")
    page.screenshot(path=str(ARTIFACTS / "chat-answer.png"))

    pane.locator("summary").click()
    expect(pane).to_contain_text("6710 亿（671B）参数，所以答案很明确")
    answer.locator("a.cite").first.click()
    source = page.locator("li.source").first
    expect(source).to_contain_text("6710亿（671B）")
    expect(source.locator("a[href*='/download/']")).to_be_visible()


def test_it_shows_an_upstream_error_with_a_retry_button(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(status=401)
    log_in(page, "alice", "alice-password-1")
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")
    expect(page.locator(".error-box")).to_contain_text("API key", timeout=30_000)
    expect(page.locator(".retry-button")).to_be_visible()


def test_the_stop_button_stops_the_model_and_keeps_the_partial_answer(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="先看看资料。" * 10, content="DeepSeek-V3 共有 6710 亿参数。" * 40, delay=0.05)
    log_in(page, "alice", "alice-password-1")
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")
    answer = page.locator(".msg-assistant .answer").last
    expect(answer).to_contain_text("6710 亿参数", timeout=30_000)
    page.locator(".send-button").click()
    expect(page.locator(".msg-assistant .status-note").last).to_be_visible(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "chat-stopped.png"))
    saved = Message.objects.get(role=Message.Role.ASSISTANT)
    assert saved.status == Message.Status.STOPPED
    assert 0 < len(saved.content) < len("DeepSeek-V3 共有 6710 亿参数。" * 40)
    page.reload()  # the stopped answer is there after a reload, with its partial text
    expect(page.locator(".msg-assistant .answer").last).to_contain_text("6710 亿参数")


def test_an_answer_from_general_knowledge_is_marked(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    kb.relevance_floor, kb.when_nothing_found = 0.99, "general"
    kb.save()
    fake_llm.script(reasoning="Nothing in the documents.", content="This is not from your documents. Paris.")
    log_in(page, "alice", "alice-password-1")
    page.fill("textarea[name=question]", "What is the capital of France?")
    page.keyboard.press("Enter")
    note = page.locator(".msg-assistant .grounding-note.is-general")
    expect(note).to_contain_text("Not from your documents", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "chat-general-knowledge.png"))
    page.reload()
    expect(page.locator(".msg-assistant .grounding-note.is-general")).to_be_visible()


def test_the_hit_testing_page_shows_relevance_and_the_floor(page, user, kb):
    ingest(kb, CORPUS)
    kb.relevance_floor = 0.2
    kb.save()
    log_in(page, "alice", "alice-password-1")
    page.goto(f"/kb/{kb.slug}/hit-testing/?q=DeepSeek-V3+有多少参数？")
    expect(page.locator("li.hit").first).to_contain_text("6710亿（671B）")
    expect(page.locator(".score-fused").first).to_contain_text("Relevance")
    page.screenshot(path=str(ARTIFACTS / "hit-testing.png"), full_page=True)


def test_a_distill_reply_that_was_never_reasoning_moves_from_the_reasoning_pane_to_the_answer(
    page, user, kb, fake_llm
):
    ingest(kb, CORPUS)
    fake_llm.script(style="plain", content="DeepSeek-V3 共有 6710 亿参数 [1]。" * 4, delay=0.1)
    log_in(page, "alice", "alice-password-1")
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")
    # A local R1 distill writes no opening tag: until it closes one, its words are taken for reasoning.
    expect(page.locator("details.reasoning.is-thinking")).to_contain_text("6710 亿参数", timeout=30_000)
    answer = page.locator(".msg-assistant .answer").last
    expect(answer).to_contain_text("6710 亿参数", timeout=30_000)
    expect(page.locator(".msg-assistant details.reasoning")).to_have_count(0)
    page.reload()
    expect(page.locator(".msg-assistant .answer").last).to_contain_text("6710 亿参数")
    expect(page.locator(".msg-assistant details.reasoning")).to_have_count(0)
