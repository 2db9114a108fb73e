"""FAQ knowledge in the browser: a curated question answered without the model, marked "From FAQ",
and a thumbs-up answer saved to the FAQ, in English and Chinese."""

import pytest
from playwright.sync_api import Page, expect

from faq.models import FaqPair
from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest

pytestmark = pytest.mark.django_db(transaction=True)


def ask(page: Page, question: str) -> None:
    page.fill("textarea[name=question]", question)
    page.keyboard.press("Enter")


def test_a_curated_question_is_answered_from_the_faq_without_the_model(page, user, kb, faq, fake_llm):
    fake_llm.reset()
    log_in(page, user)
    ask(page, "how many vacation days do I get")
    answer = page.locator(".msg-assistant").last
    expect(answer.locator(".answer")).to_contain_text("25 days a year, 30 after ten years.", timeout=30_000)
    expect(answer.locator(".grounding-note.is-faq")).to_contain_text("From FAQ")
    expect(answer.locator("details.reasoning")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "chat-faq-answer.png"))
    assert fake_llm.requests == []
    page.reload()
    expect(page.locator(".msg-assistant .grounding-note.is-faq")).to_contain_text("From FAQ")


def test_a_curated_chinese_question_is_answered_from_the_faq_in_chinese(
    page, live_app, user, kb, faq, fake_llm
):
    fake_llm.reset()
    context = page.context.browser.new_context(
        locale="zh-CN", base_url=live_app[0], viewport={"width": 1280, "height": 860}
    )
    chinese = context.new_page()
    try:
        log_in(chinese, user)
        ask(chinese, "年假有几天?")
        answer = chinese.locator(".msg-assistant").last
        expect(answer.locator(".answer")).to_contain_text("每年 15 天", timeout=30_000)
        expect(answer.locator(".grounding-note.is-faq")).to_contain_text("来自常见问题")
        chinese.screenshot(path=str(ARTIFACTS / "chat-faq-answer-zh.png"))
    finally:
        context.close()
    assert fake_llm.requests == []


def test_a_manager_saves_a_thumbs_up_answer_to_the_faq(page, manager, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="资料 [1] 里有。", content="DeepSeek-V3 共有 6710 亿参数 [1]。")
    log_in(page, manager)
    ask(page, "DeepSeek-V3 有多少参数？")
    answer = page.locator(".msg-assistant").last
    expect(answer.locator(".answer")).to_contain_text("6710 亿参数", timeout=30_000)
    save = answer.locator(".action-save-faq")
    expect(save).to_be_hidden()
    answer.locator(".action-rate[data-rating=up]").click()
    expect(save).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "chat-save-to-faq.png"))
    with page.context.expect_page() as opened:
        save.click()
    form = opened.value
    expect(form.locator("#id_question")).to_have_value("DeepSeek-V3 有多少参数？")
    expect(form.locator("#id_answer")).to_have_value("DeepSeek-V3 共有 6710 亿参数。")
    form.fill("#id_alternatives", "V3 的参数量是多少")
    form.screenshot(path=str(ARTIFACTS / "admin-faq-from-answer.png"), full_page=True)
    form.click("input[name=_save]")
    expect(form.locator(".messagelist")).to_be_visible()
    pair = FaqPair.objects.get()
    assert (pair.knowledge_base, pair.alternatives, pair.created_by) == (kb, ["V3 的参数量是多少"], manager)
    assert pair.from_message_id == int(answer.get_attribute("data-message-id"))


def test_a_reader_is_not_offered_save_to_faq(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(content="DeepSeek-V3 共有 6710 亿参数 [1]。")
    log_in(page, user)
    ask(page, "DeepSeek-V3 有多少参数？")
    answer = page.locator(".msg-assistant").last
    expect(answer.locator(".answer")).to_contain_text("6710 亿参数", timeout=30_000)
    answer.locator(".action-rate[data-rating=up]").click()
    expect(answer.locator(".action-rate[data-rating=up]")).to_have_attribute("aria-pressed", "true")
    expect(answer.locator(".action-save-faq")).to_have_count(0)


def test_hit_testing_shows_the_faq_matches_above_the_passages(page, user, kb, faq):
    ingest(kb, CORPUS)
    log_in(page, user)
    page.goto("/kb/guide/hit-testing/?q=公司的年假是多少天？")
    match = page.locator(".faq-hit").first
    expect(match).to_contain_text("年假有几天？")
    expect(match.locator(".faq-badge")).to_contain_text("Given to the model as a passage")
    expect(page.locator(".hit").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "hit-testing-faq.png"), full_page=True)
