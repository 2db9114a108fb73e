"""Screening a document's text at ingestion.

Every term found flags the document: a Flag row per term and list, with the passage it is in,
shown on the document's admin page. Terms of log and mask lists only flag it: the document is
indexed as it is (answers drawn from it are still screened as they stream, where mask lists mask).
A term of a block list also keeps the document out of the index: ingestion fails with a reason
naming the list and the term, the file is kept, and re-indexing after the list changes retries it.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from policy.matching import Hit, current_matcher
from policy.models import Flag, WordList
from policy.screening import MAX_AUDITED_TERMS, Where, audit_hits

PASSAGE_CONTEXT = 120  # characters either side of the term shown with it


@dataclass(frozen=True)
class Passage:
    text: str
    location: str = ""


def screen_document(*, document, passages: list[Passage]) -> str | None:
    """Flag the document with the terms in its passages (replacing earlier flags) and audit them;
    the reason it may not be indexed, when a block list matched, else None."""
    matcher = current_matcher()
    found: list[tuple[Hit, Passage]] = []
    for passage in passages:
        found.extend((hit, passage) for hit in matcher.find(passage.text))
    first: dict[tuple[int, str], tuple[Hit, Passage]] = {}
    for hit, passage in found:
        first.setdefault((hit.list_id, hit.term), (hit, passage))
    with transaction.atomic():
        Flag.objects.filter(document=document).delete()
        Flag.objects.bulk_create(
            _flag(document, hit, passage) for hit, passage in list(first.values())[:MAX_AUDITED_TERMS]
        )
    uploader = getattr(document, "uploaded_by", None)
    audit_hits(
        [hit for hit, _passage in found],
        user=uploader,
        where=Where.DOCUMENT,
        target=f"document:{document.id}",
    )
    blocking = next((hit for hit, _passage in found if hit.action == WordList.Action.BLOCK), None)
    if blocking is None:
        return None
    return _("Not indexed: it contains “%(term)s” from the word list “%(list)s”, which blocks it.") % {
        "term": blocking.term,
        "list": blocking.list_name,
    }


def _flag(document, hit: Hit, passage: Passage) -> Flag:
    start = max(0, hit.start - PASSAGE_CONTEXT)
    end = hit.end + PASSAGE_CONTEXT
    return Flag(
        document=document,
        word_list_id=hit.list_id,
        list_name=hit.list_name,
        action=hit.action,
        term=hit.term,
        passage=passage.text[start:end],
        term_start=hit.start - start,
        term_end=hit.end - start,
        location=passage.location[:300],
    )
