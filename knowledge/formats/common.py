"""What every format extractor shares: the section type, the error type and heading-path bookkeeping."""

import sys
from dataclasses import dataclass

from django.utils.translation import gettext as _

HEADING_SEPARATOR = " > "


class ExtractionError(Exception):
    """Extraction failed; the message is a reason a person understands, e.g. 'The PDF is encrypted.'"""


class NeedsOcr(ExtractionError):
    """The file holds scans (images, PDF pages without text) and OCR is not done where it was read."""


@dataclass(frozen=True)
class ReadingLimits:
    """What reading one file may cost; a reason names the setting of the limit it met."""

    pages: int  # INGEST_MAX_PAGES
    characters: int  # INGEST_MAX_CHARS
    unpacked_bytes: int  # INGEST_MAX_UNPACKED_MB: what a Word or Excel file's parts unpack to
    unpacked_ratio: int  # INGEST_MAX_ZIP_RATIO: how many times its packed size a part may unpack to


NO_LIMITS = ReadingLimits(
    pages=sys.maxsize, characters=sys.maxsize, unpacked_bytes=sys.maxsize, unpacked_ratio=sys.maxsize
)


def check_characters(sections: "list[Section]", limits: ReadingLimits) -> None:
    count = sum(len(section.text) for section in sections)
    if count > limits.characters:
        raise ExtractionError(
            _("The file has %(count)s characters of text; the limit is %(limit)s (setting INGEST_MAX_CHARS).")
            % {"count": f"{count:,}", "limit": f"{limits.characters:,}"}
        )


@dataclass(frozen=True)
class Section:
    text: str
    page: int | None = None  # 1-based PDF page
    heading: str = ""  # heading path, e.g. "部署 > 硬件要求"
    # Where the text starts in the file's own decoded text, for formats whose sections are slices
    # of it (TXT, Markdown); None where the text is rebuilt from structure (PDF, DOCX, HTML, tables).
    start: int | None = None


def normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


class SectionBuilder:
    """Blocks of text gathered into a new section at each heading, the way Markdown is split.

    A section's text starts with its heading line; sections holding only that line are dropped, since
    the heading lives on in the paths of the sections below it.
    """

    def __init__(self) -> None:
        self._sections: list[Section] = []
        self._path: list[tuple[int, str]] = []
        self._blocks: list[str] = []
        self._has_heading_line = False

    def heading(self, level: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            return
        self._close()
        self._path = [(lvl, text) for lvl, text in self._path if lvl < level]
        self._path.append((level, title))
        self._blocks.append(title)
        self._has_heading_line = True

    def block(self, text: str) -> None:
        if text.strip():
            self._blocks.append(text.strip("\n"))

    def finish(self) -> list[Section]:
        self._close()
        return self._sections

    def _close(self) -> None:
        if len(self._blocks) > int(self._has_heading_line):
            heading = HEADING_SEPARATOR.join(title for _, title in self._path)
            self._sections.append(Section(text="\n\n".join(self._blocks), heading=heading))
        self._blocks.clear()
        self._has_heading_line = False
