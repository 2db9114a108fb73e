"""Fenced code blocks of Markdown text (CommonMark's rules for fences that are not nested in a list
or a quote): where Markdown headings cannot be, and where a passage cut inside one has to be
re-opened to read as code."""

import re
from dataclasses import dataclass

# Up to three spaces, a run of three or more backticks or tildes, and the info string after it.
_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})([^\n]*)")


@dataclass(frozen=True)
class FencedBlock:
    start: int  # where the opening line starts
    end: int  # where the closing line ends (before its line break); the text's end if never closed
    opening: str  # the opening line as written: indentation, fence and info string
    fence: str  # the opening's run of backticks or tildes, which also closes it
    closed: bool  # whether the text closes it

    @property
    def body(self) -> int:
        """Where the opening line ends (before its line break)."""
        return self.start + len(self.opening)


def fence_after(line: str, fence: str) -> str:
    """The fence open after `line` ("" for none), given the one open before it."""
    match = _FENCE.match(line)
    if match is None:
        return fence
    run, info = match.group(2), match.group(3)
    if not fence:
        return "" if run[0] == "`" and "`" in info else run  # a backtick fence's info has no backtick
    closes = run[0] == fence[0] and len(run) >= len(fence) and not info.strip()
    return "" if closes else fence


def fenced_blocks(text: str) -> list[FencedBlock]:
    blocks: list[FencedBlock] = []
    fence = ""
    start = position = 0
    opening = ""
    for line in text.splitlines(keepends=True):
        after = fence_after(line, fence)
        if after and not fence:
            start, opening = position, line.rstrip()
        elif fence and not after:
            end = position + len(line.rstrip())
            blocks.append(FencedBlock(start, end, opening, fence, closed=True))
        fence = after
        position += len(line)
    if fence:
        blocks.append(FencedBlock(start, len(text), opening, fence, closed=False))
    return blocks
