"""Plain text and Markdown, and the encoding detection every text-based format relies on."""

import codecs
import re
from typing import IO

from charset_normalizer import from_bytes

from knowledge.formats.common import HEADING_SEPARATOR, ExtractionError, Section, normalise
from knowledge.formats.fences import fence_after

SNIFF_BYTES = 8192
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
# Guesses are limited to encodings staff documents come in: a free guess takes short Latin text for
# Urdu or Czech code pages. GB18030 is listed so that it can still win for GBK text in traditional script.
_GUESSABLE_ENCODINGS = [
    "gb18030",
    "big5",
    "utf_16_le",
    "utf_16_be",
    "utf_32_le",
    "utf_32_be",
    "cp932",
    "euc_jp",
    "cp949",
    "cp1252",
]
# A lead byte of GB2312 punctuation (rows A1-A3) or hanzi (B0-F7): nearly every character of real
# GBK/GB18030 Chinese, but only about a third of the characters of Big5 or Shift-JIS read as GB18030.
_COMMON_GB_LEAD_BYTES = frozenset([0xA1, 0xA2, 0xA3, *range(0xB0, 0xF8)])
_COMMON_GB_SHARE = 0.8

# ATX heading: up to three spaces, 1-6 '#', then a space/tab or the end of the line.
_ATX_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


def is_utf16_without_bom(head: bytes) -> bool:
    """Whether the bytes read as UTF-16 text saved without a byte-order mark, as some Windows tools do."""
    return from_bytes(head, cp_isolation=["utf_16_le", "utf_16_be"]).best() is not None


def has_bom(data: bytes) -> bool:
    return data.startswith(tuple(bom for bom, _, _ in _BOMS))


def decode(data: bytes) -> str:
    """Text of a file in any encoding it is likely to come in, Chinese ones especially.

    Byte-order marks and strict UTF-8 come first, then GB18030 when it gives common Chinese; only text
    that fits neither (UTF-16 without a mark, Big5, ...) is left to a statistical guess, which is
    unreliable on short text.
    """
    for bom, encoding, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                raise ExtractionError(
                    f"The file has a {name} byte-order mark but is not valid {name}."
                ) from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Zero bytes are the high bytes of ASCII in UTF-16; GBK text never holds them.
    gb_text = None if b"\x00" in data else _decode_or_none(data, "gb18030")
    if gb_text is not None and _is_common_chinese(gb_text):
        return gb_text
    guess = from_bytes(data, cp_isolation=_GUESSABLE_ENCODINGS).best()
    if guess is not None:
        return str(guess)
    if gb_text is not None:
        return gb_text
    raise ExtractionError("The text encoding was not recognised (tried UTF-8, UTF-16, GB18030/GBK and Big5).")


def read_text(file: IO[bytes]) -> str:
    text = normalise(decode(file.read()))
    if not text.strip():
        raise ExtractionError("The file contains no text.")
    return text


def extract_text(file: IO[bytes]) -> list[Section]:
    return [Section(text=read_text(file), start=0)]


def extract_markdown(file: IO[bytes]) -> list[Section]:
    """One section per ATX heading, carrying its heading line and its heading path.

    Lines inside fenced code blocks are never headings (a '# comment' in a Python block is code).
    Sections holding only a heading line are dropped: their title lives on in the paths below them.
    """
    sections: list[Section] = []
    path_titles: list[tuple[int, str]] = []
    lines: list[str] = []
    fence = ""
    position = 0  # where the next line starts in the file's text

    def close_section() -> None:
        text = "".join(lines)
        body = text.partition("\n")[2] if path_titles else text
        if body.strip():
            heading = HEADING_SEPARATOR.join(title for _, title in path_titles)
            sections.append(Section(text=text, heading=heading, start=position - len(text)))
        lines.clear()

    for line in read_text(file).splitlines(keepends=True):
        fence = fence_after(line, fence)
        heading = None if fence else _ATX_HEADING.match(line.rstrip("\n"))
        if heading:
            close_section()
            level = len(heading.group(1))
            path_titles = [(lvl, title) for lvl, title in path_titles if lvl < level]
            path_titles.append((level, (heading.group(2) or "").strip()))
        lines.append(line)
        position += len(line)
    close_section()
    return sections


def _decode_or_none(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _is_common_chinese(text: str) -> bool:
    wide = [character for character in text if ord(character) > 0x7F]
    common = sum(1 for character in wide if character.encode("gb18030")[0] in _COMMON_GB_LEAD_BYTES)
    return common >= _COMMON_GB_SHARE * len(wide)
