"""Changing word lists. Every change raises the list's version and announces it, so each process
rebuilds that list's automaton at its next check."""

from django.db import transaction
from django.db.models import F

from policy import terms as term_text
from policy.matching import announce_change
from policy.models import WordList


def word_list_save(*, word_list: WordList) -> None:
    """Save a list (its terms already normalised by policy.terms)."""
    with transaction.atomic():
        if word_list.pk is not None:
            word_list.version = F("version") + 1
        word_list.save()
        word_list.refresh_from_db(fields=["version"])
    announce_change()


def word_list_delete(*, word_list: WordList) -> None:
    word_list.delete()
    announce_change()


def word_list_import(*, word_list: WordList, data: bytes, replace: bool) -> int:
    """Add the terms of an uploaded .txt to the list (or put them in its place); the number of terms
    added. ValidationError for a file that is not UTF-8, too large, or makes the list too long."""
    imported = term_text.parse_terms(term_text.decode_import(data))
    current = [] if replace else word_list.term_list
    merged = term_text.parse_terms("\n".join([*current, *imported]))
    word_list.terms = "\n".join(merged)
    word_list_save(word_list=word_list)
    return len(merged) - len(current)
