"""Turn an uploaded file into text sections.

Each format is one function from a binary file to sections in ``knowledge.formats``, registered in
``_EXTRACTORS`` under its mime type; supporting a new format means adding a function there and its
extension(s) to ``_MIME_BY_EXTENSION``. A file's format is judged by its content where the content can
tell (PDF, the ZIP-based Word and Excel files, HTML) and by its extension otherwise.
"""

import codecs
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from knowledge.formats.common import (
    NO_LIMITS,
    ExtractionError,
    NeedsOcr,
    ReadingLimits,
    Section,
    check_characters,
)
from knowledge.formats.ocr import HandOff, ScanReader, Scans
from knowledge.formats.office import extract_docx
from knowledge.formats.packages import check_package
from knowledge.formats.pdf import extract_pdf
from knowledge.formats.tables import extract_csv, extract_tsv, extract_xlsx
from knowledge.formats.text import SNIFF_BYTES, extract_markdown, extract_text, is_utf16_without_bom
from knowledge.formats.web import extract_html, looks_like_html

__all__ = [
    "NO_LIMITS",
    "OPAQUE",
    "SUPPORTED_EXTENSIONS",
    "ExtractionError",
    "HandOff",
    "NeedsOcr",
    "ReadingLimits",
    "ScanReader",
    "Scans",
    "Section",
    "claimed_mime",
    "detect_mime",
    "detect_mime_of_file",
    "extension_of",
    "extract_sections",
    "extract_sections_of_file",
    "is_zip",
]

TEXT = "text/plain"
MARKDOWN = "text/markdown"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML = "text/html"
CSV = "text/csv"
TSV = "text/tab-separated-values"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
WEBP = "image/webp"
# Read by OCR (knowledge.formats.ocr).
IMAGES = (PNG, JPEG, TIFF, WEBP)
# Bytes whose content is not what their name says: stored, never shown, only downloaded.
OPAQUE = "application/octet-stream"

_MIME_BY_EXTENSION = {
    ".txt": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".pdf": PDF,
    ".docx": DOCX,
    ".html": HTML,
    ".htm": HTML,
    ".csv": CSV,
    ".tsv": TSV,
    ".xlsx": XLSX,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".tif": TIFF,
    ".tiff": TIFF,
    ".webp": WEBP,
}
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(_MIME_BY_EXTENSION)
_OLD_OFFICE_FORMATS = {
    ".doc": "Old Word documents (.doc) are not supported. Save the document as .docx and upload that.",
    ".xls": "Old Excel workbooks (.xls) are not supported. Save the workbook as .xlsx and upload that.",
}
# What a file of each format is called when its content turns out to be something else.
_FORMAT_NAMES = {
    PDF: "a PDF",
    DOCX: "a Word document",
    XLSX: "an Excel workbook",
    **{image: "an image" for image in IMAGES},
}
# The part every Word or Excel file holds; both are ZIP archives of XML parts.
_OFFICE_MAIN_PARTS = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX}
_OFFICE_CONTENT_TYPES = "[Content_Types].xml"
_PACKAGE_KINDS = {DOCX: gettext_lazy("The Word document"), XLSX: gettext_lazy("The Excel workbook")}

_ZIP_SIGNATURE = b"PK\x03\x04"
# Control bytes that do not occur in text files; tab, newlines, form feed and escape are left out.
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\v\f\r\x1b")
_IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": PNG,
    b"\xff\xd8\xff": JPEG,
    b"II*\x00": TIFF,
    b"MM\x00*": TIFF,
}
_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
    b"GIF8": "a GIF image",
    b"RIFF": "a RIFF file (WebP, WAV or AVI)",
    # OLE2 compound file: the container of .doc/.xls, and of password-protected .docx/.xlsx.
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "an old-format (.doc/.xls) or password-protected Office file",
}


def detect_mime(path: Path, filename: str) -> str:
    """Mime type of an upload, judged by its content as well as its extension."""
    with path.open("rb") as file:
        return detect_mime_of_file(file, filename)


def detect_mime_of_file(file: IO[bytes], filename: str) -> str:
    """detect_mime of an open file (an upload not stored yet); reads it from the start."""
    extension = Path(filename).suffix.lower()
    if extension in _OLD_OFFICE_FORMATS:
        raise ExtractionError(_OLD_OFFICE_FORMATS[extension])
    claimed = claimed_mime(filename)
    if claimed is None:
        supported = ", ".join(SUPPORTED_EXTENSIONS)
        raise ExtractionError(
            f"Unsupported file type: {extension or 'no extension'} (supported: {supported})."
        )
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    if not head:
        raise ExtractionError("The file is empty.")
    if b"%PDF-" in head[:1024]:
        return PDF
    if image := _image_mime(head):
        if claimed in IMAGES:
            return image  # a .jpg that is a PNG is read as the PNG it is
    elif claimed in IMAGES:
        raise ExtractionError(
            f"Unsupported file type: {filename} is {_describe_content(head)}, not {_format_name(claimed)}."
        )
    if head.startswith(_ZIP_SIGNATURE):
        return _zip_mime(file, filename, claimed)
    if claimed in (DOCX, XLSX) and _signature(head) is None:
        return claimed  # a damaged file: its reader says so
    if claimed in _FORMAT_NAMES or _looks_binary(head):
        raise ExtractionError(
            f"Unsupported file type: {filename} is {_describe_content(head)}, not {_format_name(claimed)}."
        )
    return HTML if looks_like_html(head) else claimed


