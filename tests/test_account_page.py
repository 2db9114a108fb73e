"""The account page: the signed-in user's own usage against their limits."""

import pytest
from django.urls import reverse

from tests.conftest import signed_in
from tests.usage_data import recorded_answer
from usage.models import QuotaLimit

pytestmark = pytest.mark.django_db


def test_it_shows_the_users_own_usage_and_limits(settings, user, other, readers):
    settings.QUOTA_SPEND_PER_MONTH_USD = 2
    QuotaLimit.objects.create(group=readers, questions_per_day=10)
    recorded_answer(user, cost_usd=0.25, usage={"prompt_tokens": 1200, "completion_tokens": 34})
    recorded_answer(other, cost_usd=1.5, usage={"prompt_tokens": 9, "completion_tokens": 9})
    page = signed_in(user).get(reverse("usage:account"))
    assert page.status_code == 200
    used = page.context["used"]
    assert (used.questions_today, used.spend_this_month_usd, used.tokens_this_month) == (1, 0.25, 1234)
    text = page.content.decode()
    assert '1<span class="usage-of"> / 10</span>' in text
    assert '$0.25<span class="usage-of"> / $2.00</span>' in text
    assert "1,234" in text


def test_it_says_when_there_is_no_limit(user):
    text = signed_in(user).get(reverse("usage:account")).content.decode()
    assert "No daily limit." in text and "No monthly spending limit." in text


def test_it_tells_administrators_they_are_exempt(settings, user):
    settings.QUOTA_QUESTIONS_PER_DAY = 5
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    assert (
        "As an administrator you have no limits."
        in signed_in(user).get(reverse("usage:account")).content.decode()
    )
    settings.QUOTA_EXEMPT_STAFF = False
    assert "As an administrator" not in signed_in(user).get(reverse("usage:account")).content.decode()


def test_it_asks_an_outsider_to_sign_in(client):
    response = client.get(reverse("usage:account"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_it_is_linked_from_the_chat_sidebar(user):
    assert reverse("usage:account") in signed_in(user).get(reverse("chat:home")).content.decode()


def test_it_limits_how_often_a_user_loads_it(settings, user):
    settings.USAGE_PAGE_RATE_PER_USER = "1/min"
    client = signed_in(user)
    assert [client.get(reverse("usage:account")).status_code for _ in range(2)] == [200, 429]
