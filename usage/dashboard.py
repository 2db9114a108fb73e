"""The figures of the usage dashboard, aggregated in the database for a bounded date range.

Questions, people, tokens, cost, what found nothing and the time of each step are over the audit
log's QUESTION events (chat.question_log): one per answer on every path (the chat page, the REST API,
`/v1`, the `ask` command), in the range, on the day of settings.TIME_ZONE they ended; answers refused
before anything was searched (a quota, a blocked question) are not counted, as for quotas. A
"question" is an answer asked for: regenerating an answer asks again. Ratings and the lists of
answers (rated bad, nothing found) need the conversation's messages, so they are over the answers
saved in the chat (chat.models.Message). A knowledge base's figures are those of the questions that
asked it (a question over two counts for both); the names are those the knowledge bases had when
asked. Each viewer sees the questions over knowledge bases they all manage (all for a superuser), as
in the admin's feedback list. The figures go back as far as the audit log keeps its events
(AUDIT_RETENTION_DAYS).

Percentiles are exact (nearest rank): for each step the questions that recorded it are counted, then
the value at each rank is read by ordering in the database, one row at a time.
"""

import datetime
import math
from dataclasses import dataclass

from django.db.models import Count, F, FloatField, Max, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, TruncDate
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import AskedKnowledgeBase, Event
from chat.feedback import in_managed_conversations
from chat.models import Conversation, Message
from chatsite.bad_requests import is_id
from knowledge import access
from knowledge.models import KnowledgeBase
from usage import quotas

MAX_DAYS = 366
DEFAULT_DAYS = 30
TOP_ROWS = 20  # rows of each table per model, knowledge base or user
LISTED = 20  # answers listed (thumbs down, nothing found)
# The steps of an answer that chat.engine times, the factor to milliseconds, and their names.
STEPS = [
    ("retrieval_ms", 1, gettext_lazy("Finding passages")),
    ("first_reasoning_ms", 1, gettext_lazy("Until reasoning starts")),
    ("reasoning_s", 1000, gettext_lazy("Reasoning")),
    ("first_content_ms", 1, gettext_lazy("Until the answer starts")),
    ("total_ms", 1, gettext_lazy("Whole answer")),
]


class BadFilters(ValueError):
    """The filters asked for cannot be shown; the message says why."""


@dataclass(frozen=True)
class Filters:
    start: datetime.date
    end: datetime.date  # included
    knowledge_base: KnowledgeBase | None = None

    @property
    def days(self) -> list[datetime.date]:
        return [self.start + datetime.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def parse_filters(params, *, knowledge_bases: QuerySet[KnowledgeBase], today: datetime.date) -> Filters:
    """The date range (`from`, `to`: YYYY-MM-DD, at most MAX_DAYS days; the last DEFAULT_DAYS days by
    default) and knowledge base (`kb`: an id among `knowledge_bases`) asked for."""
    end = _date(params.get("to", ""), "to") or today
    start = _date(params.get("from", ""), "from") or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadFilters(_("The start date is after the end date."))
    if (end - start).days + 1 > MAX_DAYS:
        raise BadFilters(_("Choose at most %(days)d days.") % {"days": MAX_DAYS})
    kb_id = params.get("kb", "")
    if not kb_id:
        return Filters(start, end)
    knowledge_base = knowledge_bases.filter(id=int(kb_id)).first() if is_id(kb_id) else None
    if knowledge_base is None:
        raise BadFilters(_("There is no such knowledge base."))
    return Filters(start, end, knowledge_base)


def _date(value: str, name: str) -> datetime.date | None:
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value) if len(value) == 10 else _not_a_date(name)
    except ValueError:
        return _not_a_date(name)


def _not_a_date(name: str):
    raise BadFilters(_("“%(field)s” is not a date (YYYY-MM-DD).") % {"field": name})


def _bounds(filters: Filters) -> tuple[datetime.datetime, datetime.datetime]:
    zone = quotas.local_zone()
    start = datetime.datetime.combine(filters.start, datetime.time.min, zone)
    return start, datetime.datetime.combine(filters.end + datetime.timedelta(days=1), datetime.time.min, zone)


def questions_in(filters: Filters, *, viewer) -> QuerySet[Event]:
    """The questions asked in the range on every path, as the viewer may see them."""
    start, end = _bounds(filters)
    questions = quotas.counted_questions().filter(at__gte=start, at__lt=end)
    if filters.knowledge_base is not None:
        asking = AskedKnowledgeBase.objects.filter(knowledge_base_id=filters.knowledge_base.id)
        questions = questions.filter(id__in=asking.values("event_id"))
    if viewer.is_superuser:
        return questions
    managed = access.managed_knowledge_bases(viewer).values("id")
    with_any = AskedKnowledgeBase.objects.values("event_id")
    with_unmanaged = AskedKnowledgeBase.objects.exclude(knowledge_base_id__in=managed).values("event_id")
    return questions.filter(id__in=with_any).exclude(id__in=with_unmanaged)


