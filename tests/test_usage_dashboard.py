"""The usage dashboard: for staff with its permission, figures over a date range and a knowledge
base, aggregated in the database; bad filters are a 400."""

import datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from audit.models import Event
from chat.models import Message
from chat.question_log import link_knowledge_bases
from tests.conftest import QUESTION, person, signed_in
from tests.usage_data import recorded_answer
from usage import dashboard

pytestmark = pytest.mark.django_db
RANGE = {"from": "2026-03-01", "to": "2026-03-03"}


def at(day: int, hour: int) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, tzinfo=datetime.UTC)


def usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion}


@pytest.fixture
def answers(user, other, kb, other_kb, outsider) -> dict[str, Message]:
    """Four answers on `kb` in the range, one before it, one on `other_kb`."""
    return {
        "down": recorded_answer(
            user,
            at=at(1, 10),
            knowledge_base=kb,
            model="DeepSeek-R1",
            usage=usage(100, 50),
            cost_usd=0.01,
            rating="down",
            feedback="wrong",
            timings={"retrieval_ms": 100, "total_ms": 1000},
        ),
        "up": recorded_answer(
            user,
            at=at(1, 11),
            knowledge_base=kb,
            model="DeepSeek-R1",
            usage=usage(200, 100),
            cost_usd=0.02,
            rating="up",
            timings={"retrieval_ms": 300, "total_ms": 3000, "first_reasoning_ms": None},
        ),
        "gap": recorded_answer(
            user,
            at=at(3, 9),
            knowledge_base=kb,
            question="Where do I park?",
            grounding=Message.Grounding.NOT_FOUND,
            timings={"retrieval_ms": 200, "total_ms": 200},
        ),
        "v3": recorded_answer(
            other,
            at=at(3, 12),
            knowledge_base=kb,
            model="DeepSeek-V3",
            usage=usage(1000, 500),
            cost_usd=0.5,
            timings={"retrieval_ms": 400, "total_ms": 5000},
        ),
        "before": recorded_answer(user, at=at(1, 0) - datetime.timedelta(hours=1), knowledge_base=kb),
        "sales": recorded_answer(outsider, at=at(2, 8), knowledge_base=other_kb, model="DeepSeek-V3"),
    }


@pytest.fixture
def analyst(readers) -> User:
    """Staff allowed to see the dashboard; manages `kb` (their group reads it), not `other_kb`."""
    someone = person("erin", readers)
    someone.is_staff = True
    someone.save(update_fields=["is_staff"])
    someone.user_permissions.add(Permission.objects.get(codename="view_usage_dashboard"))
    return someone


def shown(viewer: User, **params):
    return signed_in(viewer).get(reverse("usage:dashboard"), RANGE | params)


def test_it_refuses_people_without_the_permission(client, user, manager):
    assert shown(user).status_code == 403  # not staff
    assert shown(manager).status_code == 403  # staff, without the permission
    assert client.get(reverse("usage:dashboard")).status_code == 302  # to sign in


def test_it_adds_up_the_answers_in_the_range(analyst, answers):
    context = shown(analyst).context
    assert context["totals"] == dashboard.Totals(
        questions=4,
        users=2,
        tokens=1950,
        cost_usd=pytest.approx(0.53),
        rated=2,
        thumbs_down=1,
        nothing_found=1,
    )
    assert context["totals"].thumbs_down_percent == 50.0
    columns = context["questions_chart"].columns
    assert [(c.label, c.value) for c in columns] == [("2026-03-01", 2), ("2026-03-02", 0), ("2026-03-03", 2)]
    assert [c.value for c in context["users_chart"].columns] == [1, 0, 2]


def test_it_breaks_tokens_and_cost_down_per_model_knowledge_base_and_user(analyst, answers):
    tables = {table["heading"]: table["rows"] for table in shown(analyst).context["tables"]}
    rows = {
        heading: [(r.label, r.questions, r.tokens, round(r.cost_usd, 2)) for r, _bar in found]
        for heading, found in tables.items()
    }
    assert rows["Model"] == [("DeepSeek-V3", 1, 1500, 0.5), ("DeepSeek-R1", 2, 450, 0.03), ("", 1, 0, 0.0)]
    assert rows["Knowledge base"] == [("Guide", 4, 1950, 0.53)]
    assert rows["User"] == [("bob", 1, 1500, 0.5), ("alice", 3, 450, 0.03)]
    assert [bar for _row, bar in tables["User"]] == [100.0, 6.0]


def test_it_lists_thumbs_down_and_content_gaps_with_links(analyst, answers):
    response = shown(analyst)
    assert list(response.context["thumbs_down"]) == [answers["down"]]
    assert list(response.context["content_gaps"]) == [answers["gap"]]
    page = response.content.decode()
    assert reverse("admin:chat_feedback_change", args=[answers["down"].id]) in page
    assert reverse("knowledge:hit_testing", args=["guide"]) + "?q=Where%20do%20I%20park%3F" in page


