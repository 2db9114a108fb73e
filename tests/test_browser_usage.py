"""The account page and the usage dashboard in a real browser, in English and Chinese: they load
under the site's CSP with nothing blocked, and look finished (screenshots in test-artifacts/)."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from chat.models import Message
from tests.browser import ARTIFACTS, log_in
from tests.conftest import person
from tests.usage_data import recorded_answer
from usage.models import QuotaLimit

pytestmark = pytest.mark.django_db(transaction=True)
LANGUAGES = [("en-US", "Usage", "Questions today"), ("zh-CN", "用量", "今日提问")]
QUESTIONS = ["年假有几天？", "How do I book a meeting room?", "报销流程是什么？", "Where do I park?"]


def a_fortnight_of_answers(kb, people) -> None:
    today = datetime.datetime.now(datetime.UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    for day in range(14):
        for n in range(2 + (day * 7) % 5):
            asker = people[(day + n) % len(people)]
            recorded_answer(
                asker,
                at=today - datetime.timedelta(days=day, minutes=n),
                knowledge_base=kb,
                question=QUESTIONS[(day + n) % len(QUESTIONS)],
                model="DeepSeek-R1" if n % 3 else "DeepSeek-V3",
                usage={"prompt_tokens": 1800 + 90 * n, "completion_tokens": 400 + 30 * day},
                cost_usd=0.004 + 0.001 * n,
                rating=("down" if (day + n) % 6 == 0 else "up" if n % 2 else ""),
                grounding=Message.Grounding.NOT_FOUND if (day * n) % 9 == 4 else Message.Grounding.DOCUMENTS,
                timings={
                    "retrieval_ms": 120 + 13 * n + day,
                    "first_content_ms": 1900 + 170 * n,
                    "total_ms": 9000 + 700 * n,
                },
            )


@pytest.mark.parametrize(("language", "title", "today"), LANGUAGES)
def test_it_shows_the_dashboard_and_the_account_page(page, kb, readers, language, title, today):
    admin = person("wangfang", readers)
    admin.first_name, admin.last_name, admin.is_staff = "Fang", "Wang", True
    admin.save()
    admin.user_permissions.add(Permission.objects.get(codename="view_usage_dashboard"))
    people = [person(name, readers) for name in ("li.wei", "zhang.min", "alice")]
    a_fortnight_of_answers(kb, people)
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text) if message.type == "error" else None)
    page.set_extra_http_headers({"Accept-Language": language})
    log_in(page, admin)
    page.goto("/admin/")
    page.click("#reports-module a")
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator(".chart-bar").last).to_be_visible()  # today
    page.screenshot(path=str(ARTIFACTS / f"usage-dashboard-{language}.png"), full_page=True)

    QuotaLimit.objects.create(user=people[0], questions_per_day=20, spend_per_month_usd=5)
    page.context.clear_cookies()
    log_in(page, people[0])
    page.click(".account-link")
    expect(page.locator(".usage-card h3").first).to_have_text(today)
    page.screenshot(path=str(ARTIFACTS / f"usage-account-{language}.png"), full_page=True)
    assert not blocked
