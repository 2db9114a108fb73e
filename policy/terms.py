"""A word list's terms as administrators write and import them: one a line, Chinese or English.

Blank lines and duplicates (after folding case and width, so "ＡＩ" and "ai" are one term) are
dropped; the first spelling is kept. Lists are bounded so that building and scanning stay fast and
a stray file cannot fill the database.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from policy.folding import fold

MAX_TERM_CHARS = 100


def parse_terms(text: str) -> list[str]:
    """The distinct terms of `text`, one a line; ValidationError naming the first bound exceeded."""
    seen: set[str] = set()
    terms: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        term = line.strip()
        folded = fold(term)
        if not folded.strip() or folded in seen:
            continue
        if len(term) > MAX_TERM_CHARS:
            message = _("Line %(line)s is longer than %(limit)s characters: one term a line.")
            raise ValidationError(message % {"line": f"{number:,}", "limit": MAX_TERM_CHARS})
        seen.add(folded)
        terms.append(term)
    limit = settings.POLICY_MAX_TERMS
    if len(terms) > limit:
        message = ngettext(
            "A word list holds at most %(limit)s term (setting POLICY_MAX_TERMS); this has %(count)s.",
            "A word list holds at most %(limit)s terms (setting POLICY_MAX_TERMS); this has %(count)s.",
            limit,
        )
        raise ValidationError(message % {"limit": f"{limit:,}", "count": f"{len(terms):,}"})
    return terms


def decode_import(data: bytes) -> str:
    """The text of an imported .txt: UTF-8 (with or without a byte-order mark) and bounded in size."""
    limit_kb = settings.POLICY_IMPORT_MAX_KB
    if len(data) > limit_kb * 1024:
        message = _("The file is larger than %(limit)s KB (setting POLICY_IMPORT_MAX_KB).")
        raise ValidationError(message % {"limit": f"{limit_kb:,}"})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = _(
            "The file is not UTF-8 text (line %(line)s). Save it as UTF-8, one term a line, and import "
            "it again."
        )
        raise ValidationError(message % {"line": f"{line:,}"}) from None


def export_text(terms: list[str]) -> str:
    return "".join(f"{term}\n" for term in terms)
