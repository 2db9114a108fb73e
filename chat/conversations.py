"""A user's conversations: the sidebar's grouped and searched list, the edits a user makes, and the
versions of an answer (regenerating adds one; the user picks which one the conversation goes on from)."""

from collections import Counter
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from audit.log import record
from audit.models import Event
from chat.models import Conversation, Message

MAX_LISTED = 200
MAX_TITLE_CHARS = 200
MAX_FEEDBACK_CHARS = 4000


@dataclass(frozen=True)
class Group:
    label: str
    conversations: list[Conversation]


class NothingToResend(Exception):
    """The conversation does not end with a finished question and answer."""


class AnswerBeingWritten(Exception):
    """A version of this answer is still streaming."""


def conversation_search(*, user, query: str = "") -> QuerySet[Conversation]:
    """The user's conversations, newest first; with a query, those whose title or messages contain it."""
    conversations = Conversation.objects.filter(user=user)
    query = query.strip()
    if query:
        matching = Message.objects.filter(content__icontains=query).values("conversation_id")
        conversations = conversations.filter(Q(title__icontains=query) | Q(id__in=matching))
    return conversations[:MAX_LISTED]


def _group_label(day: date, today: date) -> str:
    age = (today - day).days
    if age <= 0:
        return _("Today")
    if age == 1:
        return _("Yesterday")
    if age < 7:
        return _("Previous 7 days")
    if age < 30:
        return _("Previous 30 days")
    return date_format(day, "YEAR_MONTH_FORMAT")


def conversation_groups(conversations: QuerySet[Conversation] | list[Conversation]) -> list[Group]:
    """Conversations (newest first) under date headings: today, yesterday, the last week and month,
    then by month."""
    today = timezone.localdate()
    groups: list[Group] = []
    for conversation in conversations:
        label = _group_label(timezone.localdate(conversation.updated_at), today)
        if not groups or groups[-1].label != label:
            groups.append(Group(label, []))
        groups[-1].conversations.append(conversation)
    return groups


def conversation_rename(*, conversation: Conversation, title: str) -> None:
    conversation.title = " ".join(title.split())[:MAX_TITLE_CHARS]
    # Renaming is not activity: the conversation keeps its place in the list.
    Conversation.objects.filter(id=conversation.id).update(title=conversation.title)


def conversation_delete(*, conversation: Conversation) -> None:
    """Delete the conversation with its messages; its owner does (nobody else may)."""
    with transaction.atomic():
        record(
            Event.Kind.DELETE,
            user=conversation.user,
            target=f"conversation:{conversation.id}",
            summary=conversation.title,
            messages=conversation.messages.count(),
        )
        conversation.delete()


def message_rate(*, message: Message, rating: str, feedback: str) -> None:
    """Store the user's thumbs up or down (or none) on an answer, with an optional comment."""
    message.rating = rating
    message.feedback = feedback.strip()[:MAX_FEEDBACK_CHARS]
    message.save(update_fields=["rating", "feedback"])


def last_question(*, conversation: Conversation) -> Message:
    """The question the conversation ends with, to answer again (regenerate) or to replace by an
    edited one; refused while one of its answers is still being written."""
    question = conversation.messages.filter(role=Message.Role.USER, shown=True).last()
    if question is None:
        raise NothingToResend
    answers = question.versions.values_list("status", flat=True)
    if not answers or Message.Status.STREAMING in answers:
        raise NothingToResend
    return question


def question_withdraw(*, question: Message) -> None:
    """Take a question that was edited and resent, and its answers, out of the conversation and its
    history. They are kept, with the feedback given to them."""
    Message.objects.filter(Q(id=question.id) | Q(reply_to=question)).update(shown=False)


def answer_show(*, answer: Message) -> None:
    """Show this version of its question's answers: on the page, and in the history the next
    question is sent with. Refused while one of the versions is still being written (it is saved
    whole when it ends, and would take the choice back)."""
    versions = Message.objects.filter(reply_to_id=answer.reply_to_id)
    if versions.filter(status=Message.Status.STREAMING).exists():
        raise AnswerBeingWritten
    with transaction.atomic():
        versions.exclude(id=answer.id).update(shown=False)
        versions.filter(id=answer.id).update(shown=True)
    answer.shown = True


def conversation_thread(*, conversation: Conversation) -> list[Message]:
    """The messages the conversation's page shows, in order: the questions still asked and every
    version of their answers, each answer numbered (`version` of `version_count`)."""
    answers = Q(role=Message.Role.ASSISTANT) & (Q(reply_to__shown=True) | Q(reply_to__isnull=True))
    shown = conversation.messages.filter(Q(role=Message.Role.USER, shown=True) | answers)
    messages = list(shown.defer("prompt"))  # up to a model's context each, and never shown
    counts = Counter(m.reply_to_id for m in messages if m.reply_to_id is not None)
    numbered: Counter[int] = Counter()
    for message in messages:
        message.version = message.version_count = 1
        if message.reply_to_id is not None:
            numbered[message.reply_to_id] += 1
            message.version = numbered[message.reply_to_id]
            message.version_count = counts[message.reply_to_id]
    return messages