def answers_in(filters: Filters, *, viewer) -> QuerySet[Message]:
    """The answers saved in the chat in the range, as the viewer may see them: those rated and listed."""
    start, end = _bounds(filters)
    answers = (
        Message.objects.filter(role=Message.Role.ASSISTANT, created_at__gte=start, created_at__lt=end)
        .exclude(status=Message.Status.STREAMING)
        .exclude(error_code__in=quotas.NOT_COUNTED)
    )
    if filters.knowledge_base is not None:
        asking = Conversation.objects.filter(knowledge_bases=filters.knowledge_base).values("id")
        answers = answers.filter(conversation__in=asking)
    return in_managed_conversations(answers, user=viewer)


@dataclass(frozen=True)
class Totals:
    questions: int
    users: int
    tokens: int
    cost_usd: float
    rated: int
    thumbs_down: int
    nothing_found: int

    @property
    def thumbs_down_percent(self) -> float | None:
        return None if not self.rated else round(100 * self.thumbs_down / self.rated, 1)


NOTHING_FOUND = [Message.Grounding.NOT_FOUND, Message.Grounding.GENERAL]
# A person asked: events keep the user's name, which outlives the account.
PEOPLE = Count("username", distinct=True, filter=~Q(username=""))


def totals(questions: QuerySet[Event], answers: QuerySet[Message]) -> Totals:
    asked = questions.aggregate(
        questions=Count("id"),
        users=PEOPLE,
        tokens=quotas.tokens_sum(),
        cost=quotas.cost_sum(),
        nothing_found=Count("id", filter=Q(detail__grounding__in=NOTHING_FOUND)),
    )
    rated = answers.aggregate(
        rated=Count("id", filter=~Q(rating="")), down=Count("id", filter=Q(rating=Message.Rating.DOWN))
    )
    return Totals(
        questions=asked["questions"],
        users=asked["users"],
        tokens=asked["tokens"] or 0,
        cost_usd=asked["cost"] or 0.0,
        rated=rated["rated"],
        thumbs_down=rated["down"],
        nothing_found=asked["nothing_found"],
    )


def per_day(questions: QuerySet[Event], filters: Filters) -> list[tuple[datetime.date, int, int]]:
    """(day, questions, active users) for every day of the range, the days without any too."""
    rows = (
        questions.annotate(day=TruncDate("at", tzinfo=quotas.local_zone()))
        .values("day")
        .annotate(questions=Count("id"), users=PEOPLE)
    )
    found = {row["day"]: (row["questions"], row["users"]) for row in rows}
    return [(day, *found.get(day, (0, 0))) for day in filters.days]


@dataclass(frozen=True)
class Share:
    label: str
    questions: int
    tokens: int
    cost_usd: float


BY = {
    "model": KT("detail__model"),
    "knowledge_base": F("asked__knowledge_base_id"),
    "user": F("username"),
}


def breakdown(questions: QuerySet[Event], by: str) -> list[Share]:
    """Questions, tokens and cost per model, knowledge base or user: the TOP_ROWS that cost most."""
    rows = (
        Event.objects.filter(id__in=questions.values("id"))
        .values(key=BY[by])
        .annotate(
            questions=Count("id"),
            tokens=quotas.tokens_sum(),
            cost=quotas.cost_sum(),
            # A knowledge base by the name it had (the latest, alphabetically, if it was renamed).
            label=Max("asked__name") if by == "knowledge_base" else Max(BY[by]),
        )
        .order_by(F("cost").desc(nulls_last=True), "-questions", "label")[:TOP_ROWS]
    )
    return [
        Share(row["label"] or "", row["questions"], row["tokens"] or 0, row["cost"] or 0.0) for row in rows
    ]


def thumbs_down(answers: QuerySet[Message]) -> QuerySet[Message]:
    """The latest answers rated bad, with their questions."""
    rated = answers.filter(rating=Message.Rating.DOWN).select_related("reply_to", "conversation__user")
    return rated.order_by("-created_at", "-id")[:LISTED]


def content_gaps(answers: QuerySet[Message]) -> QuerySet[Message]:
    """The latest answers for which no passage was relevant: what the documents do not cover."""
    gaps = answers.filter(grounding__in=NOTHING_FOUND).select_related("reply_to")
    return gaps.prefetch_related("conversation__knowledge_bases").order_by("-created_at", "-id")[:LISTED]


@dataclass(frozen=True)
class StepTimes:
    name: str
    answers: int  # that recorded this step
    p50_ms: float | None
    p95_ms: float | None


def step_times(questions: QuerySet[Event]) -> list[StepTimes]:
    return [_percentiles(questions, key, factor, str(name)) for key, factor, name in STEPS]


def _percentiles(questions: QuerySet[Event], key: str, factor: int, name: str) -> StepTimes:
    recorded = questions.filter(detail__timings__has_key=key).exclude(**{f"detail__timings__{key}": None})
    timed = recorded.annotate(step=Cast(KT(f"detail__timings__{key}"), FloatField()))
    count = timed.count()
    ordered = timed.order_by("step", "id").values_list("step", flat=True)

    def at(fraction: float) -> float | None:
        return None if not count else ordered[max(1, math.ceil(fraction * count)) - 1] * factor

    return StepTimes(name, count, at(0.5), at(0.95))
