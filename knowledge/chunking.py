"""Split extracted sections into chunks that fit the embedding model.

Chunk offsets (``char_start``/``char_end``) point into the file's own decoded text where sections
are slices of it (``Section.start`` is set: TXT, Markdown), so a citation can point into the
original; otherwise into the document text, the sections' texts joined with a blank line exactly as
``document_text`` builds it. Either way the slice is the chunk text. A chunk never spans two sections.

A section is cut into units at paragraph breaks, sentence ends (Chinese 。！？； with any closing
quotes or brackets, English .!? before whitespace) and line breaks; a unit longer than the limit is
cut by tokens, after a comma, colon or space where the second half of the piece has one. Each unit
is counted once and chunks are packed from units by summing their counts, ending at the strongest
break that keeps the chunk at least half full. Summed counts are an upper bound for word-piece
tokenizers; each chunk gets one real count and loses trailing units if it is over.

Inside a fenced code block only line breaks cut, the fence lines stay with the code next to them,
and a chunk that starts inside a block has the block's opening line put before it, one that ends
inside it a closing fence after it: the chunk reads, and is embedded, as code (a '# comment' is
no heading, no fence is left stray). Its offsets are then those of the source text between the
added lines (from the start of the code's first line, indentation kept), and the added lines count
against the limit.
"""

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from knowledge.extract import Section
from knowledge.formats.fences import FencedBlock, fenced_blocks

SECTION_SEPARATOR = "\n\n"

# Strength of the break after a unit; chunks prefer to end at the strongest one.
_FORCED, _LINE, _SENTENCE, _PARAGRAPH = range(4)
_CLOSERS = "”’\"'」』）)》】\\]"
# Paragraph, sentence and line ends; knowledge.widening cuts a neighbouring chunk at them too.
BREAKS = re.compile(
    rf"(?P<paragraph>\n[^\S\n]*\n)"
    rf"|(?P<zh_sentence>[。！？；]+[{_CLOSERS}]*)"
    rf"|(?P<en_sentence>[.!?]+[{_CLOSERS}]*(?=\s|\Z)|[!?]+[{_CLOSERS}]*(?=[\u3400-\u9fff]))"
    rf"|(?P<line>\n)"
)
# Where an over-long sentence is cut before falling back to any character.
_CLAUSE_END = re.compile(r"[，、：,:;\s]")
_BREAK_STRENGTH = {"paragraph": _PARAGRAPH, "zh_sentence": _SENTENCE, "en_sentence": _SENTENCE, "line": _LINE}

CountTokens = Callable[[str], int]


@dataclass(frozen=True)
class ChunkDraft:
    text: str  # the source text between the offsets, with fence lines added where it cuts a code block
    page: int | None
    heading: str
    char_start: int  # into the file's text (Section.start set) or into document_text(sections)
    char_end: int


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    strength: int  # of the break after the unit


