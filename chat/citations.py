"""Citation markers in answers: mapping them to the passages sent, and rendering answers safely."""

import re
from collections.abc import Sequence
from html import escape

import markdown
import nh3
from pygments.formatters.html import HtmlFormatter
from pygments.token import STANDARD_TYPES

from knowledge.retrieval import Passage

# [1], [1, 2], and DeepSeek's own template spelling [citation:1].
MARKER = re.compile(r"\[(?:citation:\s*)?(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
_INLINE_CODE = re.compile(r"`[^`]*`?")  # a code span, closed or still arriving
# Private-use characters: Markdown itself uses STX/ETX as placeholders.
_PLACEHOLDER = re.compile("\ue000(\\d{1,3})\ue001")


def passage_citation(number: int, passage: Passage) -> dict:
    return {
        "n": number,
        "document": passage.document_title,
        "document_id": passage.document_id,
        "chunk_id": passage.chunk_id,
        "location": passage.location,
        "text": passage.text,
    }


def resolve(content: str, passages: Sequence[Passage]) -> tuple[str, list[dict]]:
    """Normalise markers to [n], drop those pointing to no passage, and list the passages cited."""
    cited: set[int] = set()

    def replace(match: re.Match) -> str:
        numbers = [int(n) for n in match.group(1).split(",")]
        valid = [n for n in numbers if 1 <= n <= len(passages)]
        cited.update(valid)
        return "".join(f"[{n}]" for n in valid)

    cleaned = MARKER.sub(replace, content)
    return cleaned, [passage_citation(n, passages[n - 1]) for n in sorted(cited)]


class _CodeFormatter(HtmlFormatter):
    """Pygments' HTML with the fence's language named above the code (the page shows it with a
    copy button)."""

    def __init__(self, **options) -> None:
        language = str(options.pop("lang_str", "")).removeprefix("language-")
        super().__init__(**options, filename=language)


_CODE = {"css_class": "highlight", "guess_lang": False, "pygments_formatter": _CodeFormatter}
# Only Pygments' own classes survive, so an answer cannot dress itself up as the page's interface.
_ALLOWED_CLASSES = {"div": {"highlight"}, "span": {"filename", *STANDARD_TYPES.values()} - {""}}
# No images: a prompt-injected answer could leak the conversation through an image's address.
_ALLOWED_TAGS = nh3.ALLOWED_TAGS - {"img"}


def _markdown(text: str) -> str:
    html = markdown.markdown(
        text,
        extensions=["fenced_code", "codehilite", "tables", "sane_lists", "nl2br"],
        extension_configs={"codehilite": _CODE},
    )
    return nh3.clean(html, tags=_ALLOWED_TAGS, allowed_classes=_ALLOWED_CLASSES)


def render_passages_html(notice: str, *, message_id: int, citations: Sequence[dict]) -> str:
    """Retrieval-only answers: each passage rendered on its own, so one cut mid-table or mid-code
    block cannot spill into the next."""
    parts = [f'<div class="notice">{_markdown(notice)}</div>']
    for citation in citations:
        where = f" — {escape(citation['location'])}" if citation["location"] else ""
        title = escape(citation["document"])
        if citation.get("document_url"):
            title = f'<a href="{escape(citation["document_url"])}" target="_blank" rel="noopener">{title}</a>'
        parts.append(
            f'<p id="cite-{message_id}-{citation["n"]}"><strong>[{citation["n"]}] {title}</strong>{where}</p>'
            f"<blockquote>{_markdown(citation['text'])}</blockquote>"
        )
    return "\n".join(parts)


def render_html(content: str, *, message_id: int, citations: Sequence[dict]) -> str:
    """Markdown to sanitised HTML, with valid [n] markers as links to the message's source cards."""
    numbers = {c["n"] for c in citations}

    def mark(match: re.Match) -> str:
        found = match.group(1).replace(" ", "").split(",")
        return "".join(f"\ue000{n}\ue001" if int(n) in numbers else f"[{n}]" for n in found)

    marked = MARKER.sub(mark, content)
    return _PLACEHOLDER.sub(
        lambda m: (
            f'<a class="cite" href="#cite-{message_id}-{m.group(1)}" data-n="{m.group(1)}">[{m.group(1)}]</a>'
        ),
        _markdown(marked),
    )


def render_partial_html(text: str) -> str:
    """An answer still streaming, as sanitised HTML: a code block not closed yet is closed, so the
    code shows as code while it arrives, and so is bold text on the line arriving, so it does not
    show as asterisks until its closing pair comes."""
    fences = _FENCE.findall(text)
    if len(fences) % 2:
        text += "\n" + fences[-1]
    elif _INLINE_CODE.sub("", text.rpartition("\n")[2]).count("**") % 2:
        text += "**"
    return render_html(text, message_id=0, citations=[])
