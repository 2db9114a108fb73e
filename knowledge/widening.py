"""Widening each chosen chunk with its neighbours, so that the model and the reader get the whole thought.

Chunks are small so that search finds the sentences that match, but the sentence that answers may
sit in the next chunk: overlap carries whole sentences only, so one longer than the overlap is not
repeated. After ranking, each chosen chunk gets the chunks around it in its section (same document,
heading and page), next and previous in turn, while the passage stays within
settings.PASSAGE_CONTEXT_TOKENS as the prompt counts tokens (knowledge.llm_tokens); a neighbour too
long to add whole gives what fits of it up to a sentence or line end, and the widening stops on
that side. Chunks overlap, so the text is rebuilt from their offsets and nothing is repeated; where
the passages of two chosen chunks overlap or meet they become one, at the better rank (never more
text than the two would have sent apart). Ranking and scores are not touched.

A passage that grew is the document text between its offsets (knowledge.passages.source_texts):
the fence lines a chunk gets where it cuts a code block are not kept inside it.
"""

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import reduce
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Q

from knowledge import llm_tokens
from knowledge.chunking import BREAKS
from knowledge.models import Chunk
from knowledge.passages import source_texts

if TYPE_CHECKING:
    from knowledge.retrieval import Passage

# Chunks fetched on each side of a chosen one. Inside a section every chunk but the last fills at
# least half the embedder's input, so the budget is spent long before.
MAX_NEIGHBOURS = 8
_LATIN_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\Z")
_LIST_ITEM = re.compile(r"(?:[-*+•]|\d{1,3}[.)])\s")


@dataclass(frozen=True)
class _Row:
    position: int
    section: tuple[str, int | None]  # heading and page
    start: int
    end: int
    text: str  # the document text between start and end


@dataclass(eq=False)
class _Window:
    """The text of one passage to send: from `start` in row `first` to `end` in row `last`."""

    passage: "Passage"
    rows: dict[int, _Row]  # the document's rows fetched, by position
    first: int
    last: int
    start: int
    end: int
    matched: list[tuple[int, int]]  # the chosen chunks' offsets, best first

    @property
    def section(self) -> tuple[str, int | None]:
        return self.rows[self.first].section

    def touches(self, other: "_Window") -> bool:
        return (
            self.passage.document_id == other.passage.document_id
            and self.section == other.section
            and self.first <= other.last + 1
            and other.first <= self.last + 1
        )

    def absorb(self, other: "_Window") -> None:
        self.first, self.last = min(self.first, other.first), max(self.last, other.last)
        self.start, self.end = min(self.start, other.start), max(self.end, other.end)
        self.matched += other.matched


def widen(passages: Sequence["Passage"], *, budget: int | None = None) -> list["Passage"]:
    """The passages (chunks from `retrieval.search`, best first) widened, merged where they meet, and
    numbered again; each keeps in `matched` where its chosen chunks are in its text. Two queries."""
    budget = settings.PASSAGE_CONTEXT_TOKENS if budget is None else budget
    ids = [p.chunk_id for p in passages if p.faq_pair_id is None]
    if budget <= 0 or not ids:
        return list(passages)
    anchors = {
        chunk_id: (document_id, position)
        for chunk_id, document_id, position in Chunk.objects.filter(id__in=ids).values_list(
            "id", "document_id", "position"
        )
    }
    rows = _neighbourhoods(list(anchors.values()))
    kept: list[_Window | Passage] = []
    for passage in passages:
        document_id, position = anchors.get(passage.chunk_id, (0, -1))
        document_rows = rows.get(document_id, {})
        if passage.faq_pair_id is not None or position not in document_rows:
            kept.append(passage)
            continue
        row = document_rows[position]
        window = _Window(passage, document_rows, position, position, row.start, row.end, [])
        window.matched.append((row.start, row.end))
        _grow(window, budget)
        _add(kept, window)
    return [replace(_passage(item), rank=rank) for rank, item in enumerate(kept, start=1)]


def _neighbourhoods(anchors: list[tuple[int, int]]) -> dict[int, dict[int, _Row]]:
    """Each document's rows (by position) up to MAX_NEIGHBOURS around its chosen chunks, in one query."""
    positions: dict[int, set[int]] = {}
    for document_id, position in anchors:
        near = range(max(0, position - MAX_NEIGHBOURS), position + MAX_NEIGHBOURS + 1)
        positions.setdefault(document_id, set()).update(near)
    wanted = reduce(operator.or_, (Q(document_id=d, position__in=sorted(p)) for d, p in positions.items()))
    found = (
        Chunk.objects.filter(wanted)
        .order_by("document_id", "char_start", "position")
        .values_list("document_id", "position", "heading", "page", "char_start", "char_end", "text")
    )
    by_document: dict[int, list[tuple]] = {}
    for row in found:
        by_document.setdefault(row[0], []).append(row[1:])
    rows: dict[int, dict[int, _Row]] = {}
    for document_id, listed in by_document.items():
        texts = source_texts([(start, end, text) for _p, _h, _pg, start, end, text in listed])
        rows[document_id] = {
            position: _Row(position, (heading, page), start, end, text)
            for (position, heading, page, *_rest), (start, end, text) in zip(listed, texts, strict=True)
        }
    return rows


