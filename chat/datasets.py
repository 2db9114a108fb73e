"""Fine-tuning data sets: answered questions as JSON lines in the chat format that OpenAI's
fine-tuning and the usual open tools (Hugging Face TRL, LLaMA-Factory) read, with DeepSeek's
`reasoning_content` on the answer:

    {"messages": [<the messages the model was sent>, {"role": "assistant", "content": <the answer>,
                  "reasoning_content": <its reasoning>}]}

The messages are those stored with the answer (Message.prompt, chat.engine.Outcome.prompt): the
instructions, the passages as system messages, the history and the question, or all of it in the
user turn for a local distill, exactly as that model received them. `reasoning_content` is left out
of an answer without reasoning (a model that does not reason).

Exported: the version of an answer the user kept (shown), complete, written by a model (a prompt
recorded: not retrieval-only, FAQ or nothing-found replies, nor an answer withdrawn by the content
policy, whose prompt is not kept), with a text. Answers from general knowledge are exported with
those from the documents: their instructions say so, and a distill trained on them learns to say
so too when nothing relevant is found. Everything else the filters select is counted, by why.

Personal data is replaced unless kept on purpose (chat.personal_data). Rows are read in batches by
id, so an export of any size holds one batch (at most BATCH answers, each bounded by its model's
context) in memory; the admin reads each batch on a pool thread, as the audit log's CSV does.
"""

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from audit import log
from audit.models import Event
from chat import personal_data
from chat.models import Message
from chatsite.db_threads import in_pool
from knowledge import access
from knowledge.models import KnowledgeBase

BATCH = 100
# Why a selected answer is not exported, checked in this order (each answer counted once): another
# version was kept or the question edited; it failed, was stopped or is unfinished; no model call was
# recorded (retrieval-only, FAQ, nothing found, withdrawn by the content policy, or answered before
# prompts were kept); it has no text.
SKIPPED: dict[str, Q] = {
    "not_shown": Q(shown=False),
    "not_complete": ~Q(status=Message.Status.COMPLETE),
    "no_model_answer": ~Q(mode=Message.Mode.LLM) | Q(prompt=[]),
    "empty": Q(content=""),
}


@dataclass(frozen=True)
class Filters:
    knowledge_bases: tuple[str, ...] = ()  # slugs: answers that searched any of them
    since: datetime | None = None
    rating_up: bool = False
    model: str = ""  # the upstream id or the configured name of the model that answered

    def detail(self) -> dict:
        """The filters as the audit log keeps them."""
        return asdict(self) | {"since": self.since.isoformat() if self.since else None}


@dataclass(frozen=True)
class Counts:
    exported: int
    skipped: dict[str, int]  # by reason (SKIPPED), those with none left out


