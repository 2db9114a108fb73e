"""Folding text for matching: compatibility-normalised and case-folded, so full-width "ＶＰＮ" and
"vpn" are the same, and Chinese is compared exactly (it has no case).

The folded text keeps a map back to the original characters, so a match can be masked in the text
as written. Decomposition (NFKD) is used rather than NFKC: it only ever lengthens text, character by
character, which keeps that map exact; two strings are NFKD-equal exactly when they are NFKC-equal.
"""

import unicodedata
from functools import lru_cache


def fold(text: str) -> str:
    # Python's recipe for caseless matching of Unicode: NFKD(casefold(NFKD(text))).
    return unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    return fold(char)


def fold_with_origins(text: str) -> tuple[str, list[int] | None]:
    """The folded text, and for each of its characters the index of the character it came from
    (None when every character folded to exactly one: the indexes are the same)."""
    folded = fold(text)
    if len(folded) == len(text):
        return folded, None
    pieces: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        piece = _fold_char(char)
        pieces.append(piece)
        origins.extend([index] * len(piece))
    return "".join(pieces), origins


def is_word_char(char: str) -> bool:
    """Letters and digits of alphabetic scripts (and their combining marks), whose words are set off
    by spaces; Chinese and Japanese characters are not: their terms match anywhere."""
    if char.isalnum():
        return char < "\u2e80"  # below the CJK radicals: Latin, Greek, Cyrillic ...
    return unicodedata.category(char) == "Mn"
