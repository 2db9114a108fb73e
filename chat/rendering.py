"""Answers as HTML: Markdown with highlighted code, sanitised, citation markers linked to the
message's source cards, in bounded size and time.

Python-Markdown took time quadratic in unbalanced brackets (20 KB of `[` cost 81 s of CPU);
markdown-it-py is linear. On top of that, what reaches the parser is capped in size
(settings.MARKDOWN_MAX_CHARS; the rest shows as plain text) and in CPU time (RENDER_CPU_SECONDS,
checked by the parser itself, see _Budget; past it the whole text shows as plain text). Code is
highlighted in worker processes killed at a deadline (chat/highlighting.py).
"""

import logging
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from html import escape
from time import thread_time

import nh3
from django.conf import settings
from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments.token import STANDARD_TYPES

from chat.citations import MARKER
from chat.highlighting import Highlighter

logger = logging.getLogger(__name__)

# CPU seconds one rendering may spend in this thread. A 50,000-character answer with tables and code
# takes well under a tenth of that; the worst inputs we know of at MARKDOWN_MAX_CHARS about as long.
RENDER_CPU_SECONDS = 1.0
# Reading the thread's CPU clock is a system call (about 1 µs): look at it every so many checks.
_CHECKS_PER_CLOCK_READ = 64

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
_INLINE_CODE = re.compile(r"`[^`]*`?")  # a code span, closed or still arriving
# Only Pygments' own classes survive, so an answer cannot dress itself up as the page's interface.
_ALLOWED_CLASSES = {"div": {"highlight"}, "span": {"filename", *STANDARD_TYPES.values()} - {""}}
# No images: a prompt-injected answer could leak the conversation through an image's address.
_ALLOWED_TAGS = nh3.ALLOWED_TAGS - {"img"}
# What a citation token renders as until the HTML is sanitised; then it becomes the link.
_PLACEHOLDER = re.compile("\ue000([0-9a-f]{16}):(\\d+)\ue001")


class _OutOfTime(Exception):
    pass


@dataclass
class _Budget:
    """The CPU time left to one rendering. The parser checks it at every block rule and every inline
    position (lookahead scans included), so whatever keeps it busy stops soon after the deadline.
    Thread CPU time rather than the clock: a busy server must not turn answers into plain text, only
    a costly input must."""

    seconds: float
    ends: float = field(init=False)
    checks: int = 0

    def __post_init__(self) -> None:
        self.ends = thread_time() + self.seconds

    def check(self) -> None:
        self.checks += 1
        if self.checks % _CHECKS_PER_CLOCK_READ == 0 and thread_time() > self.ends:
            raise _OutOfTime


@dataclass(frozen=True)
class _Citations:
    """Which markers of one message link to its source cards."""

    message_id: int
    numbers: frozenset[int]
    nonce: str = field(default_factory=lambda: secrets.token_hex(8))

    def link(self, n: int) -> str:
        return f'<a class="cite" href="#cite-{self.message_id}-{n}" data-n="{n}">[{n}]</a>'


_NO_CITATIONS = _Citations(message_id=0, numbers=frozenset())


def _marker_pieces(text: str, citations: _Citations) -> Iterator[str | int]:
    """The text around markers, and the number of each valid one; invalid numbers stay as text."""
    start = 0
    for match in MARKER.finditer(text):
        yield text[start : match.start()]
        for number in (int(n) for n in match.group(1).split(",")):
            yield number if number in citations.numbers else f"[{number}]"
        start = match.end()
    yield text[start:]


def _link_markers(state: StateCore) -> None:
    """Valid markers in text tokens become citation tokens. Text tokens only: never code, a link's
    address or title (attributes), nor a link's own text (a link cannot hold another link)."""
    citations: _Citations = state.env["citations"]
    for block in state.tokens:
        if block.type == "inline" and block.children:
            block.children = list(_with_citation_tokens(block.children, citations))


def _with_citation_tokens(tokens: Iterable[Token], citations: _Citations) -> Iterator[Token]:
    in_link = 0
    for token in tokens:
        in_link += {"link_open": 1, "link_close": -1}.get(token.type, 0)
        if token.type != "text" or in_link or not MARKER.search(token.content):
            yield token
            continue
        for piece in _marker_pieces(token.content, citations):
            if isinstance(piece, int):
                yield Token("citation", "", 0, meta={"n": piece})
            elif piece:
                yield Token("text", "", 0, content=piece)


