"""Writing FAQ pairs: create, change, delete, import, and drafts from rated answers. Each writes its
vectors and terms (faq.matching.encode) and one audit event, whichever page or endpoint called it;
`user` is who did it."""

import re
from dataclasses import dataclass, field
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.log import record
from audit.models import Event
from chat import citations
from chat.models import Message
from faq import importing, matching
from faq.models import FaqPair
from knowledge.models import KnowledgeBase

LISTED_PAIRS = 100
_MARKER_AND_SPACE = re.compile(
    r"[ \t]*" + citations.MARKER.pattern
)  # an import's event names at most this many questions


class FaqLimitError(ValueError):
    """The knowledge base would hold more than FAQ_MAX_PAIRS pairs."""


def limit_message() -> str:
    return _("A knowledge base holds at most %(limit)s FAQ pairs (setting FAQ_MAX_PAIRS).") % {
        "limit": settings.FAQ_MAX_PAIRS
    }


def is_full(knowledge_base: KnowledgeBase) -> bool:
    return FaqPair.objects.filter(knowledge_base=knowledge_base).count() >= settings.FAQ_MAX_PAIRS


def _record(action: str, *, user, knowledge_base: KnowledgeBase, target: str, summary: str, **detail) -> None:
    record(
        Event.Kind.FAQ,
        user=user,
        target=target,
        summary=summary,
        action=action,
        knowledge_base=knowledge_base.name,
        **detail,
    )


def _encode(pair: FaqPair) -> None:
    pair.vectors, pair.terms = matching.encode(pair.phrasings)


def pair_save(*, pair: FaqPair, user) -> FaqPair:
    """Save a new or changed pair (its fields set by the caller and valid) with its vectors."""
    created = pair.pk is None
    if created and is_full(pair.knowledge_base):
        raise FaqLimitError(limit_message())
    if created and pair.created_by is None and user is not None and user.is_authenticated:
        pair.created_by = user
    _encode(pair)
    pair.save()
    _record(
        "created" if created else "changed",
        user=user,
        knowledge_base=pair.knowledge_base,
        target=f"faq_pair:{pair.id}",
        summary=pair.question,
        from_message=pair.from_message_id,
    )
    return pair


def pair_create(
    *, knowledge_base: KnowledgeBase, question: str, answer: str, alternatives: list[str], user
) -> FaqPair:
    pair = FaqPair(knowledge_base=knowledge_base, question=question, answer=answer, alternatives=alternatives)
    return pair_save(pair=pair, user=user)


def pair_delete(*, pair: FaqPair, user) -> None:
    _record(
        "deleted",
        user=user,
        knowledge_base=pair.knowledge_base,
        target=f"faq_pair:{pair.id}",
        summary=pair.question,
    )
    pair.delete()


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)


def pairs_import(*, knowledge_base: KnowledgeBase, name: str, file: IO[bytes], user) -> ImportReport:
    """Add the file's pairs to the knowledge base; a question it already has gets the file's answer
    and alternatives. Raises importing.ImportFileError (nothing imported) for a file that cannot be
    read, FaqLimitError when the pairs would not fit; rows with a problem are skipped and reported."""
    parsed = importing.parse(name, file)
    existing = {pair.question: pair for pair in FaqPair.objects.filter(knowledge_base=knowledge_base)}
    new = [row for row in parsed.rows if row.question not in existing]
    if len(existing) + len(new) > settings.FAQ_MAX_PAIRS:
        raise FaqLimitError(limit_message())
    pairs = []
    for row in parsed.rows:
        pair = existing.get(row.question) or FaqPair(
            knowledge_base=knowledge_base, question=row.question, created_by=user
        )
        pair.answer, pair.alternatives = row.answer, row.alternatives
        pairs.append(pair)
    phrasings = [pair.phrasings for pair in pairs]
    vectors, _terms = matching.encode([text for texts in phrasings for text in texts])
    size = len(vectors) // max(sum(len(texts) for texts in phrasings), 1)
    start = 0
    now = timezone.now()  # bulk_update leaves auto_now alone; matching caches read it
    for pair, texts in zip(pairs, phrasings, strict=True):
        pair.updated_at = now
        pair.vectors = vectors[start * size : (start + len(texts)) * size]
        pair.terms = _terms[start : start + len(texts)]
        start += len(texts)
    with transaction.atomic():
        FaqPair.objects.bulk_update(
            [pair for pair in pairs if pair.pk], ["answer", "alternatives", "vectors", "terms", "updated_at"]
        )
        FaqPair.objects.bulk_create([pair for pair in pairs if pair.pk is None])
        report = ImportReport(created=len(new), updated=len(pairs) - len(new), skipped=parsed.skipped)
        _record(
            "imported",
            user=user,
            knowledge_base=knowledge_base,
            target=f"knowledge_base:{knowledge_base.id}",
            summary=f"{knowledge_base.name}: {name}",
            file=name,
            created=report.created,
            updated=report.updated,
            skipped=len(report.skipped),
            questions=[pair.question for pair in pairs[:LISTED_PAIRS]],
        )
    return report


def draft_from_answer(answer: Message) -> tuple[str, str]:
    """The question and answer a rated answer makes as a pair: its question, and its text without
    citation markers (the pair is edited before or after it is saved)."""
    question = answer.reply_to.content if answer.reply_to else ""
    text = _MARKER_AND_SPACE.sub("", answer.content)
    return " ".join(question.split())[: FaqPair._meta.get_field("question").max_length], text.strip()


def pair_from_answer(*, answer: Message, knowledge_base: KnowledgeBase, user) -> FaqPair:
    """A pair saved from a rated answer, or the knowledge base's pair of the same question (changed
    to this answer)."""
    question, text = draft_from_answer(answer)
    pair = FaqPair.objects.filter(knowledge_base=knowledge_base, question=question).first()
    pair = pair or FaqPair(knowledge_base=knowledge_base, question=question)
    pair.answer, pair.from_message = text, answer
    return pair_save(pair=pair, user=user)
