"""A cited passage in the text around it, for the page that opens a document at a citation.

Chunk offsets point into the file's own decoded text for text and Markdown files, and into the
document text (sections joined with a blank line) for the rest (see knowledge.chunking). Text and
Markdown are shown from the original, read through the storage, so headings and spacing are the
file's; other formats from the stored chunks, whose texts are slices of the document text.
"""

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
    near = list(
        document.chunks.filter(char_end__gt=lo, char_start__lt=hi)
        .order_by("char_start")
        .values_list("char_start", "char_end", "text")
    )
    return _cut(
        _rebuilt(near, lo, start),
        chunk.text,
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
