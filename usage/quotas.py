"""Quotas: how many questions a day and how much spend a month a user's answers may take.

A user's limit, for each of the two: their own (a QuotaLimit of the user) where it sets one; else the
most generous of those their groups' QuotaLimits set; else the default, QUOTA_QUESTIONS_PER_DAY or
QUOTA_SPEND_PER_MONTH_USD (unset: no limit). Administrators (staff) are exempt while
QUOTA_EXEMPT_STAFF. A user's own limit wins over their groups' either way, lower or higher: it is how
an administrator makes an exception for one person.

What counts is the audit log's QUESTION events (chat.question_log), which the answer engine writes
once per answer on every path (the chat page, the REST ask, `/v1`, the `ask` command; regenerating
is an answer too) whether or not a conversation is saved: each since the day or the month began in
settings.TIME_ZONE, and its cost_usd and tokens. An answer counts once it has ended, so answers asked
at the same moment (as many as ANSWER_RATE_PER_USER lets through) may pass a limit together. Answers
that failed upstream count (the question was asked); answers refused before anything was searched or
billed do not: over a quota (QUOTA_EXCEEDED), or a question the content policy blocks (`/v1` refuses
those with a 400 before answering, so they count nowhere). The audit retention is never shorter than
a month (settings.AUDIT_RETENTION_MIN_DAYS), so the events a quota needs are kept.

The answer engine asks `answer_refusal` before any answer starts, on every path that answers.
"""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count, FloatField, IntegerField, Max, Q, QuerySet, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.log import record
from audit.models import Event
from chat.providers import Error
from chatsite.db_threads import in_pool
from policy.screening import QUESTION_BLOCKED
from usage.models import QuotaLimit

QUOTA_EXCEEDED = "insufficient_quota"  # OpenAI's code for a spent quota
# The error codes of answers refused before anything was searched or billed: not questions answered.
NOT_COUNTED = [QUOTA_EXCEEDED, QUESTION_BLOCKED]


@dataclass(frozen=True)
class Limits:
    questions_per_day: int | None  # None: no limit
    spend_per_month_usd: float | None


@dataclass(frozen=True)
class Usage:
    questions_today: int
    spend_this_month_usd: float
    tokens_this_month: int


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_start(now: datetime.datetime | None = None) -> datetime.datetime:
    """When today began in settings.TIME_ZONE."""
    local = (now or timezone.now()).astimezone(local_zone())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime.datetime | None = None) -> datetime.datetime:
    return day_start(now).replace(day=1)


def effective_limits(*, user: User) -> Limits:
    own = QuotaLimit.objects.filter(user=user).first()
    groups = QuotaLimit.objects.filter(group__user=user).aggregate(
        questions=Max("questions_per_day"), spend=Max("spend_per_month_usd")
    )
    questions = _first_set(
        own and own.questions_per_day, groups["questions"], settings.QUOTA_QUESTIONS_PER_DAY
    )
    spend = _first_set(own and own.spend_per_month_usd, groups["spend"], settings.QUOTA_SPEND_PER_MONTH_USD)
    return Limits(questions, None if spend is None else float(spend))


def _first_set(*values):
    return next((value for value in values if value is not None), None)


def counted_questions() -> QuerySet[Event]:
    """The questions that count: QUESTION events, but those refused before answering. Events from
    before the error code was recorded have none, and count."""
    refused = Q(detail__error_code__in=NOT_COUNTED) & Q(detail__has_key="error_code")
    return Event.objects.filter(kind=Event.Kind.QUESTION).exclude(refused)


def questions_of(user: User) -> QuerySet[Event]:
    """The user's questions that count."""
    return counted_questions().filter(user_id=user.pk)


def cost_sum() -> Sum:
    """The cost in USD recorded in audit events' `detail`, summed in the database."""
    return Sum(Cast(KT("detail__cost_usd"), FloatField()))


def tokens_sum() -> Sum:
    """The prompt and completion tokens recorded in audit events' `detail`, summed in the database."""
    prompt = Cast(KT("detail__prompt_tokens"), IntegerField())
    completion = Cast(KT("detail__completion_tokens"), IntegerField())
    return Sum(Coalesce(prompt, 0) + Coalesce(completion, 0))


def usage_of(*, user: User, now: datetime.datetime | None = None) -> Usage:
    questions = questions_of(user)
    month = questions.filter(at__gte=month_start(now)).aggregate(spend=cost_sum(), tokens=tokens_sum())
    today = questions.filter(at__gte=day_start(now)).aggregate(count=Count("id"))
    return Usage(today["count"], month["spend"] or 0.0, month["tokens"] or 0)


def exempt(user: User) -> bool:
    return bool(settings.QUOTA_EXEMPT_STAFF and user.is_staff)


def refusal(*, user: User, now: datetime.datetime | None = None) -> Error | None:
    """Why the user may not have another answer now (recorded in the audit log), or None."""
    if exempt(user):
        return None
    limits = effective_limits(user=user)
    if limits.questions_per_day is None and limits.spend_per_month_usd is None:
        return None
    used = usage_of(user=user, now=now)
    if limits.questions_per_day is not None and used.questions_today >= limits.questions_per_day:
        message = _(
            "You have reached your limit of %(limit)d questions a day. You can ask again tomorrow."
        ) % {"limit": limits.questions_per_day}
        return _refused(user, message, "questions_per_day", used.questions_today, limits.questions_per_day)
    if limits.spend_per_month_usd is not None and used.spend_this_month_usd >= limits.spend_per_month_usd:
        message = _(
            "You have reached your spending limit of $%(limit).2f this month. You can ask again next month."
        ) % {"limit": limits.spend_per_month_usd}
        spent = round(used.spend_this_month_usd, 6)
        return _refused(user, message, "spend_per_month_usd", spent, limits.spend_per_month_usd)
    return None


def _refused(user: User, message: str, limit: str, used: float, allowed: float) -> Error:
    summary = f"Answer refused: {limit} {used} of {allowed}"
    record(
        Event.Kind.QUOTA,
        user=user,
        target=f"user:{user.pk}",
        summary=summary,
        limit=limit,
        used=used,
        allowed=allowed,
    )
    return Error(code=QUOTA_EXCEEDED, message=message, status=429)


async def answer_refusal(*, user: User | None) -> Error | None:
    """For the answer engine, before an answer starts: why not, or None (also with no user to count)."""
    return None if user is None else await in_pool(refusal, writes=True, user=user)
