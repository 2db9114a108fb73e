"""The admin's feedback list and one entry, as a manager sees them in the browser."""

import pytest
from playwright.sync_api import expect

from tests.browser import ARTIFACTS, log_in
from tests.test_admin_feedback import may_view_feedback, rated_answer

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_manager_reads_the_feedback_with_its_question_answer_and_passages(page, manager, user, kb):
    may_view_feedback(manager)
    rated_answer(user, [kb], "年假有多少天？", "说错了：应该是 30 天。")
    log_in(page, manager)
    page.goto("/admin/chat/feedback/")
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("说错了：应该是 30 天。")
    expect(page.locator("#changelist-filter")).to_contain_text("Guide")
    page.screenshot(path=str(ARTIFACTS / "admin-feedback-list.png"))
    row.locator("a").first.click()
    expect(page.locator(".feedback-passages")).to_contain_text("Passage about 年假有多少天？")
    page.screenshot(path=str(ARTIFACTS / "admin-feedback-entry.png"), full_page=True)


def test_the_feedback_list_reads_in_chinese(page, live_app, manager, user, kb):
    may_view_feedback(manager)
    rated_answer(user, [kb], "年假有多少天？", "说错了：应该是 30 天。")
    context = page.context.browser.new_context(
        locale="zh-CN", base_url=live_app[0], viewport={"width": 1280, "height": 860}
    )
    chinese = context.new_page()
    try:
        log_in(chinese, manager)
        chinese.goto("/admin/chat/feedback/")
        expect(chinese.locator("#changelist-filter")).to_contain_text("以 评价")
        expect(chinese.locator("#result_list thead")).to_contain_text("提问人")
        expect(chinese.locator("#result_list tbody")).to_contain_text("不好")
        chinese.screenshot(path=str(ARTIFACTS / "admin-feedback-list-zh.png"))
    finally:
        context.close()