def _gap(before: str, after: str, size: int) -> str:
    """What stands between two chunks `size` characters apart that neither overlap nor touch:
    whitespace the chunks do not keep. One character after an English sentence is read as a space
    (unless a list item follows), otherwise as a line break; more as a blank line."""
    if size <= 0:
        return ""
    if size > 1:
        return "\n\n"
    return " " if _LATIN_SENTENCE_END.search(before) and not _LIST_ITEM.match(after) else "\n"


def _grow(window: _Window, budget: int) -> None:
    """The next and the previous neighbour in turn while the text fits the budget. A neighbour cut
    short gets half the room left while the other side may still grow, so both sides get context."""
    spent = llm_tokens.estimate(window.rows[window.first].text)
    steps = [_grow_forward, _grow_backward]
    while steps:
        for step in list(steps):
            room = budget - spent
            others = [other for other in steps if other is not step and _has_neighbour(window, other)]
            cost, more = step(window, room, room // (1 + len(others)))
            spent += cost
            if not more:
                steps.remove(step)


def _has_neighbour(window: _Window, step: Callable) -> bool:
    return _neighbour(window, window.last + 1 if step is _grow_forward else window.first - 1) is not None


def _neighbour(window: _Window, position: int) -> _Row | None:
    row = window.rows.get(position)
    return row if row is not None and row.section == window.section else None


def _grow_forward(window: _Window, room: int, part_room: int) -> tuple[int, bool]:
    """Adds the next row within `room`, or else its beginning up to the last break within
    `part_room`: the tokens it costs, and whether this side may grow further."""
    row = _neighbour(window, window.last + 1)
    if row is None:
        return 0, False
    skip = max(0, window.end - row.start)
    new = row.text[skip:]
    last = window.rows[window.last]
    gap = _gap(last.text[: window.end - last.start], new, row.start - window.end)
    cost = llm_tokens.estimate(gap + new)
    if cost <= room:
        window.last, window.end = row.position, max(window.end, row.end)
        return cost, True
    cuts = [len(new[: m.end()].rstrip()) for m in BREAKS.finditer(new)]
    fitting = [(c, cost) for c in cuts if c and (cost := llm_tokens.estimate(gap + new[:c])) <= part_room]
    if fitting:
        cut, cost = fitting[-1]
        window.last, window.end = row.position, row.start + skip + cut
        return cost, False
    return 0, False


def _grow_backward(window: _Window, room: int, part_room: int) -> tuple[int, bool]:
    """Adds the previous row, or its end from the first break after which it fits (see _grow_forward)."""
    row = _neighbour(window, window.first - 1)
    if row is None:
        return 0, False
    new = row.text[: min(row.end, window.start) - row.start]
    first = window.rows[window.first]
    gap = _gap(new, first.text[window.start - first.start :], window.start - row.end)
    cost = llm_tokens.estimate(new + gap)
    if cost <= room:
        window.first, window.start = row.position, min(window.start, row.start)
        return cost, True
    for match in BREAKS.finditer(new):
        cut = len(new) - len(new[match.end() :].lstrip())
        if cut < len(new) and (cost := llm_tokens.estimate(new[cut:] + gap)) <= part_room:
            window.first, window.start = row.position, row.start + cut
            return cost, False
    return 0, False


def _add(kept: list["_Window | Passage"], window: _Window) -> None:
    """Appends the window, or merges it with the best-ranked one it meets, into the better ranked of
    the two, and so on while the merged one meets another."""
    while True:
        others = [k for k in kept if isinstance(k, _Window) and k is not window]
        met = next((k for k in others if k.touches(window)), None)
        if met is None:
            break
        if window in kept and kept.index(window) < kept.index(met):
            window, met = met, window
        met.absorb(window)
        if window in kept:
            kept.remove(window)
        window = met
    if window not in kept:
        kept.append(window)


def _passage(item: "_Window | Passage") -> "Passage":
    if not isinstance(item, _Window):
        return item
    if item.matched == [(item.start, item.end)]:  # neither grown nor merged: the chunk as it is
        return replace(item.passage, matched=((0, len(item.passage.text)),))
    text, spans = _text(item)
    return replace(item.passage, text=text, matched=spans)


def _text(window: _Window) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The window's text from its rows, and where each chosen chunk is in it."""
    parts: list[str] = []
    placed: list[tuple[int, int]] = []  # (document offset, text offset) where each part starts
    length, cursor = 0, window.start
    for position in range(window.first, window.last + 1):
        row = window.rows[position]
        if row.end <= cursor:
            continue
        if row.start > cursor:
            gap = _gap(parts[-1] if parts else "", row.text, row.start - cursor)
            parts.append(gap)
            length, cursor = length + len(gap), row.start
        piece = row.text[cursor - row.start : min(window.end, row.end) - row.start]
        placed.append((cursor, length))
        parts.append(piece)
        length, cursor = length + len(piece), cursor + len(piece)

    def at(offset: int) -> int:
        start, text_start = next(p for p in reversed(placed) if p[0] <= offset)
        return min(length, text_start + offset - start)

    return "".join(parts), tuple((at(start), at(end)) for start, end in window.matched)
