"""A user's conversations: the sidebar's grouped and searched list, and the edits a user makes."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

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


def message_rate(*, message: Message, rating: str, feedback: str) -> None:
    """Store the user's thumbs up or down (or none) on an answer, with an optional comment."""
    message.rating = rating
    message.feedback = feedback.strip()[:MAX_FEEDBACK_CHARS]
    message.save(update_fields=["rating", "feedback"])


def conversation_rewind(*, conversation: Conversation) -> str:
    """Remove the last question and its answer, to ask it again (regenerate) or a new version of it
    (edit and resend); returns the question removed."""
    last = list(conversation.messages.order_by("-created_at", "-id")[:2])
    if len(last) < 2 or [m.role for m in last] != [Message.Role.ASSISTANT, Message.Role.USER]:
        raise NothingToResend
    answer, question = last
    if answer.status == Message.Status.STREAMING:
        raise NothingToResend
    Message.objects.filter(id__in=[answer.id, question.id]).delete()
    return question.content
