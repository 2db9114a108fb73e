"""Web pages: the main text only, split into sections at h1–h6 headings."""

import codecs
import re
from typing import IO

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.dammit import EncodingDetector
from bs4.element import PreformattedString

from knowledge.formats.common import ExtractionError, Section, SectionBuilder, normalise
from knowledge.formats.tables import table_lines
from knowledge.formats.text import decode, has_bom

_NOISE_TAGS = frozenset(
    ["head", "script", "style", "noscript", "template", "svg", "nav", "footer", "aside", "form"]
)
_HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}
_LINE_TAGS = frozenset(["li", "dt", "dd"])
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "blockquote",
        "body",
        "caption",
        "center",
        "details",
        "div",
        "dl",
        "fieldset",
        "figcaption",
        "figure",
        "header",
        "hr",
        "legend",
        "main",
        "ol",
        "p",
        "section",
        "summary",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
# Browsers read these declared encodings as their supersets (WHATWG Encoding Standard), and pages
# labelled gb2312 routinely hold GBK-only characters; a UTF-16 label on a page read as bytes is wrong.
_DECLARED_ENCODING_AS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "utf-16": "utf-8",
    "utf-16-le": "utf-8",
    "utf-16-be": "utf-8",
}
_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
# Source lines wrapped inside Chinese text must not leave a space between the characters.
_CJK_LINE_WRAP = re.compile(rf"(?<=[{_CJK}])[^\S\n]*\n\s*(?=[{_CJK}])")
_WHITESPACE = re.compile(r"\s+")
# Leading comments allowed: browsers' "Save page as" puts one before <html>.
_HTML_START = re.compile(rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)


def looks_like_html(head: bytes) -> bool:
    return _HTML_START.match(head.removeprefix(codecs.BOM_UTF8)) is not None


def extract_html(file: IO[bytes]) -> list[Section]:
    soup = BeautifulSoup(normalise(_decode_html(file.read())), "html.parser")
    articles = soup.find_all("article")
    root = soup.find("main") or (articles[0] if len(articles) == 1 else None) or soup.body or soup
    reader = _PageReader()
    reader.read(root)
    sections = reader.finish()
    if not sections:
        raise ExtractionError("The web page contains no text.")
    return sections


def _decode_html(data: bytes) -> str:
    """A byte-order mark wins over the page's <meta charset>, which wins over guessing (as in browsers)."""
    declared = None if has_bom(data) else EncodingDetector.find_declared_encoding(data, is_html=True)
    if declared:
        try:
            name = codecs.lookup(declared).name
            return data.decode(_DECLARED_ENCODING_AS.get(name, name))
        except (LookupError, UnicodeDecodeError):
            pass  # an unknown or wrong label: read the bytes as if there were none
    return decode(data)


def _is_noise(tag: Tag) -> bool:
    """Page furniture rather than content; a <header> inside an <article> is the article's own title."""
    return (
        tag.name in _NOISE_TAGS
        or tag.get("role") == "navigation"
        or tag.has_attr("hidden")
        or (tag.name == "header" and tag.find_parent("article") is None)
    )


def _is_layout_table(table: Tag) -> bool:
    """Tables that lay out a page (old sites nest them) are read as blocks, not as rows of data."""
    return table.get("role") == "presentation" or table.find("table") is not None


def _table_rows(table: Tag) -> list[list[str]]:
    rows = []
    for row in table.find_all("tr"):
        cells: list[str] = []
        for cell in row.find_all(["td", "th"]):
            cells.append(" ".join(cell.stripped_strings))
            span = str(cell.get("colspan", "1"))
            cells += [""] * (int(span) - 1 if span.isdigit() else 0)
        rows.append(cells)
    return rows


class _PageReader:
    """Walks the page: headings start sections, block elements end paragraphs, list items end lines."""

    def __init__(self) -> None:
        self._builder = SectionBuilder()
        self._lines: list[str] = []
        self._inline: list[str] = []

    def read(self, element: Tag) -> None:
        for child in element.children:
            if isinstance(child, Tag):
                if not _is_noise(child):
                    self._read_tag(child)
            elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
                self._inline.append(_WHITESPACE.sub(" ", _CJK_LINE_WRAP.sub("", child)))

    def finish(self) -> list[Section]:
        self._end_block()
        return self._builder.finish()

    def _read_tag(self, tag: Tag) -> None:
        if tag.name in _HEADING_LEVELS:
            self._end_block()
            self._builder.heading(_HEADING_LEVELS[tag.name], _CJK_LINE_WRAP.sub("", tag.get_text()))
        elif tag.name == "pre":
            self._end_block()
            self._builder.block(tag.get_text())
        elif tag.name == "table" and not _is_layout_table(tag):
            self._end_block()
            self._builder.block("\n".join(table_lines(_table_rows(tag))))
        elif tag.name == "br":
            self._end_line()
        elif tag.name in _LINE_TAGS or tag.name in _BLOCK_TAGS:
            end = self._end_line if tag.name in _LINE_TAGS else self._end_block
            end()
            self.read(tag)
            end()
        else:
            self.read(tag)

    def _end_line(self) -> None:
        line = _WHITESPACE.sub(" ", "".join(self._inline)).strip()
        self._inline.clear()
        if line:
            self._lines.append(line)

    def _end_block(self) -> None:
        self._end_line()
        self._builder.block("\n".join(self._lines))
        self._lines.clear()
