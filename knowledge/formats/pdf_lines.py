"""A PDF page's text as its paragraphs read: the lines the page layout broke joined again.

pypdf gives one line of text per line on the page, so a sentence is cut wherever the page was full.
Lines are joined within a paragraph; a paragraph ends at a wider gap than the page's usual line
spacing, at a blank line, and after a line that stops well short of the page's longest lines (the
last line of a paragraph, an address, a table row). List items and heading lines (set larger than
the body text) stay lines of their own. Chinese lines join without a space, others with one; a word
hyphenated at a line end loses its hyphen only when the page also has the word whole, and keeps it
when the page has it hyphenated (or it is unknown): a hyphen is not always a wrap ("well-known").
"""

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from pypdf import PageObject

from knowledge.formats.common import normalise

_PARAGRAPH_GAP = 1.4  # times the usual line spacing
_HEADING_SIZE = 1.15  # times the body text size
_SHORT_LINE = 0.75  # of the longest body line's width
_SOFT_HYPHEN = "\u00ad"
_LIST_ITEM = re.compile(
    r"\s*(?:[-–—•·▪●○◦*]\s"  # bullets
    r"|\(?\d{1,3}[.)、]"  # 1. 1) (1) 1、
    r"|[（(]?[一二三四五六七八九十]{1,3}[、.)）]"  # 一、 （一）
    r"|[a-zA-Z][.)]\s)"  # a. a)
)
_HYPHENATED = re.compile(r"(\w+)[-\u2010]$")
_WORD_START = re.compile(r"[a-z]\w*")
_WORD = re.compile(r"\w+(?:[-\u2010]\w+)*")


@dataclass
class Line:
    text: str = ""
    y: float | None = None  # of the baseline, in page space (up is larger)
    size: float = 0.0  # font size in page space


def page_text(page: PageObject) -> str:
    return reflow(_lines(page))


def _lines(page: PageObject) -> list[Line]:
    """The page's lines as pypdf extracts them, each with the position and size of its first text."""
    lines = [Line()]

    def visit(text: str, cm: list[float], tm: list[float], _font: object, size: float) -> None:
        for number, part in enumerate(normalise(text).split("\n")):
            if number:
                lines.append(Line())
            line = lines[-1]
            if line.y is None and part.strip():
                line.y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                line.size = abs(size * tm[3] * cm[3]) or size
            line.text += part

    page.extract_text(visitor_text=visit)
    return lines


def reflow(lines: list[Line]) -> str:
    """The lines' text with the lines of each paragraph joined, paragraphs separated by a blank line."""
    kept = [(line, index == 0 or not lines[index - 1].text.strip()) for index, line in enumerate(lines)]
    kept = [(line, after_blank) for line, after_blank in kept if line.text.strip()]
    if not kept:
        return ""
    texts = [line for line, _ in kept]
    body = Counter(round(line.size, 1) for line in texts for _ in line.text).most_common(1)[0][0]
    heading_size = body * _HEADING_SIZE
    spacing = _usual_spacing(texts)
    widest = max(_width(line.text) for line in texts)
    words = set(_WORD.findall(" ".join(line.text for line in texts).lower()))
    paragraphs = [texts[0].text.strip()]
    for (previous, _), (line, after_blank) in pairwise(kept):
        text = line.text.strip()
        gap = previous.y - line.y if previous.y is not None and line.y is not None else 0.0
        if after_blank or max(line.size, previous.size) > heading_size or gap > spacing * _PARAGRAPH_GAP > 0:
            paragraphs.append(text)
        elif _LIST_ITEM.match(text) or _width(previous.text) < widest * _SHORT_LINE:
            paragraphs[-1] += "\n" + text
        else:
            paragraphs[-1] = _join(paragraphs[-1], text, words)
    return "\n\n".join(paragraphs)


def _usual_spacing(lines: list[Line]) -> float:
    """The median distance between a line and the one below it; 0 when no line is below another."""
    gaps = [
        previous.y - line.y
        for previous, line in pairwise(lines)
        if previous.y is not None and line.y is not None and previous.y > line.y
    ]
    return statistics.median(gaps) if gaps else 0.0


def _join(before: str, after: str, words: set[str]) -> str:
    if before.endswith(_SOFT_HYPHEN):
        return before[:-1] + after
    hyphenated, start = _HYPHENATED.search(before), _WORD_START.match(after)
    if hyphenated and start:
        whole = (hyphenated.group(1) + start.group()).lower()
        if whole in words and f"{hyphenated.group(1)}-{start.group()}".lower() not in words:
            return before[:-1] + after
        return before + after
    if _is_cjk(before[-1]) or _is_cjk(after[0]):
        return before + after
    return f"{before} {after}"


def _width(text: str) -> int:
    """Rough width in half-em units: Chinese characters are twice as wide as Latin ones."""
    return sum(2 if _is_cjk(char) else 1 for char in text.strip())


def _is_cjk(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"
