"""Quotas: questions a day and spend a month per user, from their own, their groups' or the default
limits, counted from the audit log's questions on every path, /v1 too; refused with a clear message on
the chat page and a 429 on the REST ask and /v1."""

import asyncio
import datetime
import json
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group
from django.urls import reverse

from audit.models import Event
from chat.models import Conversation, Message
from policy.models import WordList
from tests.api_fixtures import ApiClient, key_for
from tests.conftest import QUESTION, person
from tests.policy_lists import word_list
from tests.sse import ask_on_chat_page, events_in
from tests.usage_data import recorded_answer
from usage import quotas
from usage.models import QuotaLimit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
REFUSED_TODAY = "You have reached your limit of 1 questions a day. You can ask again tomorrow."
USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "prompt_cache_miss_tokens": 1000}
COST = (1000 * 0.55 + 500 * 2.19) / 1e6  # USAGE at the price below


@pytest.fixture
def conversation(user, kb) -> Conversation:
    started = Conversation.objects.create(user=user, title="Leave")
    started.knowledge_bases.set([kb])
    return started


@pytest.fixture
def one_a_day(settings, user) -> None:
    """The default limit is one question a day, and the user has had it."""
    settings.QUOTA_QUESTIONS_PER_DAY = 1
    recorded_answer(user)


@pytest.fixture
def priced(settings, fake_llm):
    settings.LLM_MODELS = [
        {"model": "deepseek-reasoner", "base_url": fake_llm.base_url, "price": [0.14, 0.55, 2.19]}
    ]
    fake_llm.script(usage=USAGE)
    return fake_llm


def completion(api: ApiClient, question: str = "How much leave?", **options):
    messages = [{"role": "user", "content": question}]
    return api.post("/v1/chat/completions", {"model": "kb:guide", "messages": messages, **options})


def answered(response) -> bool:
    """Whether /v1 answered, the stream read to its end (the question is recorded when it ends)."""
    if not response.streaming:
        return response.status_code == 200

    async def read() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return response.status_code == 200 and b"[DONE]" in asyncio.run(read())


def test_it_takes_the_users_own_limit_over_their_groups(settings, user, readers):
    settings.QUOTA_QUESTIONS_PER_DAY = 100
    QuotaLimit.objects.create(group=readers, questions_per_day=50, spend_per_month_usd=5)
    QuotaLimit.objects.create(user=user, questions_per_day=3)
    assert quotas.effective_limits(user=user) == quotas.Limits(3, 5.0)


def test_it_takes_the_most_generous_group_then_the_default(settings, user, readers):
    settings.QUOTA_QUESTIONS_PER_DAY, settings.QUOTA_SPEND_PER_MONTH_USD = 100, 2.5
    QuotaLimit.objects.create(group=readers, questions_per_day=10)
    QuotaLimit.objects.create(group=Group.objects.create(name="sales"), questions_per_day=40)
    user.groups.add(Group.objects.get(name="sales"))
    assert quotas.effective_limits(user=user) == quotas.Limits(40, 2.5)
    assert quotas.effective_limits(user=person("zoe")) == quotas.Limits(100, 2.5)
    settings.QUOTA_QUESTIONS_PER_DAY = settings.QUOTA_SPEND_PER_MONTH_USD = None
    assert quotas.effective_limits(user=person("yan")) == quotas.Limits(None, None)


def test_it_lets_a_user_under_the_limit_ask(settings, user, conversation):
    settings.QUOTA_QUESTIONS_PER_DAY = 2
    recorded_answer(user)
    response = ApiClient(key_for(user)).post(
        f"/api/v1/conversations/{conversation.id}/ask/", {"question": "How much leave?"}
    )
    assert response.status_code == 200 and response.json()["status"] == "complete"
    assert not Event.objects.filter(kind=Event.Kind.QUOTA).exists()


@pytest.mark.anyio
async def test_it_refuses_on_the_chat_page_with_a_clear_message(one_a_day, async_client, user, conversation):
    await async_client.aforce_login(user)
    events = await ask_on_chat_page(async_client, question="Parental leave?", conversation=conversation.id)
    names = [name for name, _data in events]
    assert names == ["meta", "error", "done"]  # nothing searched
    error = events[1][1]
    assert error["code"] == "insufficient_quota" and error["message"] == REFUSED_TODAY
    assert events[2][1]["status"] == "failed" and events[2][1]["html"] == ""
    answer = await Message.objects.aget(id=events[2][1]["message_id"])
    assert answer.error == REFUSED_TODAY
    event = await Event.objects.aget(kind=Event.Kind.QUOTA)
    assert event.username == "alice" and event.detail == {
        "limit": "questions_per_day",
        "used": 1,
        "allowed": 1,
    }