def _render_citation(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return f"\ue000{env['citations'].nonce}:{tokens[idx].meta['n']}\ue001"


def _render_code(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """A fenced block in its language (the first word after the fence), an indented one as text."""
    info = unescapeAll(tokens[idx].info).split(maxsplit=1)
    return env["highlighter"].html(tokens[idx].content, info[0] if info else "")


def _spend(state: StateBlock | StateInline, *_rule_arguments: object) -> bool:
    """A rule that matches nothing: it runs first at every step of the parse to check the budget."""
    state.env["budget"].check()
    return False


def _any_link(url: str) -> bool:
    """nh3 decides which addresses stay (no javascript:), as it did before; markdown-it's own check
    would leave a refused link in the text as `[x](javascript:…)`."""
    return True


def _parser() -> MarkdownIt:
    # Raw HTML passes to nh3, which keeps the harmless part, as before; inline only, so Markdown on
    # the line of a tag is still read (an HTML block would pass its lines on raw). "breaks": a line
    # break in the text is a line break on the page, as models write them.
    md = MarkdownIt("commonmark", {"html": True, "breaks": True}).enable("table").disable("html_block")
    md.validateLink = _any_link  # type: ignore[method-assign]
    md.block.ruler.before("table", "budget", _spend)
    md.inline.ruler.before("text", "budget", _spend)
    # Before text_join: a marker written with escapes (\[1\]) stays literal.
    md.core.ruler.before("text_join", "citations", _link_markers)
    md.add_render_rule("citation", _render_citation)
    md.add_render_rule("fence", _render_code)
    md.add_render_rule("code_block", _render_code)
    return md


_MARKDOWN = _parser()


def _markdown_html(text: str, citations: _Citations) -> str:
    env = {"budget": _Budget(RENDER_CPU_SECONDS), "citations": citations, "highlighter": Highlighter()}
    html = nh3.clean(_MARKDOWN.render(text, env), tags=_ALLOWED_TAGS, allowed_classes=_ALLOWED_CLASSES)

    def link(match: re.Match) -> str:
        return citations.link(int(match.group(2))) if match.group(1) == citations.nonce else match.group()

    return _PLACEHOLDER.sub(link, html)


def _plain_html(text: str, citations: _Citations) -> str:
    """Text shown as written: paragraphs and line breaks kept, markers linked, nothing else."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        if paragraph.strip():
            pieces = _marker_pieces(paragraph.strip("\n"), citations)
            html = "".join(citations.link(p) if isinstance(p, int) else escape(p) for p in pieces)
            paragraphs.append("<p>" + html.replace("\n", "<br>\n") + "</p>\n")
    return "".join(paragraphs)


def _cut(text: str) -> tuple[str, str]:
    """The text split where Markdown stops: at the last line break before the size cap."""
    limit = settings.MARKDOWN_MAX_CHARS
    if len(text) <= limit:
        return text, ""
    cut = text.rfind("\n", 0, limit) + 1 or limit
    return text[:cut], text[cut:]


def _html(markdown: str, plain: str, citations: _Citations) -> str:
    """Markdown as HTML, or as plain text if it takes too long; then plain text after the cap."""
    try:
        html = _markdown_html(markdown, citations)
    except _OutOfTime:
        logger.warning(
            "Markdown of %d characters took over %s s of CPU; shown as plain text.",
            len(markdown),
            RENDER_CPU_SECONDS,
        )
        html = _plain_html(markdown, citations)
    return html + _plain_html(plain, citations)


def _render(text: str, citations: _Citations) -> str:
    return _html(*_cut(text), citations)


def render_html(content: str, *, message_id: int, citations: Sequence[dict]) -> str:
    """Markdown to sanitised HTML, with valid [n] markers as links to the message's source cards."""
    cited = _Citations(message_id=message_id, numbers=frozenset(c["n"] for c in citations))
    return _render(content, cited)


def render_partial_html(text: str) -> str:
    """An answer still streaming, as sanitised HTML: a code block not closed yet is closed, so the
    code shows as code while it arrives, and so is bold text on the line arriving, so it does not
    show as asterisks until its closing pair comes."""
    markdown, plain = _cut(text)
    fences = _FENCE.findall(markdown)
    if len(fences) % 2:
        markdown += "\n" + fences[-1]
    elif not plain and _INLINE_CODE.sub("", markdown.rpartition("\n")[2]).count("**") % 2:
        markdown += "**"
    return _html(markdown, plain, _NO_CITATIONS)


def render_passages_html(notice: str, *, message_id: int, citations: Sequence[dict]) -> str:
    """Retrieval-only answers: each passage rendered on its own, so one cut mid-table or mid-code
    block cannot spill into the next."""
    parts = [f'<div class="notice">{_render(notice, _NO_CITATIONS)}</div>']
    for citation in citations:
        where = f" — {escape(citation['location'])}" if citation["location"] else ""
        title = escape(citation["document"])
        if citation.get("document_url"):
            url = escape(citation["document_url"])
            title = f'<a href="{url}" target="_blank" rel="noopener noreferrer">{title}</a>'
        parts.append(
            f'<p id="cite-{message_id}-{citation["n"]}"><strong>[{citation["n"]}] {title}</strong>{where}</p>'
            f"<blockquote>{_render(citation['text'], _NO_CITATIONS)}</blockquote>"
        )
    return "\n".join(parts)
