"""Read-only links to a conversation: making and revoking them, finding one by its token, and what the
shared page shows to whoever opens it.

A link's token is `secrets.token_urlsafe(32)` (256 random bits) and only its SHA-256 is stored, as for
API keys: a copy of the database (a backup, a replica, the admin) holds no working link. Finding a link
is then an indexed lookup of the hash, and a timing difference in it tells nothing about any token.
The owner sees the link once, when it is made; a lost one is revoked and made again.
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.log import record
from audit.models import Event
from chat import answering
from chat.models import Conversation, Message, Share
from chatsite.digests import secret_digest
from knowledge.models import Document, KnowledgeBase

TOKEN_BYTES = 32
# Longer than any token made (43 characters): anything longer is no link, and is not hashed.
MAX_TOKEN_CHARS = 64


class TooManyShares(Exception):
    """The user already has SHARE_MAX_ACTIVE_PER_USER links that are not revoked."""


@dataclass(frozen=True)
class NewShare:
    share: Share
    token: str  # shown once: only its hash is kept


def share_create(*, conversation: Conversation, signed_in_only: bool, show_reasoning: bool) -> NewShare:
    """A new link to the conversation, made by its owner, with its own options."""
    owner = conversation.user
    if Share.objects.filter(created_by=owner, revoked_at__isnull=True).count() >= max_active_shares():
        raise TooManyShares
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        share = Share.objects.create(
            conversation=conversation,
            created_by=owner,
            token_hash=secret_digest(token),
            signed_in_only=signed_in_only,
            show_reasoning=show_reasoning,
        )
        _audit(share, "created")
    return NewShare(share, token)


def share_revoke(*, share: Share) -> None:
    """Revoke the link: from now on it is a 404, like a link that never existed. Revoking it again
    changes nothing."""
    if share.revoked_at is not None:
        return
    with transaction.atomic():
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])
        _audit(share, "revoked")


def _audit(share: Share, action: str) -> None:
    record(
        Event.Kind.SHARE,
        user=share.created_by,
        target=f"conversation:{share.conversation_id}",
        summary=share.conversation.title,
        action=action,
        share=share.id,
        signed_in_only=share.signed_in_only,
        show_reasoning=share.show_reasoning,
    )


def max_active_shares() -> int:
    return settings.SHARE_MAX_ACTIVE_PER_USER


def active_share(token: str) -> Share | None:
    """The link with this token, unless it is revoked or there is none."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    found = Share.objects.select_related("conversation").filter(token_hash=secret_digest(token)).first()
    return found if found is not None and found.is_active else None


def shares_of(*, user) -> list[Share]:
    """The links a user made, newest first, with their conversations."""
    return list(Share.objects.filter(created_by=user).select_related("conversation"))


def shown_messages(*, conversation: Conversation) -> list[Message]:
    """The conversation as its owner sees it now: the questions still asked and the version of each
    answer chosen. Shared pages and exports show these."""
    return list(conversation.messages.filter(shown=True))


def readable_documents(*, viewer, document_ids: set[int]) -> set[int]:
    """Of these documents, those in a knowledge base the viewer may read (none for the anonymous)."""
    readable = KnowledgeBase.objects.readable_by(viewer)
    rows = Document.objects.filter(id__in=document_ids, knowledge_base__in=readable)
    return set(rows.values_list("id", flat=True))


def shared_cards(cited: list[dict], *, viewer) -> list[dict]:
    """Citation cards for a shared page: document title and location always, a link to the document
    only for a viewer who may read its knowledge base; without one, the original stays out of reach."""
    cards = answering.citation_cards(cited)
    ids = {c["document_id"] for c in cards if c.get("document_id")}
    readable = readable_documents(viewer=viewer, document_ids=ids) if ids else set()
    return [c if c.get("document_id") in readable else {**c, "document_url": ""} for c in cards]


def shared_thread(*, share: Share, viewer) -> list[Message]:
    """The messages a shared page shows, ready to render: reasoning only when the owner chose it, the
    reason an answer failed as its user saw it (never the technical detail), and no follow-ups."""
    messages = shown_messages(conversation=share.conversation)
    for message in messages:
        if not share.show_reasoning:
            message.reasoning = ""
        message.detail = ""
        message.follow_ups = []
        message.citations = shared_cards(message.citations, viewer=viewer)
        message.html = answering.answer_html(message, message.citations)
    return messages
