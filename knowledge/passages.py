"""A cited passage in the text around it, for the page that opens a document at a citation.

Chunk offsets point into the file's own decoded text for text and Markdown files, and into the
document text (sections joined with a blank line) for the rest (see knowledge.chunking). Text and
Markdown are shown from the original, read through the storage, so headings and spacing are the
file's; other formats from the stored chunks, whose texts are slices of the document text but for
the fence lines added to a chunk cut inside a code block (knowledge.chunking), taken off again here.
"""

import re
from dataclasses import dataclass

from knowledge import extract
from knowledge.chunking import SECTION_SEPARATOR
from knowledge.formats.common import normalise
from knowledge.formats.text import decode
from knowledge.models import Chunk, Document

# Text shown on each side of the passage: a long document's page stays light, the passage in context.
CONTEXT_CHARS = 20_000
# Formats whose chunk offsets index the file's own text (their sections carry Section.start).
_SLICED_TYPES = frozenset([extract.TEXT, extract.MARKDOWN])
# The lines knowledge.chunking adds to a chunk cut inside a code block: the block's opening line
# (unindented) before it, a closing fence after it.
_ADDED_OPENING = re.compile(r"(`{3,}|~{3,})[^\n]*\n")
_ADDED_CLOSING = re.compile(r"\n(`{3,}|~{3,})\Z")


@dataclass(frozen=True)
class PassageInContext:
    before: str
    passage: str
    after: str
    more_before: bool  # text before `before` is left out
    more_after: bool


def passage_in_context(*, document: Document, chunk: Chunk) -> PassageInContext:
    """The chunk's text with up to CONTEXT_CHARS of the document on each side, cut at line breaks."""
    start, end = chunk.char_start, chunk.char_end
    text = _original_text(document) if document.mime in _SLICED_TYPES else None
    # The chunk is the source between its offsets, with a fence line added before or after where it
    # cuts a code block (knowledge.chunking): the page shows the source, which has its own fences.
    if text is not None and end > start and text[start:end] in chunk.text:
        lo, hi = max(0, start - CONTEXT_CHARS), min(len(text), end + CONTEXT_CHARS)
        return _cut(
            text[lo:start], text[start:end], text[end:hi], more_before=lo > 0, more_after=hi < len(text)
        )
    lo, hi = max(0, start - CONTEXT_CHARS), end + CONTEXT_CHARS
    found = list(
        document.chunks.filter(char_end__gt=lo, char_start__lt=hi)
        .order_by("char_start", "position")
        .values_list("id", "char_start", "char_end", "text")
    )
    near = source_texts([row[1:] for row in found])
    passage = {row[0]: source for row, (_start, _end, source) in zip(found, near, strict=True)}.get(chunk.id)
    return _cut(
        _rebuilt(near, lo, start),
        chunk.text if passage is None else passage,
        _rebuilt(near, end, hi),
        more_before=lo > 0,
        more_after=document.chunks.filter(char_end__gt=hi).exists(),
    )


def _original_text(document: Document) -> str | None:
    """The file's text as ingestion read it; None when the storage or the bytes fail us now."""
    try:
        with document.file.open("rb") as file:
            return normalise(decode(file.read()))
    except (OSError, extract.ExtractionError):
        return None


def source_texts(chunks: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The chunks (sorted by start) with each text cut back to the document text between its offsets.
    Where the text alone leaves open which fence line was added (a bare opening fence before, a
    closing one after), the reading that agrees with the chunk before, which overlaps it, is taken."""
    resolved: list[tuple[int, int, str]] = []
    for start, end, text in chunks:
        readings = _readings(text, end - start)
        if len(readings) > 1 and resolved and resolved[-1][1] > start:
            before_start, before_end, before = resolved[-1]
            seen = before[start - before_start : min(before_end, end) - before_start]
            readings = [reading for reading in readings if reading.startswith(seen)] or readings
        resolved.append((start, end, readings[0]))
    return resolved


def _readings(text: str, length: int) -> list[str]:
    """The ways `text` is `length` characters of the document with fence lines added; the text as it
    is when it is none of them (chunks whose text is the slice itself)."""
    extra = len(text) - length
    opening, closing = _ADDED_OPENING.match(text), _ADDED_CLOSING.search(text)
    prefixes = [0, *([opening.end()] if opening else [])]
    suffixes = [0, *([len(closing.group())] if closing else [])]
    readings = [text[p : len(text) - s] for p in prefixes for s in suffixes if extra > 0 and p + s == extra]
    return readings or [text]


def _rebuilt(chunks: list[tuple[int, int, str]], lo: int, hi: int) -> str:
    """The document text between offsets lo and hi from the chunks (sorted by start) that cover it.
    Chunks overlap, and what none covers is the whitespace between sections: a blank line."""
    parts, cursor = [], lo
    for start, end, text in chunks:
        if start >= hi:
            break
        if end <= cursor:
            continue
        if start > cursor:
            parts.append(SECTION_SEPARATOR)
            cursor = start
        parts.append(text[cursor - start : hi - start])
        cursor = end
    return "".join(parts)


def _cut(before: str, passage: str, after: str, *, more_before: bool, more_after: bool) -> PassageInContext:
    """Partial first and last lines are dropped where the text was cut short."""
    if more_before and "\n" in before:
        before = before.partition("\n")[2]
    if more_after and "\n" in after:
        after = after.rpartition("\n")[0]
    return PassageInContext(before, passage, after, more_before, more_after)
