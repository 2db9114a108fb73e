"""PDF text, one section per page so that citations can name the page; each page's lines joined into
the paragraphs they were broken from (see ``pdf_lines``)."""

from typing import IO

from django.utils.translation import gettext as _
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError
from pypdf.generic import DictionaryObject

from knowledge.formats.common import NO_LIMITS, ExtractionError, ReadingLimits, Section
from knowledge.formats.pdf_lines import page_text


def extract_pdf(file: IO[bytes], limits: ReadingLimits = NO_LIMITS) -> list[Section]:
    try:
        reader = PdfReader(file)
        if reader.is_encrypted and not _decrypt_without_password(reader):
            raise ExtractionError("The PDF is encrypted; upload a copy without a password.")
        _check_pages(reader, limits)
        texts = _page_texts(reader, limits)
    except ExtractionError:
        raise
    except Exception as error:  # pypdf raises many exception types on damaged input
        raise ExtractionError("The PDF could not be read (damaged or not a PDF).") from error
    sections = [Section(text=text, page=number) for number, text in enumerate(texts, start=1) if text.strip()]
    if not sections:
        raise ExtractionError("No extractable text; OCR is not enabled.")
    return sections


def _check_pages(reader: PdfReader, limits: ReadingLimits) -> None:
    """The page count the file declares first (cheap), then the pages its page tree really holds (which
    pypdf caps at 100,000 entries): a 3 MB file can hold 20,000 pages that share one content stream."""
    tree = reader.root_object["/Pages"]
    # Not get(): it would leave a reference unresolved.
    declared = tree["/Count"] if isinstance(tree, DictionaryObject) and "/Count" in tree else 0
    if isinstance(declared, int) and declared > limits.pages:
        raise ExtractionError(_too_many_pages(declared, limits))
    if len(reader.pages) > limits.pages:
        raise ExtractionError(_too_many_pages(len(reader.pages), limits))


def _too_many_pages(count: int, limits: ReadingLimits) -> str:
    return _("The PDF has %(count)s pages; the limit is %(limit)s (setting INGEST_MAX_PAGES).") % {
        "count": f"{count:,}",
        "limit": f"{limits.pages:,}",
    }


def _page_texts(reader: PdfReader, limits: ReadingLimits) -> list[str]:
    """Each page's text, stopping as soon as the characters pass the limit."""
    texts: list[str] = []
    characters = 0
    for number, page in enumerate(reader.pages, start=1):
        texts.append(page_text(page))
        characters += len(texts[-1])
        if characters > limits.characters:
            raise ExtractionError(
                _(
                    "The PDF has more than %(limit)s characters of text (passed on page %(page)s of "
                    "%(pages)s); the limit is %(limit)s (setting INGEST_MAX_CHARS)."
                )
                % {
                    "limit": f"{limits.characters:,}",
                    "page": f"{number:,}",
                    "pages": f"{len(reader.pages):,}",
                }
            )
    return texts


def _decrypt_without_password(reader: PdfReader) -> bool:
    """Open PDFs that are encrypted only against editing (empty user password)."""
    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except DependencyError:
        return False
