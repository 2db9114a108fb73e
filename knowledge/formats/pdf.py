"""PDF text, one section per page so that citations can name the page."""

from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from knowledge.formats.common import ExtractionError, Section, normalise


def extract_pdf(path: Path) -> list[Section]:
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not _decrypt_without_password(reader):
            raise ExtractionError("The PDF is encrypted; upload a copy without a password.")
        texts = [normalise(page.extract_text()) for page in reader.pages]
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