def test_it_shows_the_refusal_when_the_conversation_is_opened_again(one_a_day, client, user, conversation):
    ApiClient(key_for(user)).post(f"/api/v1/conversations/{conversation.id}/ask/", {"question": "Sick days?"})
    client.force_login(user)
    page = client.get(reverse("chat:conversation", args=[conversation.id]))
    assert REFUSED_TODAY in page.content.decode()


def test_it_refuses_the_rest_ask_with_a_429(one_a_day, user, conversation):
    response = ApiClient(key_for(user)).post(
        f"/api/v1/conversations/{conversation.id}/ask/", {"question": "Sick days?"}
    )
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "insufficient_quota" and error["message"] == REFUSED_TODAY


@pytest.mark.anyio
@pytest.mark.parametrize("limit", [1, 2])
async def test_it_refuses_the_rest_ask_stream_with_a_429_before_it_streams(
    one_a_day, settings, async_client, user, conversation, limit
):
    settings.QUOTA_QUESTIONS_PER_DAY = limit
    secret = await sync_to_async(key_for)(user)
    response = await async_client.post(
        f"/api/v1/conversations/{conversation.id}/ask/",
        json.dumps({"question": "Sick days?", "stream": True}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    if limit == 1:
        assert response.status_code == 429 and response.json()["error"]["code"] == "insufficient_quota"
        return
    events = events_in(b"".join([part async for part in response.streaming_content]))
    assert [name for name, _data in events][:2] == ["meta", "searching"] and events[-1][0] == "done"


@pytest.mark.parametrize("stream", [False, True])
def test_it_refuses_v1_with_openais_429(one_a_day, user, kb, stream):
    response = completion(ApiClient(key_for(user)), stream=stream)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "error": {
            "message": REFUSED_TODAY,
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }


def test_it_refuses_over_the_monthly_spend(settings, user, kb):
    settings.QUOTA_SPEND_PER_MONTH_USD = 0.5
    recorded_answer(user, cost_usd=0.3)
    api = ApiClient(key_for(user))
    assert completion(api).status_code == 200
    recorded_answer(user, cost_usd=0.25)
    refused = completion(api)
    assert refused.status_code == 429
    message = "You have reached your spending limit of $0.50 this month. You can ask again next month."
    assert refused.json()["error"]["message"] == message


def test_it_lets_a_users_own_limit_lift_their_groups(user, readers, kb):
    QuotaLimit.objects.create(group=readers, questions_per_day=1)
    recorded_answer(user)
    api = ApiClient(key_for(user))
    assert completion(api).status_code == 429
    QuotaLimit.objects.create(user=user, questions_per_day=5)
    assert completion(api).status_code == 200


@pytest.mark.parametrize(("exempt", "status"), [(True, 200), (False, 429)])
def test_it_exempts_administrators_by_setting(settings, one_a_day, user, kb, exempt, status):
    settings.QUOTA_EXEMPT_STAFF = exempt
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    assert completion(ApiClient(key_for(user))).status_code == status


def test_it_counts_each_users_own_answers_only(one_a_day, other, kb):
    assert completion(ApiClient(key_for(other))).status_code == 200


def test_it_does_not_count_refused_answers(settings, user, kb):
    settings.QUOTA_QUESTIONS_PER_DAY = 2
    recorded_answer(user)
    recorded_answer(user, status=Message.Status.FAILED, error_code=quotas.QUOTA_EXCEEDED)
    assert quotas.usage_of(user=user).questions_today == 1
    assert completion(ApiClient(key_for(user))).status_code == 200


def test_it_starts_a_new_day_at_midnight_in_the_time_zone(settings, user):
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.QUOTA_QUESTIONS_PER_DAY = 1
    shanghai = ZoneInfo("Asia/Shanghai")
    recorded_answer(user, at=datetime.datetime(2026, 3, 9, 23, 59, tzinfo=shanghai))  # 15:59 UTC
    just_after_midnight = datetime.datetime(2026, 3, 10, 0, 1, tzinfo=shanghai)
    assert quotas.refusal(user=user, now=just_after_midnight) is None
    same_day = datetime.datetime(2026, 3, 9, 23, 59, 30, tzinfo=shanghai)
    assert quotas.refusal(user=user, now=same_day) is not None


def test_it_starts_a_new_month_on_the_first(settings, user):
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.QUOTA_SPEND_PER_MONTH_USD = 1
    shanghai = ZoneInfo("Asia/Shanghai")
    recorded_answer(user, cost_usd=2.0, at=datetime.datetime(2026, 2, 28, 23, 0, tzinfo=shanghai))
    assert quotas.refusal(user=user, now=datetime.datetime(2026, 3, 1, 0, 5, tzinfo=shanghai)) is None
    assert quotas.refusal(user=user, now=datetime.datetime(2026, 2, 28, 23, 30, tzinfo=shanghai)) is not None


def test_it_lets_administrators_set_a_limit_for_a_user_or_a_group_not_both(admin_client, user, readers):
    add = reverse("admin:usage_quotalimit_add")
    both = admin_client.post(add, {"user": user.id, "group": readers.id, "questions_per_day": "5"})
    assert both.status_code == 200 and "Set either a user or a group, not both." in both.content.decode()
    assert admin_client.post(add, {"group": readers.id, "spend_per_month_usd": "2.50"}).status_code == 302
    assert quotas.effective_limits(user=user) == quotas.Limits(None, 2.5)


@pytest.mark.parametrize("stream", [False, True])
def test_a_v1_question_counts_towards_the_daily_limit(settings, user, kb, conversation, stream):
    settings.QUOTA_QUESTIONS_PER_DAY = 1
    api = ApiClient(key_for(user))
    assert answered(completion(api, stream=stream))
    assert not Message.objects.exists()  # /v1 saves no conversation: the audit log's question counts
    assert quotas.usage_of(user=user).questions_today == 1
    assert completion(api, stream=stream).status_code == 429
    assert (
        api.post(f"/api/v1/conversations/{conversation.id}/ask/", {"question": "Sick days?"}).status_code
        == 429
    )


@pytest.mark.parametrize("stream", [False, True])
def test_a_v1_answers_cost_counts_towards_the_monthly_spend(settings, user, kb, guide, priced, stream):
    settings.QUOTA_SPEND_PER_MONTH_USD = 1.5 * COST
    api = ApiClient(key_for(user))
    assert answered(completion(api, QUESTION, stream=stream))
    used = quotas.usage_of(user=user)
    assert used.spend_this_month_usd == pytest.approx(COST) and used.tokens_this_month == 1500
    assert answered(completion(api, QUESTION, stream=stream))  # under the limit when it started
    assert quotas.usage_of(user=user).spend_this_month_usd == pytest.approx(2 * COST)
    assert completion(api, QUESTION, stream=stream).json()["error"]["code"] == "insufficient_quota"


@pytest.mark.anyio
async def test_a_user_at_the_limit_through_v1_is_refused_on_the_chat_page(
    settings, async_client, user, kb, conversation
):
    settings.QUOTA_QUESTIONS_PER_DAY = 1
    secret = await sync_to_async(key_for)(user)
    body = {"model": "kb:guide", "messages": [{"role": "user", "content": "How much leave?"}]}
    response = await async_client.post(
        "/v1/chat/completions",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200
    await async_client.aforce_login(user)
    events = await ask_on_chat_page(async_client, question="Parental leave?", conversation=conversation.id)
    assert events[1][0] == "error" and events[1][1]["message"] == REFUSED_TODAY


def test_a_quota_refusal_is_recorded_but_does_not_count(one_a_day, user, conversation):
    api = ApiClient(key_for(user))
    for _ in range(2):
        response = api.post(f"/api/v1/conversations/{conversation.id}/ask/", {"question": "Sick days?"})
        assert response.status_code == 429
    refused = Event.objects.filter(kind=Event.Kind.QUESTION, detail__error_code=quotas.QUOTA_EXCEEDED)
    assert refused.count() == 2
    assert quotas.usage_of(user=user).questions_today == 1


def test_a_question_the_content_policy_blocks_does_not_count(settings, user, conversation):
    settings.QUOTA_QUESTIONS_PER_DAY = 1
    word_list("banned", WordList.Action.BLOCK, "contraband")
    api = ApiClient(key_for(user))
    ask = f"/api/v1/conversations/{conversation.id}/ask/"
    assert api.post(ask, {"question": "Where can I buy CONTRABAND?"}).status_code == 400
    assert Event.objects.get(kind=Event.Kind.QUESTION).detail["error_code"] == "content_policy"
    assert api.post(ask, {"question": "Sick days?"}).status_code == 200


def test_a_question_recorded_before_error_codes_were_counts(user):
    Event.objects.create(kind=Event.Kind.QUESTION, user=user, detail={"status": "failed", "cost_usd": 0.5})
    used = quotas.usage_of(user=user)
    assert (used.questions_today, used.spend_this_month_usd, used.tokens_this_month) == (1, 0.5, 0)


def test_it_counts_a_users_questions_after_their_conversations_are_deleted(settings, user, kb):
    settings.QUOTA_QUESTIONS_PER_DAY = 1
    recorded_answer(user)
    Conversation.objects.filter(user=user).delete()
    assert completion(ApiClient(key_for(user))).status_code == 429
