"""Split a model's reasoning from its answer when both arrive inside the content text.

R1-style models served without a reasoning parser write `<think>...</think>` (or another
spelling) into the content, and R1 distills whose chat template already ends the prompt
with `<think>\\n` write only the closing tag. Text arrives in stream chunks, so a tag may be
cut at any character; the splitter holds back just enough text to recognise it.

Only a block at the very start of the reply counts as reasoning. A tag later in the
answer is answer text: a model explaining these tags must not lose half its answer.
"""

from typing import Literal, NamedTuple

TAG_NAMES = ("think", "thinking", "reason", "reasoning", "thought")
OPEN_TAGS = tuple(f"<{name}>" for name in TAG_NAMES)
CLOSE_TAGS = tuple(f"</{name}>" for name in TAG_NAMES)


class Part(NamedTuple):
    reasoning: bool
    text: str
    # The reasoning streamed so far was the answer (an implicit block that never closed): this part
    # holds all of it, to be shown as the answer instead.
    replaces_reasoning: bool = False
    # Implicit reasoning no closing tag has confirmed yet: it may still turn out to be the answer.
    tentative: bool = False


class ThinkSplitter:
    """Feed content chunks in order; get back reasoning and answer parts in order.

    With `implicit_open`, text before the first closing tag is reasoning even without an
    opening tag. It streams as reasoning at once (a distill may think for minutes), and is
    also kept: if the reply ends without a closing tag, `finish()` returns all of it as one
    answer part marked `replaces_reasoning`.
    """

    def __init__(self, *, implicit_open: bool) -> None:
        self._implicit_open = implicit_open
        self._state: Literal["start", "reasoning", "content"] = "start"
        # Text not passed on yet because it may be (part of) a tag.
        self._buffer = ""
        # Explicit reasoning streams out as it comes; implicit reasoning streams too, and is
        # also kept in `_held` until a closing tag proves it was reasoning (a list, so a long
        # reasoning chain is not copied on every chunk).
        self._live = False
        self._held: list[str] = []
        self._close_tags = CLOSE_TAGS
        # Whitespace between a tag and the text is layout, not part of either.
        self._at_segment_start = True

    def feed(self, text: str) -> list[Part]:
        self._buffer += text
        parts: list[Part] = []
        if self._state == "start":
            self._leave_start()
        if self._state == "reasoning":
            self._scan_reasoning(parts)
        if self._state == "content":
            self._emit(parts, False, self._buffer)
            self._buffer = ""
        return parts

    def finish(self) -> list[Part]:
        parts: list[Part] = []
        # An explicit block never closed was cut off while reasoning; implicit "reasoning"
        # never closed was the answer all along.
        if self._held and self._state == "reasoning":
            text = ("".join(self._held) + self._buffer).rstrip()
            parts.append(Part(False, text, replaces_reasoning=True))
        else:
            self._emit(parts, self._state == "reasoning" and self._live, self._buffer.rstrip())
        self._buffer, self._held = "", []
        return parts

    def _leave_start(self) -> None:
        stripped = self._buffer.lstrip()
        if not stripped:
            return
        for open_tag, close_tag in zip(OPEN_TAGS, CLOSE_TAGS, strict=True):
            if stripped.startswith(open_tag):
                self._buffer = stripped[len(open_tag) :]
                self._state, self._live, self._close_tags = "reasoning", True, (close_tag,)
                return
        if any(tag.startswith(stripped) for tag in OPEN_TAGS):
            return
        self._state = "reasoning" if self._implicit_open else "content"

    def _scan_reasoning(self, parts: list[Part]) -> None:
        found = _find_first(self._buffer, self._close_tags)
        if found is None:
            # Hold back a possible half tag, and trailing whitespace in case the tag follows.
            cut = len(self._buffer) - _partial_tag_length(self._buffer, self._close_tags)
            while cut and self._buffer[cut - 1].isspace():
                cut -= 1
            safe, self._buffer = self._buffer[:cut], self._buffer[cut:]
            emitted = len(parts)
            self._emit(parts, True, safe)
            if not self._live and len(parts) > emitted:
                self._held.append(parts[-1].text)
                parts[-1] = parts[-1]._replace(tentative=True)
            return
        index, tag = found
        self._emit(parts, True, self._buffer[:index].rstrip())
        self._buffer, self._held = self._buffer[index + len(tag) :], []
        self._state, self._at_segment_start = "content", True

    def _emit(self, parts: list[Part], reasoning: bool, text: str) -> None:
        if self._at_segment_start:
            text = text.lstrip()
        if text:
            self._at_segment_start = False
            parts.append(Part(reasoning, text))


def _find_first(text: str, tags: tuple[str, ...]) -> tuple[int, str] | None:
    hits = [(index, tag) for tag in tags if (index := text.find(tag)) >= 0]
    return min(hits) if hits else None


def _partial_tag_length(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest end of `text` that is the beginning of a tag."""
    for length in range(min(len(text), max(len(tag) for tag in tags) - 1), 0, -1):
        if any(tag.startswith(text[-length:]) for tag in tags):
            return length
    return 0
