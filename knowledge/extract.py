"""Turn an uploaded file into text sections.

Each format is one function from a path to sections, registered in ``_EXTRACTORS`` under its mime
type; supporting a new format means adding a function there and its extension(s) to
``_MIME_BY_EXTENSION``.
"""

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

TEXT = "text/plain"
MARKDOWN = "text/markdown"
PDF = "application/pdf"

_MIME_BY_EXTENSION = {".txt": TEXT, ".md": MARKDOWN, ".markdown": MARKDOWN, ".pdf": PDF}
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(_MIME_BY_EXTENSION)

_SNIFF_BYTES = 8192
# Control bytes that do not occur in text files; tab, newlines, form feed and escape are left out.
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\v\f\r\x1b")
_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a ZIP archive or Office document",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Encodings tried in order when there is no byte-order mark; GB18030 is a superset of GBK and GB2312.
_FALLBACK_ENCODINGS = ("utf-8", "gb18030")

# ATX heading: up to three spaces, 1-6 '#', then a space/tab or the end of the line.
_ATX_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


class ExtractionError(Exception):
    """Extraction failed; the message is a reason a person understands, e.g. 'The PDF is encrypted.'"""


@dataclass(frozen=True)
class Section:
    text: str
    page: int | None = None  # 1-based PDF page
    heading: str = ""  # heading path, e.g. "部署 > 硬件要求"


def detect_mime(path: Path, filename: str) -> str:
    """Mime type of an upload, judged by its content as well as its extension."""
    extension = Path(filename).suffix.lower()
    claimed = _MIME_BY_EXTENSION.get(extension)
    if claimed is None:
        supported = ", ".join(SUPPORTED_EXTENSIONS)
        raise ExtractionError(
            f"Unsupported file type: {extension or 'no extension'} (supported: {supported})."
        )
    with path.open("rb") as file:
        head = file.read(_SNIFF_BYTES)
    if not head:
        raise ExtractionError("The file is empty.")
    if b"%PDF-" in head[:1024]:
        return PDF
    if claimed == PDF:
        raise ExtractionError(f"Unsupported file type: {filename} is {_describe_content(head)}, not a PDF.")
    if _looks_binary(head):
        raise ExtractionError(f"Unsupported file type: {filename} is {_describe_content(head)}, not text.")
    return claimed


def extract_sections(path: Path, *, filename: str) -> list[Section]:
    """The text of an upload as sections (pages of a PDF, heading sections of Markdown)."""
    return _EXTRACTORS[detect_mime(path, filename)](path)


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    control_count = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return control_count * 100 > len(head)


def _describe_content(head: bytes) -> str:
    for signature, description in _SIGNATURES.items():
        if head.startswith(signature):
            return description
    return "binary data" if _looks_binary(head) else "text"


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                name = encoding.upper()
                raise ExtractionError(
                    f"The file has a {name} byte-order mark but is not valid {name}."
                ) from error
    for encoding in _FALLBACK_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ExtractionError("The text encoding was not recognised (tried UTF-8, UTF-16 and GB18030/GBK).")


def _read_text(path: Path) -> str:
    text = _normalise(_decode(path.read_bytes()))
    if not text.strip():
        raise ExtractionError("The file contains no text.")
    return text


def _extract_text(path: Path) -> list[Section]:
    return [Section(text=_read_text(path))]


def _extract_markdown(path: Path) -> list[Section]:
    """One section per ATX heading, carrying its heading line and its heading path.

    Lines inside fenced code blocks are never headings (a '# comment' in a Python block is code).
    Sections holding only a heading line are dropped: their title lives on in the paths below them.
    """
    sections: list[Section] = []
    path_titles: list[tuple[int, str]] = []
    lines: list[str] = []
    fence = ""

    def close_section() -> None:
        text = "".join(lines)
        body = text.partition("\n")[2] if path_titles else text
        if body.strip():
            sections.append(Section(text=text, heading=" > ".join(title for _, title in path_titles)))
        lines.clear()

    for line in _read_text(path).splitlines(keepends=True):
        fence_match = _FENCE.match(line)
        if fence_match and (not fence or fence_match.group(1).startswith(fence)):
            fence = "" if fence else fence_match.group(1)
        heading = None if fence else _ATX_HEADING.match(line.rstrip("\n"))
        if heading:
            close_section()
            level = len(heading.group(1))
            path_titles = [(lvl, title) for lvl, title in path_titles if lvl < level]
            path_titles.append((level, (heading.group(2) or "").strip()))
        lines.append(line)
    close_section()
    return sections


def _extract_pdf(path: Path) -> list[Section]:
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not _decrypt_without_password(reader):
            raise ExtractionError("The PDF is encrypted; upload a copy without a password.")
        texts = [_normalise(page.extract_text()) for page in reader.pages]
    except ExtractionError:
        raise
    except Exception as error:  # pypdf raises many exception types on damaged input
        raise ExtractionError("The PDF could not be read (damaged or not a PDF).") from error
    sections = [Section(text=text, page=number) for number, text in enumerate(texts, start=1) if text.strip()]
    if not sections:
        raise ExtractionError("No extractable text; OCR is not enabled.")
    return sections


def _decrypt_without_password(reader: PdfReader) -> bool:
    """Open PDFs that are encrypted only against editing (empty user password)."""
    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except DependencyError:
        return False


_EXTRACTORS: dict[str, Callable[[Path], list[Section]]] = {
    TEXT: _extract_text,
    MARKDOWN: _extract_markdown,
    PDF: _extract_pdf,
}
