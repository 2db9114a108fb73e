"""The account page (your own usage and limits) and the usage dashboard (administrators)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy

from chat import rate_limits
from chatsite.signed_in import SignedInRequest
from knowledge import access
from usage import charts, quotas
from usage import dashboard as figures

DASHBOARD_PERMISSION = "usage.view_usage_dashboard"


@login_required
def account(request: SignedInRequest) -> HttpResponse:
    if refusal := rate_limits.refusal(rate_limits.USAGE_PAGES, str(request.user.pk)):
        return refusal
    user = request.user
    limits = quotas.effective_limits(user=user)
    used = quotas.usage_of(user=user)
    context = {
        "limits": limits,
        "used": used,
        "questions_share": charts.percent_of(used.questions_today, limits.questions_per_day),
        "spend_share": charts.percent_of(used.spend_this_month_usd, limits.spend_per_month_usd),
        "exempt": quotas.exempt(user),
        "groups": ", ".join(user.groups.order_by("name").values_list("name", flat=True)),
        "time_zone": quotas.local_zone().key,
    }
    return render(request, "usage/account.html", context)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_staff and request.user.has_perm(DASHBOARD_PERMISSION)):
        raise PermissionDenied
    if refusal := rate_limits.refusal(rate_limits.USAGE_PAGES, str(request.user.pk)):
        return refusal
    knowledge_bases = access.managed_knowledge_bases(request.user).order_by("name")
    context = {"knowledge_bases": knowledge_bases, "params": request.GET, "max_days": figures.MAX_DAYS}
    today = timezone.now().astimezone(quotas.local_zone()).date()
    try:
        filters = figures.parse_filters(request.GET, knowledge_bases=knowledge_bases, today=today)
    except figures.BadFilters as problem:
        return render(request, "usage/dashboard.html", context | {"problem": str(problem)}, status=400)
    return render(request, "usage/dashboard.html", context | _figures(request, filters))


def _figures(request: HttpRequest, filters: figures.Filters) -> dict:
    questions = figures.questions_in(filters, viewer=request.user)
    answers = figures.answers_in(filters, viewer=request.user)
    days = figures.per_day(questions, filters)
    tables = {by: figures.breakdown(questions, by) for by in figures.BY}
    return {
        "filters": filters,
        "totals": figures.totals(questions, answers),
        "questions_chart": charts.column_chart([(day.isoformat(), questions) for day, questions, _u in days]),
        "users_chart": charts.column_chart([(day.isoformat(), users) for day, _q, users in days]),
        "tables": [_table(by, rows) for by, rows in tables.items()],
        "thumbs_down": figures.thumbs_down(answers),
        "content_gaps": figures.content_gaps(answers),
        "steps": figures.step_times(questions),
    }


TABLE_TITLES = {
    "model": (gettext_lazy("Per model"), gettext_lazy("Model")),
    "knowledge_base": (gettext_lazy("Per knowledge base"), gettext_lazy("Knowledge base")),
    "user": (gettext_lazy("Per user"), gettext_lazy("User")),
}


def _table(by: str, rows: list[figures.Share]) -> dict:
    """A table's rows, each with its bar: its share of the cost, or of the questions when nothing
    had a price."""
    by_cost = any(row.cost_usd for row in rows)
    bars = charts.shares([row.cost_usd if by_cost else row.questions for row in rows])
    title, heading = TABLE_TITLES[by]
    return {
        "title": title,
        "heading": heading,
        "by_cost": by_cost,
        "rows": list(zip(rows, bars, strict=True)),
    }
