"""Checking questions and answers against the word lists, and auditing every hit.

The answer engine (chat.engine) calls `check_question` before retrieval, and reads the model's
stream through `AnswerScreen` (policy.streams); both report their hits here to the audit log.
"""

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from audit.log import record
from audit.models import Event
from policy.matching import Hit, Matcher, current_matcher, mask
from policy.models import WordList

if TYPE_CHECKING:
    from knowledge.retrieval import Passage

# Distinct terms audited per question, answer or document: a text full of terms writes a bounded
# number of rows (the detail says how many more there were).
MAX_AUDITED_TERMS = 50
QUESTION_BLOCKED = "content_policy"  # the code of the error that refuses a blocked question


class Where:
    QUESTION = "question"
    ANSWER = "answer"
    DOCUMENT = "document"


def question_blocked_notice() -> str:
    return _(
        "This question cannot be answered: it contains words that the content policy of this service "
        "does not allow. Please rephrase it."
    )


def answer_withdrawn_notice() -> str:
    return _(
        "This answer was withdrawn: it contained words that the content policy of this service does not "
        "allow. Please ask in another way."
    )


@dataclass(frozen=True)
class CheckedQuestion:
    text: str  # the question to answer: terms of mask lists replaced by asterisks
    history: list[dict[str, str]]  # earlier turns, with terms of block and mask lists masked
    blocked: bool
    matcher: Matcher = field(repr=False)  # the lists the answer is checked against as it streams


def check_question(*, text: str, history: list[dict[str, str]], user: Any) -> CheckedQuestion:
    """Block, mask or log the question's terms, auditing each. Earlier turns are masked without
    auditing (they were checked when they were said); a blocked term in them is masked too, so it
    never reaches the model by way of the history."""
    matcher = current_matcher()
    hits = matcher.find(text)
    audit_hits(hits, user=user, where=Where.QUESTION)
    blocked = any(hit.action == WordList.Action.BLOCK for hit in hits)
    masked = mask(text, [hit for hit in hits if hit.action == WordList.Action.MASK])
    earlier = [turn | {"content": _masked(matcher, turn["content"])} for turn in history]
    return CheckedQuestion(masked, earlier, blocked, matcher)


def _masked(matcher: Matcher, text: str) -> str:
    hidden = (WordList.Action.BLOCK, WordList.Action.MASK)
    return mask(text, [hit for hit in matcher.find(text) if hit.action in hidden])


def masked_text(text: str, matcher: Matcher) -> str:
    """Text shown as an answer without being generated (a curated FAQ answer), masked as passages
    are: terms of block and mask lists become asterisks. Not audited, as passages are not."""
    return _masked(matcher, text)


def masked_passages(passages: list["Passage"], matcher: Matcher) -> list["Passage"]:
    """Retrieved passages with the terms of block and mask lists masked, so they reach neither the
    model nor the sources shown. Not audited: documents were flagged when they were ingested, and a
    block list's term keeps a document out of the index (unless the list changed since)."""
    return [replace(p, text=_masked(matcher, p.text)) for p in passages]


def audit_hits(hits: list[Hit], *, user: Any, where: str, target: str = "") -> None:
    """One audit event per distinct term of each list, with how often it occurred."""
    counts: dict[tuple[int, str], int] = {}
    first: dict[tuple[int, str], Hit] = {}
    for hit in hits:
        key = (hit.list_id, hit.term)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, hit)
    for key, hit in list(first.items())[:MAX_AUDITED_TERMS]:
        record(
            Event.Kind.POLICY,
            user=user,
            target=target or f"word_list:{hit.list_id}",
            summary=f"{where}: “{hit.term}” ({hit.list_name}, {hit.action})",
            list=hit.list_name,
            list_id=hit.list_id,
            action=hit.action,
            term=hit.term,
            where=where,
            occurrences=counts[key],
            more_terms=max(0, len(first) - MAX_AUDITED_TERMS),
        )
