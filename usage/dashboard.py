"""The figures of the usage dashboard, aggregated in the database for a bounded date range.

Every figure is over answers (chat.models.Message, assistant role) written in the range, on the day
of settings.TIME_ZONE they were written; an answer still streaming or refused for a quota is not
counted. A "question" is an answer asked for: regenerating an answer asks again. A knowledge base's
figures are those of the conversations that ask it (a conversation over two counts for both). Each
viewer sees the answers of conversations over knowledge bases they manage (all for a superuser), as
in the admin's feedback list.

Percentiles are exact (nearest rank): for each step the answers that recorded it are counted, then
the value at each rank is read by ordering in the database, one row at a time.
"""

import datetime
import math
from dataclasses import dataclass

from django.db.models import Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, TruncDate
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat.feedback import in_managed_conversations
from chat.models import Conversation, Message
from chatsite.bad_requests import is_id
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


def answers_in(filters: Filters, *, viewer) -> QuerySet[Message]:
    zone = quotas.local_zone()
    start = datetime.datetime.combine(filters.start, datetime.time.min, zone)
    end = datetime.datetime.combine(filters.end + datetime.timedelta(days=1), datetime.time.min, zone)
    answers = (
        Message.objects.filter(role=Message.Role.ASSISTANT, created_at__gte=start, created_at__lt=end)
        .exclude(status=Message.Status.STREAMING)
        .exclude(error_code=quotas.QUOTA_EXCEEDED)
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


def totals(answers: QuerySet[Message]) -> Totals:
    row = answers.aggregate(
        questions=Count("id"),
        users=Count("conversation__user", distinct=True),
        tokens=quotas.tokens_sum(),
        cost=Sum("cost_usd"),
        rated=Count("id", filter=~Q(rating="")),
        down=Count("id", filter=Q(rating=Message.Rating.DOWN)),
        nothing_found=Count("id", filter=Q(grounding__in=NOTHING_FOUND)),
    )
    return Totals(
        questions=row["questions"],
        users=row["users"],
        tokens=row["tokens"] or 0,
        cost_usd=row["cost"] or 0.0,
        rated=row["rated"],
        thumbs_down=row["down"],
        nothing_found=row["nothing_found"],
    )


def per_day(answers: QuerySet[Message], filters: Filters) -> list[tuple[datetime.date, int, int]]:
    """(day, questions, active users) for every day of the range, the days without any too."""
    rows = (
        answers.annotate(day=TruncDate("created_at", tzinfo=quotas.local_zone()))
        .values("day")
        .annotate(questions=Count("id"), users=Count("conversation__user", distinct=True))
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
    "model": "model",
    "knowledge_base": "conversation__knowledge_bases__name",
    "user": "conversation__user__username",
}


def breakdown(answers: QuerySet[Message], by: str) -> list[Share]:
    """Questions, tokens and cost per model, knowledge base or user: the TOP_ROWS that cost most."""
    rows = (
        Message.objects.filter(id__in=answers.values("id"))
        .values(label=F(BY[by]))
        .annotate(questions=Count("id"), tokens=quotas.tokens_sum(), cost=Sum("cost_usd"))
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


def step_times(answers: QuerySet[Message]) -> list[StepTimes]:
    return [_percentiles(answers, key, factor, str(name)) for key, factor, name in STEPS]


def _percentiles(answers: QuerySet[Message], key: str, factor: int, name: str) -> StepTimes:
    recorded = answers.filter(timings__has_key=key).exclude(**{f"timings__{key}": None})  # not JSON null
    timed = recorded.annotate(step=Cast(KT(f"timings__{key}"), FloatField()))
    count = timed.count()
    ordered = timed.order_by("step", "id").values_list("step", flat=True)

    def at(fraction: float) -> float | None:
        return None if not count else ordered[max(1, math.ceil(fraction * count)) - 1] * factor

    return StepTimes(name, count, at(0.5), at(0.95))