def claimed_mime(filename: str) -> str | None:
    """The type a file's extension claims, among those read here."""
    return _MIME_BY_EXTENSION.get(Path(filename).suffix.lower())


def extension_of(mime: str) -> str | None:
    """The usual extension of a type read here (the first listed: .md, .html)."""
    return next((extension for extension, known in _MIME_BY_EXTENSION.items() if known == mime), None)


def extract_sections(
    path: Path, *, filename: str, limits: ReadingLimits = NO_LIMITS, scans: Scans | None = None
) -> list[Section]:
    """extract_sections_of_file of a file on disk."""
    with path.open("rb") as file:
        return extract_sections_of_file(file, filename=filename, limits=limits, scans=scans)


def extract_sections_of_file(
    file: IO[bytes], *, filename: str, limits: ReadingLimits = NO_LIMITS, scans: Scans | None = None
) -> list[Section]:
    """The text of an upload as sections (pages of a PDF, heading sections of documents, table rows),
    or ExtractionError naming the limit the file breaks: pages and characters as the PDF is read, the
    parts of a Word or Excel file before its reader opens them, characters of the rest once read.

    `file` is any seekable binary file, such as one opened through a Django storage: no reader here
    needs a path on disk. Images and the scanned pages of PDFs go to `scans` (knowledge.formats.ocr);
    without it (OCR off) scanned pages are left out and an image fails with NeedsOcr."""
    mime = detect_mime_of_file(file, filename)
    if mime in _PACKAGE_KINDS:
        file.seek(0)
        check_package(file, limits, kind=str(_PACKAGE_KINDS[mime]))
    file.seek(0)
    if mime in IMAGES:
        sections = _read_image(file, scans)
    elif mime == PDF:
        sections = extract_pdf(file, limits, scans)
    else:
        sections = _EXTRACTORS[mime](file)
    check_characters(sections, limits)
    return sections


def needs_ocr(mime: str) -> bool:
    """Whether a file of this type is read by OCR alone (PDFs are judged page by page as they are read)."""
    return mime in IMAGES


def _read_image(file: IO[bytes], scans: Scans | None) -> list[Section]:
    if scans is None:
        raise NeedsOcr(
            _(
                "The image is not read: reading scans (OCR) is turned off for this knowledge base "
                "(its setting “Read scans (OCR)”)."
            )
        )
    return scans.read_image(file)


def _image_mime(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return next((mime for signature, mime in _IMAGE_SIGNATURES.items() if head.startswith(signature)), None)


def is_zip(path: Path) -> bool:
    """Whether the file is a ZIP archive other than a Word or Excel file (which are ZIP files too)."""
    members = _zip_members(path)
    return members is not None and not members.intersection(_OFFICE_MAIN_PARTS)


def _zip_mime(file: IO[bytes], filename: str, claimed: str) -> str:
    members = _zip_members(file)
    for part, mime in _OFFICE_MAIN_PARTS.items():
        if part in (members or ()):
            return mime
    if claimed in (DOCX, XLSX) and (members is None or _OFFICE_CONTENT_TYPES in members):
        return claimed  # a damaged Office file: its reader says so
    raise ExtractionError(f"Unsupported file type: {filename} is a ZIP archive, not {_format_name(claimed)}.")


def _zip_members(source: Path | IO[bytes]) -> set[str] | None:
    try:
        with zipfile.ZipFile(source) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return None


def _format_name(mime: str) -> str:
    return _FORMAT_NAMES.get(mime, "text")


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    control_count = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return control_count * 100 > len(head) and not is_utf16_without_bom(head)


def _signature(head: bytes) -> str | None:
    return next((name for signature, name in _SIGNATURES.items() if head.startswith(signature)), None)


def _describe_content(head: bytes) -> str:
    return _signature(head) or ("binary data" if _looks_binary(head) else "text")


_EXTRACTORS: dict[str, Callable[[IO[bytes]], list[Section]]] = {
    TEXT: extract_text,
    MARKDOWN: extract_markdown,
    PDF: extract_pdf,
    DOCX: extract_docx,
    XLSX: extract_xlsx,
    HTML: extract_html,
    CSV: extract_csv,
    TSV: extract_tsv,
}