def parse_since(value: str) -> datetime:
    """An ISO date (its start) or date and time, in the current time zone unless it names one;
    ValueError names the value."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since {value!r} is not an ISO date or date and time, e.g. 2026-11-01.") from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def unknown_slugs(slugs: tuple[str, ...]) -> list[str]:
    known = set(KnowledgeBase.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    return [slug for slug in slugs if slug not in known]


def selected(*, filters: Filters, answers: QuerySet[Message] | None = None) -> QuerySet[Message]:
    """The answers (of `answers`, else all) that the filters select, exportable or not."""
    chosen = (Message.objects.all() if answers is None else answers).filter(role=Message.Role.ASSISTANT)
    if filters.knowledge_bases:
        searched = Message.searched_knowledge_bases.through.objects.filter(
            knowledgebase__slug__in=filters.knowledge_bases
        )
        chosen = chosen.filter(id__in=searched.values("message_id"))
    if filters.since is not None:
        chosen = chosen.filter(created_at__gte=filters.since)
    if filters.rating_up:
        chosen = chosen.filter(rating=Message.Rating.UP)
    if filters.model:
        chosen = chosen.filter(Q(model=filters.model) | Q(model_name=filters.model))
    return chosen


def readable_by(answers: QuerySet[Message], *, user: User | AnonymousUser) -> QuerySet[Message]:
    """Those of `answers` whose prompt `user` may read: every knowledge base searched for them is one
    they manage (all answers for a superuser). The conversation's knowledge bases, which scope the
    feedback list, may have changed since: its passages come from those searched then."""
    if user.is_superuser:
        return answers
    managed = access.managed_knowledge_bases(user).values("id")
    searched = Message.searched_knowledge_bases.through.objects
    return answers.exclude(id__in=searched.exclude(knowledgebase_id__in=managed).values("message_id"))


def exportable(answers: QuerySet[Message]) -> QuerySet[Message]:
    excluded = Q()
    for condition in SKIPPED.values():
        excluded |= condition
    return answers.exclude(excluded)


def counts(answers: QuerySet[Message]) -> Counts:
    """How many of the selected `answers` are exported, and how many are not, by why."""
    figures: dict[str, Count] = {}
    earlier = Q()
    for reason, condition in SKIPPED.items():
        figures[reason] = Count("id", filter=condition & ~earlier)
        earlier |= condition
    figures["exported"] = Count("id", filter=~earlier)
    found = answers.order_by().aggregate(**figures)
    exported = found.pop("exported")
    return Counts(exported=exported, skipped={reason: n for reason, n in found.items() if n})


def line(answer: Message, *, keep_personal_data: bool = False, names: re.Pattern[str] | None = None) -> str:
    """One answer as a line of the data set; without personal data unless it is kept, `names` being
    the asker's and the configured ones (personal_data.names_pattern)."""
    reply: dict[str, str] = {"role": Message.Role.ASSISTANT, "content": answer.content}
    if answer.reasoning:
        reply["reasoning_content"] = answer.reasoning
    messages = [*answer.prompt, reply]
    if not keep_personal_data:
        messages = [
            {
                key: personal_data.without_personal_data(value, names=names) if key != "role" else value
                for key, value in m.items()
            }
            for m in messages
        ]
    return json.dumps({"messages": messages}, ensure_ascii=False) + "\n"


def _batch(answers: QuerySet[Message], after: int) -> list[Message]:
    page = answers.filter(id__gt=after).defer(None).select_related("conversation__user").order_by("id")
    return list(page[:BATCH])


def _lines(batch: list[Message], *, keep_personal_data: bool) -> list[str]:
    names: dict[int, re.Pattern[str] | None] = {}  # by asker: their answers come in runs
    written = []
    for answer in batch:
        asker = answer.conversation.user
        if not keep_personal_data and asker.id not in names:
            names[asker.id] = personal_data.names_pattern(personal_data.asker_names(asker))
        written.append(line(answer, keep_personal_data=keep_personal_data, names=names.get(asker.id)))
    return written


def lines(answers: QuerySet[Message], *, keep_personal_data: bool = False) -> Iterator[str]:
    """The exportable `answers` as the data set, a line each, oldest first."""
    after = 0
    while batch := _batch(exportable(answers), after):
        yield from _lines(batch, keep_personal_data=keep_personal_data)
        after = batch[-1].id


async def streamed_lines(answers: QuerySet[Message]) -> AsyncIterator[bytes]:
    """`lines` for a download, without personal data, a batch at a time: each read and written on a
    pool thread, so the stream holds no database connection while the client reads."""
    after = 0
    while batch := await in_pool(_batch, exportable(answers), after):
        yield "".join(await in_pool(_lines, batch, keep_personal_data=False)).encode()
        after = batch[-1].id


def record_export(
    *,
    filters: Filters,
    found: Counts,
    keep_personal_data: bool,
    user: User | AnonymousUser | None = None,
    request: HttpRequest | None = None,
    via: str,
    **detail: Any,
) -> Event:
    """The export in the audit log: who, through what, with which filters, and how many."""
    return log.record(
        Event.Kind.EXPORT,
        user=user,
        request=request,
        target="dataset",
        summary=f"Fine-tuning data set: {found.exported} answers ({via})",
        export="dataset",
        via=via,
        filters=filters.detail(),
        exported=found.exported,
        skipped=found.skipped,
        personal_data="kept" if keep_personal_data else "replaced",
        **detail,
    )
