"""The audit log in the admin, in a browser, in English and Chinese: the list with its filters and
export button, and one event read-only."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from audit.log import record
from audit.models import Event
from tests.browser import ARTIFACTS, log_in
from tests.test_audit_admin import auditor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def events(user, kb) -> None:
    record(Event.Kind.UPLOAD, user=user, target="document:7", summary="年假制度.pdf", created=1)
    record(
        Event.Kind.QUESTION,
        user=user,
        target=f"knowledge_base:{kb.id}",
        summary="Guide",
        knowledge_bases=["Guide"],
        model="deepseek-reasoner",
        cost_usd=0.0021,
    )
    record(
        Event.Kind.PERMISSIONS, username="carol", target=f"knowledge_base:{kb.id}", summary="Guide: +销售部"
    )
    record(Event.Kind.SIGN_IN_FAILED, username="mallory")


def look_at_the_log(page: Page, name: str, *, filter_title: str, heading: str) -> None:
    staff = auditor()
    staff.groups.add(
        Group.objects.get(name="readers")
    )  # the sign-in lands on a chat that has a knowledge base
    log_in(page, staff)
    page.goto("/admin/audit/event/")
    # and the auditor's own sign-in, and the groups alice and the auditor were given
    expect(page.locator("#result_list tbody tr")).to_have_count(7)
    expect(page.locator("#changelist-filter")).to_contain_text(filter_title)
    expect(page.locator(".object-tools a.audit-export")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"admin-audit-list{name}.png"), full_page=True)
    page.locator("#result_list tbody tr", has_text="年假制度.pdf").locator("a").first.click()
    expect(page.locator(".audit-detail")).to_contain_text('"created": 1')
    expect(page.locator("h1")).to_contain_text(heading)
    expect(page.locator("input[name=_save]")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / f"admin-audit-event{name}.png"), full_page=True)


def test_an_auditor_reads_the_log_and_an_event(page, events):
    look_at_the_log(page, "", filter_title="By event", heading="View audit event")


def test_the_log_reads_in_chinese(page, live_app, events):
    context = page.context.browser.new_context(
        locale="zh-CN", base_url=live_app[0], viewport={"width": 1280, "height": 860}
    )
    try:
        look_at_the_log(context.new_page(), "-zh", filter_title="以 事件", heading="查看 审计事件")
    finally:
        context.close()
