"""Personal data in a fine-tuning data set (chat.datasets), replaced with placeholders before a line
is written: e-mail addresses `[email]` and phone numbers `[phone]` (or whatever DATASET_PII_PATTERNS
names), and people's names `[name]`: the asker's own (user name, first, last and full name, e-mail)
and those listed in DATASET_PII_NAMES (colleagues who appear in documents). Names are the asker's and a
configured list rather than every account's: a data set line is checked against a few names, never
against a directory of thousands.

The patterns are matched next to Chinese text too: nothing relies on `\\b`, which sees no boundary
between a Chinese character and a letter or a digit (both are word characters).
"""

import re
from collections.abc import Iterable
from functools import cache

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured

# A phone number: international (+86 138 1234 5678, +1-202-555-0143), a Chinese mobile number
# (13812345678, 138-1234-5678), or a landline with its area code (010-12345678, (0755) 1234567).
_INTERNATIONAL = r"(?<![A-Za-z0-9+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\d)"
_CHINESE_MOBILE = r"(?<!\d)1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)"
_LANDLINE = r"(?:\(0\d{2,3}\)[ ]?|(?<!\d)0\d{2,3}[ -]?)\d{7,8}(?!\d)"
DEFAULT_PATTERNS: dict[str, str] = {
    # ASCII only before the @: a Chinese word written against the address is not part of it.
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "phone": "|".join([_INTERNATIONAL, _CHINESE_MOBILE, _LANDLINE]),
}
NAME_PLACEHOLDER = "[name]"
_PLACEHOLDER_NAME = re.compile(r"[a-z][a-z0-9_]*")
_LATIN_NAME = re.compile(r"[\w .'-]+", re.ASCII)
MIN_NAME_CHARS = 2  # a one-letter name would take that letter out of every word


def patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(placeholder, pattern) for each kind of personal data, in the order they are replaced."""
    # Keyed by the setting, so that tests which change it get fresh patterns.
    return _compiled(repr(settings.DATASET_PII_PATTERNS))


@cache
def _compiled(key: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    configured = settings.DATASET_PII_PATTERNS
    if configured is None:
        configured = {}
    if not isinstance(configured, dict):
        raise ImproperlyConfigured(
            "DATASET_PII_PATTERNS must be a JSON object of placeholder names to regular expressions, "
            'e.g. {"id_card": "\\\\d{17}[\\\\dXx]"}.'
        )
    compiled = []
    for name, pattern in (DEFAULT_PATTERNS | configured).items():
        if pattern is None:  # a built-in pattern turned off
            continue
        compiled.append((f"[{name}]", _pattern(name, pattern)))
    return tuple(compiled)


def _pattern(name: str, pattern: object) -> re.Pattern[str]:
    where = f"DATASET_PII_PATTERNS: {name!r}"
    if not _PLACEHOLDER_NAME.fullmatch(name):
        raise ImproperlyConfigured(f"{where} is not a placeholder name: use lowercase letters, digits and _.")
    if not isinstance(pattern, str):
        raise ImproperlyConfigured(f"{where} must be a regular expression as a string (or null to drop it).")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ImproperlyConfigured(f"{where} is not a valid regular expression ({exc}).") from None
    if compiled.search(""):
        raise ImproperlyConfigured(f"{where} matches empty text, so it would match everywhere.")
    return compiled


def asker_names(user: User) -> list[str]:
    """The ways the asker may be named in their questions and in what the answers repeat of them."""
    return [user.get_username(), user.first_name, user.last_name, user.get_full_name(), user.email]


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for the names (and the configured ones), longest first, so that a full name goes
    before its first name. A Latin name matches as a whole word, whatever its case; a Chinese name
    wherever it appears, since Chinese is written without spaces."""
    wanted = {name.strip() for name in [*names, *settings.DATASET_PII_NAMES]}
    alternatives = []
    for name in sorted((n for n in wanted if len(n) >= MIN_NAME_CHARS), key=len, reverse=True):
        if _LATIN_NAME.fullmatch(name):
            alternatives.append(rf"(?<![A-Za-z0-9_])(?i:{re.escape(name)})(?![A-Za-z0-9_])")
        else:
            alternatives.append(re.escape(name))
    return re.compile("|".join(alternatives)) if alternatives else None


def without_personal_data(text: str, *, names: re.Pattern[str] | None) -> str:
    """`text` with every match of the patterns, then of the names, replaced by its placeholder."""
    for placeholder, pattern in patterns():
        text = pattern.sub(placeholder, text)
    return names.sub(NAME_PLACEHOLDER, text) if names is not None else text