@dataclass(frozen=True)
class _Code:
    """The fenced code blocks of one section's text."""

    text: str
    blocks: list[FencedBlock]
    starts: list[int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts", [block.start for block in self.blocks])

    def around(self, position: int) -> FencedBlock | None:
        """The block whose opening line starts before `position` and which is still open there."""
        index = bisect.bisect_left(self.starts, position) - 1
        block = self.blocks[index] if index >= 0 else None
        return block if block and (position < block.end or not block.closed) else None

    def chunk(self, start: int, end: int) -> tuple[int, str]:
        """Where the chunk of text[start:end] starts in the text, and the chunk: when it starts inside a
        block, the block's opening line and then the code from the start of its line (indentation kept);
        when it ends inside one, its closing fence after it."""
        prefix = suffix = ""
        opened = self.around(start)
        if opened is not None and start > opened.body:
            line_start = self.text.rfind("\n", 0, start) + 1
            if not self.text[line_start:start].strip():
                start = line_start
            prefix = f"{opened.opening.lstrip(' ')}\n"
        left_open = self.around(end)
        if left_open is not None and end > left_open.body:
            suffix = f"\n{left_open.fence}"
        return start, prefix + self.text[start:end] + suffix

    def fence_tokens(self, count_tokens: CountTokens) -> int:
        """The most tokens the fence lines added to one chunk can take."""
        return max(
            (count_tokens(f"{b.opening.lstrip(' ')}\n") + count_tokens(f"\n{b.fence}") for b in self.blocks),
            default=0,
        )

    def join_fence_lines(self, units: list[_Unit]) -> list[_Unit]:
        """Each opening line joined to the unit after it, each closing line to the unit before it, so no
        chunk ends on an opening line or starts with a closing one."""
        opening_ends = {block.body for block in self.blocks}
        closing_ends = {block.end for block in self.blocks if block.closed}
        joined: list[_Unit] = []
        after_opening = False
        for unit in units:
            if joined and (after_opening or unit.end in closing_ends):
                previous = joined[-1]
                unit = _Unit(previous.start, unit.end, previous.tokens + unit.tokens, unit.strength)
                joined[-1] = unit
            else:
                joined.append(unit)
            after_opening = unit.end in opening_ends
        return joined


def document_text(sections: Sequence[Section]) -> str:
    """The text chunk offsets refer to: section texts joined with a blank line."""
    return SECTION_SEPARATOR.join(section.text for section in sections)


def split_sections(
    sections: Sequence[Section],
    *,
    count_tokens: CountTokens,
    max_tokens: int,
    overlap_tokens: int = 0,
) -> list[ChunkDraft]:
    """Chunks of at most ``max_tokens``; each starts with up to ``overlap_tokens`` of the previous one."""
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError("Need max_tokens >= 1 and 0 <= overlap_tokens < max_tokens.")
    drafts: list[ChunkDraft] = []
    offset = 0
    for section in sections:
        base = offset if section.start is None else section.start
        code = _Code(section.text, fenced_blocks(section.text))
        units = _units(code, count_tokens, max(1, max_tokens - code.fence_tokens(count_tokens)))
        for start, end in _pack(units, code, count_tokens, max_tokens, overlap_tokens):
            source_start, text = code.chunk(start, end)
            drafts.append(
                ChunkDraft(
                    text=text,
                    page=section.page,
                    heading=section.heading,
                    char_start=base + source_start,
                    char_end=base + end,
                )
            )
        offset += len(section.text) + len(SECTION_SEPARATOR)
    return drafts


def _units(code: _Code, count_tokens: CountTokens, max_tokens: int) -> list[_Unit]:
    """Non-blank spans of the text between breaks, each at most max_tokens long (fence lines joined to
    their neighbours may pass it by their own tokens)."""
    text = code.text
    units: list[_Unit] = []
    start = 0
    for match in [*BREAKS.finditer(text), None]:
        if match is None:
            end, strength = len(text), _PARAGRAPH
        else:
            kind = match.lastgroup or "line"
            if kind not in ("paragraph", "line") and code.around(match.start()):
                continue  # code is cut at line ends only
            end = match.start() if kind in ("paragraph", "line") else match.end()
            strength = _BREAK_STRENGTH[kind]
        span = _strip(text, start, end)
        if span:
            tokens = count_tokens(text[span[0] : span[1]])
            if tokens <= max_tokens:
                units.append(_Unit(*span, tokens, strength))
            else:
                units.extend(_hard_split(text, *span, count_tokens, max_tokens, strength))
        elif units and strength > units[-1].strength:
            units[-1] = _Unit(units[-1].start, units[-1].end, units[-1].tokens, strength)
        start = max(start, end)
    return code.join_fence_lines(units)


def _hard_split(
    text: str, start: int, end: int, count_tokens: CountTokens, max_tokens: int, strength: int
) -> list[_Unit]:
    """Cut one over-long span into pieces of at most max_tokens, after a comma, colon or space if possible."""
    pieces: list[_Unit] = []
    while start < end:
        cut, tokens = _longest_fitting_prefix(text, start, end, count_tokens, max_tokens)
        clause_end = _last_clause_end(text, start + (cut - start) // 2, cut)
        if cut < end and clause_end > start:
            cut, tokens = clause_end, count_tokens(text[start:clause_end])
        span = _strip(text, start, cut)
        if span:
            pieces.append(_Unit(*span, tokens, _FORCED))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if pieces:
        pieces[-1] = _Unit(pieces[-1].start, pieces[-1].end, pieces[-1].tokens, strength)
    return pieces


def _last_clause_end(text: str, start: int, end: int) -> int:
    """Position after the last comma, colon or space in text[start:end]; -1 if there is none."""
    match = _CLAUSE_END.search(text[start:end][::-1])
    return end - match.start() if match else -1


def _longest_fitting_prefix(
    text: str, start: int, end: int, count_tokens: CountTokens, max_tokens: int
) -> tuple[int, int]:
    """Largest cut with text[start:cut] within max_tokens (and its count); at least one character."""
    fits, fits_tokens = start + 1, count_tokens(text[start : start + 1])
    step = 4 * max_tokens
    too_long = min(end, start + step)
    # Exponential search keeps each count proportional to the chunk, not to the whole span.
    while (tokens := count_tokens(text[start:too_long])) <= max_tokens:
        fits, fits_tokens = too_long, tokens
        if too_long == end:
            return fits, fits_tokens
        step *= 2
        too_long = min(end, start + step)
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        tokens = count_tokens(text[start:middle])
        if tokens <= max_tokens:
            fits, fits_tokens = middle, tokens
        else:
            too_long = middle
    return fits, fits_tokens


def _pack(
    units: list[_Unit], code: _Code, count_tokens: CountTokens, max_tokens: int, overlap_tokens: int
) -> list[tuple[int, int]]:
    """Character spans of the chunks of one section."""
    spans: list[tuple[int, int]] = []
    first = fresh = 0  # fresh: the first unit no chunk holds yet
    while fresh < len(units):
        last = _chunk_end(units, first, fresh, max_tokens)
        while last > first and _over(code, units[first], units[last], count_tokens, max_tokens):
            last -= 1
        if last < fresh:  # the real count left no room beside the overlap
            first = fresh
            continue
        spans.append((units[first].start, units[last].end))
        fresh = last + 1
        if fresh < len(units):
            first = _overlap_start(units, first, last, max_tokens, overlap_tokens)
    return spans


def _over(code: _Code, first: _Unit, last: _Unit, count_tokens: CountTokens, max_tokens: int) -> bool:
    return count_tokens(code.chunk(first.start, last.end)[1]) > max_tokens


def _chunk_end(units: list[_Unit], first: int, fresh: int, max_tokens: int) -> int:
    """Last unit of the chunk from ``first``: the strongest break at least half full, else the last fit."""
    total = 0
    candidates: list[tuple[int, int]] = []
    for index in range(first, len(units)):
        total += units[index].tokens
        if total > max_tokens:
            break
        if index == len(units) - 1:
            return index
        if index >= fresh and total * 2 >= max_tokens:
            candidates.append((units[index].strength, index))
    return max(candidates)[1] if candidates else index - 1


def _overlap_start(units: list[_Unit], first: int, last: int, max_tokens: int, overlap_tokens: int) -> int:
    """First unit of the next chunk: whole trailing units of this one, while they leave room to advance."""
    room = max_tokens - units[last + 1].tokens
    start, total = last + 1, 0
    while start - 1 > first:
        total += units[start - 1].tokens
        if total > overlap_tokens or total > room:
            break
        start -= 1
    return start


def _strip(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