def test_it_gives_exact_percentiles_of_each_step(analyst, answers):
    steps = {step.name: step for step in shown(analyst).context["steps"]}
    assert steps["Finding passages"] == dashboard.StepTimes("Finding passages", 4, 200, 400)
    assert steps["Whole answer"] == dashboard.StepTimes("Whole answer", 4, 1000, 5000)
    assert steps["Until reasoning starts"] == dashboard.StepTimes("Until reasoning starts", 0, None, None)


def test_it_filters_by_date_and_knowledge_base(settings, analyst, answers, kb, other_kb):
    assert shown(analyst, to="2026-03-01").context["totals"].questions == 2
    admin = User.objects.create_superuser("root", password="root-password-1")
    assert shown(admin).context["totals"].questions == 5  # and the answer on other_kb
    assert shown(admin, kb=str(other_kb.id)).context["totals"].questions == 1
    assert shown(admin, kb=str(kb.id)).context["totals"].questions == 4


def test_it_counts_days_in_the_time_zone(settings, analyst, answers):
    settings.TIME_ZONE = "America/New_York"  # 09:00 UTC on the 3rd is 04:00 there, 12:00 is 07:00
    columns = shown(analyst, **{"from": "2026-02-28"}).context["questions_chart"].columns
    assert [c.value for c in columns] == [1, 2, 0, 2]  # the answer at 23:00 UTC on Feb 28 is at 18:00


def test_it_shows_the_last_thirty_days_by_default(analyst, user, kb):
    recorded_answer(user, knowledge_base=kb)
    response = signed_in(analyst).get(reverse("usage:dashboard"))
    assert response.context["totals"].questions == 1
    assert len(response.context["questions_chart"].columns) == dashboard.DEFAULT_DAYS


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-13-01"},
        {"from": "yesterday"},
        {"to": "2026-03-01T00:00"},
        {"from": "2026-03-04"},  # after the end
        {"from": "2025-03-01"},  # more than 366 days
        {"kb": "abc"},
        {"kb": "99999999999999999999999"},
        {"kb": "123456"},
    ],
)
def test_it_answers_bad_filters_with_a_400(analyst, params):
    response = shown(analyst, **params)
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.content.decode()


def test_it_refuses_a_knowledge_base_the_viewer_does_not_manage(analyst, other_kb):
    assert shown(analyst, kb=str(other_kb.id)).status_code == 400


def test_it_allows_a_whole_year(analyst, answers):
    assert shown(analyst, **{"from": "2025-03-03"}).status_code == 200


def test_it_limits_how_often_a_user_loads_it(settings, analyst):
    settings.USAGE_PAGE_RATE_PER_USER = "2/min"
    client = signed_in(analyst)
    statuses = [client.get(reverse("usage:dashboard")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_it_is_linked_from_the_admin_index_for_those_allowed(analyst, manager):
    link = reverse("usage:dashboard")
    assert link in signed_in(analyst).get(reverse("admin:index")).content.decode()
    assert link not in signed_in(manager).get(reverse("admin:index")).content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("api_test")
def test_it_counts_questions_asked_through_v1(settings, as_owner, analyst, kb, guide, llm):
    """/v1 saves no conversation: its questions are counted from the audit log all the same."""
    price = [0.14, 0.55, 2.19]
    settings.LLM_MODELS = [{"model": "deepseek-reasoner", "base_url": llm.base_url, "price": price}]
    llm.script(usage={"prompt_tokens": 1000, "completion_tokens": 500, "prompt_cache_miss_tokens": 1000})
    body = {"model": "kb:guide", "messages": [{"role": "user", "content": QUESTION}]}
    assert as_owner.post("/v1/chat/completions", body).status_code == 200
    context = signed_in(analyst).get(reverse("usage:dashboard")).context
    assert (context["totals"].questions, context["totals"].users, context["totals"].tokens) == (1, 1, 1500)
    assert context["totals"].cost_usd > 0
    tables = {table["heading"]: [row.label for row, _bar in table["rows"]] for table in context["tables"]}
    assert tables == {"Model": ["deepseek-reasoner"], "Knowledge base": ["Guide"], "User": ["alice"]}
    steps = {step.name: step.answers for step in context["steps"]}
    assert steps["Whole answer"] == 1
    other = signed_in(analyst).get(reverse("usage:dashboard"), {"kb": str(kb.id)}).context
    assert other["totals"].questions == 1


def test_it_hides_questions_that_also_asked_a_knowledge_base_the_viewer_does_not_manage(
    analyst, user, kb, other_kb
):
    recorded_answer(user, at=at(2, 9), knowledge_base=kb)
    both = recorded_answer(user, at=at(2, 10), knowledge_base=kb)
    link_knowledge_bases(Event.objects.latest("id"), [other_kb])
    both.conversation.knowledge_bases.add(other_kb)
    assert shown(analyst).context["totals"].questions == 1
    admin = User.objects.create_superuser("root", password="root-password-1")
    assert shown(admin).context["totals"].questions == 2
