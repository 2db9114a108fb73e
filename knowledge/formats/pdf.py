"""PDF text, one section per page so that citations can name the page; each page's lines joined into
the paragraphs they were broken from (see ``pdf_lines``)."""

from typing import IO, TYPE_CHECKING

from django.utils.translation import gettext as _
from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError
from pypdf.generic import DictionaryObject, IndirectObject

from knowledge.formats.common import NO_LIMITS, ExtractionError, NeedsOcr, ReadingLimits, Section
from knowledge.formats.pdf_lines import page_text

if TYPE_CHECKING:
    from knowledge.formats.ocr import Scans


def extract_pdf(
    file: IO[bytes], limits: ReadingLimits = NO_LIMITS, scans: "Scans | None" = None
) -> list[Section]:
    """The PDF's pages with text; the scanned ones (no text, an image) read by `scans`, or left out
    when it is None (OCR off), which fails a PDF that is nothing but scans with NeedsOcr."""
    try:
        reader = PdfReader(file)
        if reader.is_encrypted and not _decrypt_without_password(reader):
            raise ExtractionError("The PDF is encrypted; upload a copy without a password.")
        _check_pages(reader, limits)
        texts = _page_texts(reader, limits)
        scanned = [
            n for n, text in enumerate(texts, start=1) if not text.strip() and _has_image(reader.pages[n - 1])
        ]
    except ExtractionError:
        raise
    except Exception as error:  # pypdf raises many exception types on damaged input
        raise ExtractionError("The PDF could not be read (damaged or not a PDF).") from error
    if scanned and scans is not None:
        texts = _with_read_scans(texts, scans.read_pdf_pages(file, scanned), limits)
    sections = [Section(text=text, page=number) for number, text in enumerate(texts, start=1) if text.strip()]
    if not sections and scanned and scans is None:
        raise NeedsOcr(
            _(
                "No extractable text: the PDF is scanned, and reading scans (OCR) is turned off for "
                "this knowledge base (its setting “Read scans (OCR)”)."
            )
        )
    if not sections:
        raise ExtractionError(_("No extractable text."))
    return sections


def _has_image(page: PageObject) -> bool:
    """Whether the page draws an image (directly or in a form it draws): a page without text that
    does is a scan; one that does not is blank."""
    return _holds_image(page.get("/Resources"), depth=0)


def _holds_image(resources: object, *, depth: int) -> bool:
    resources = resources.get_object() if isinstance(resources, IndirectObject) else resources
    if depth > 3 or not isinstance(resources, DictionaryObject):
        return False
    objects = resources.get("/XObject")
    objects = objects.get_object() if isinstance(objects, IndirectObject) else objects
    if not isinstance(objects, DictionaryObject):
        return False
    for reference in objects.values():
        xobject = reference.get_object()
        if not isinstance(xobject, DictionaryObject):
            continue
        if xobject.get("/Subtype") == "/Image":
            return True
        if xobject.get("/Subtype") == "/Form" and _holds_image(xobject.get("/Resources"), depth=depth + 1):
            return True
    return False


def _with_read_scans(texts: list[str], read: dict[int, str], limits: ReadingLimits) -> list[str]:
    merged = [read.get(number, text) for number, text in enumerate(texts, start=1)]
    if sum(map(len, merged)) > limits.characters:
        raise ExtractionError(
            _(
                "With its scans read the PDF has more than %(limit)s characters of text, the limit "
                "(setting INGEST_MAX_CHARS)."
            )
            % {"limit": f"{limits.characters:,}"}
        )
    return merged


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
