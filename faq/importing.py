"""Reading FAQ pairs from a CSV or Excel (.xlsx) file.

The first non-empty row is the header: `question`, `answer` and optionally `alternatives` (or
问题, 答案, 相似问题), in any order and case; alternatives in one cell, separated by new lines or
`|`. CSV in UTF-8 (with or without a byte-order mark), GBK/GB18030 or UTF-16, as the document
reader decodes it; delimiter `,`, `;` or tab. Each row is checked on its own: a row with a problem
is skipped and reported by its number, the others are read.
"""

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO

import openpyxl
from django.conf import settings
from django.utils.translation import gettext as _

from faq.models import ALTERNATIVES, ANSWER_CHARS, QUESTION_CHARS
from knowledge.formats.common import ExtractionError, ReadingLimits
from knowledge.formats.packages import check_package
from knowledge.formats.text import decode

HEADERS = {
    "question": "question",
    "questions": "question",
    "问题": "question",
    "answer": "answer",
    "answers": "answer",
    "答案": "answer",
    "回答": "answer",
    "alternatives": "alternatives",
    "alternative questions": "alternatives",
    "similar questions": "alternatives",
    "相似问题": "alternatives",
    "相似问法": "alternatives",
}
ALTERNATIVE_SEPARATORS = ("\r\n", "\n", "|")


class ImportFileError(ValueError):
    """The file as a whole cannot be read: nothing is imported."""


@dataclass(frozen=True)
class Row:
    number: int  # the row's line in the file (1 is the header's, usually)
    question: str
    answer: str
    alternatives: list[str]


@dataclass
class ParsedFile:
    rows: list[Row] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)


def max_bytes() -> int:
    return settings.FAQ_IMPORT_MAX_KB * 1024


def parse(name: str, file: IO[bytes]) -> ParsedFile:
    """The pairs of an uploaded file, and the rows skipped with why; ImportFileError when the file is
    too large, not a CSV or .xlsx, unreadable, or lacks a question or answer column."""
    data = file.read(max_bytes() + 1)
    if len(data) > max_bytes():
        raise ImportFileError(
            _("The file is larger than %(limit)s KB (setting FAQ_IMPORT_MAX_KB).")
            % {"limit": settings.FAQ_IMPORT_MAX_KB}
        )
    if not data.strip():
        raise ImportFileError(_("The file is empty."))
    if data.startswith(b"PK\x03\x04"):
        return _rows(_xlsx_rows(data))
    if name.lower().endswith((".xlsx", ".xls", ".xlsm")):
        raise ImportFileError(_("The file is not an Excel .xlsx workbook."))
    return _rows(_csv_rows(data))


def _csv_rows(data: bytes) -> list[tuple[int, list[str]]]:
    try:
        text = decode(data)
    except ExtractionError as error:
        raise ImportFileError(str(error)) from None
    if "\x00" in text:
        raise ImportFileError(_("The file is not a CSV text file."))
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return list(enumerate(reader, start=1))  # rows as a spreadsheet numbers them
    except csv.Error as error:
        raise ImportFileError(
            _("The CSV could not be read (line %(line)s: %(error)s).")
            % {"line": reader.line_num, "error": error}
        ) from None


def _package_limits() -> ReadingLimits:
    return ReadingLimits(
        pages=0,
        characters=0,
        unpacked_bytes=settings.INGEST_MAX_UNPACKED_MB * 1024 * 1024,
        unpacked_ratio=settings.INGEST_MAX_ZIP_RATIO,
    )


def _xlsx_rows(data: bytes) -> list[tuple[int, list[str]]]:
    unreadable = _("The Excel workbook could not be read (damaged or not an .xlsx).")
    try:
        check_package(io.BytesIO(data), _package_limits(), kind=_("The Excel workbook"))
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ExtractionError as error:
        raise ImportFileError(str(error)) from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):  # openpyxl's errors on damaged input
        raise ImportFileError(unreadable) from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        limit = settings.FAQ_MAX_PAIRS + 2
        rows = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            rows.append((number, ["" if value is None else str(value) for value in values]))
            if len(rows) > limit:
                break
        return rows
    except Exception:  # read-only sheets are parsed lazily, so damage surfaces here too
        raise ImportFileError(unreadable) from None
    finally:
        workbook.close()


def _columns(header: Sequence[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        key = HEADERS.get(" ".join(title.split()).casefold())
        if key and key not in columns:
            columns[key] = index
    if "question" not in columns or "answer" not in columns:
        raise ImportFileError(
            _(
                "The first row must name the columns: question and answer, optionally alternatives "
                "(or 问题, 答案, 相似问题)."
            )
        )
    return columns


def split_alternatives(cell: str) -> list[str]:
    parts = [cell]
    for separator in ALTERNATIVE_SEPARATORS:
        parts = [piece for part in parts for piece in part.split(separator)]
    return list(dict.fromkeys(part.strip() for part in parts if part.strip()))


def row_problem(question: str, answer: str, alternatives: list[str]) -> str:
    """What is wrong with a pair, or ""; the same checks as the admin's form and the API."""
    if not question:
        return _("The question is empty.")
    if not answer:
        return _("The answer is empty.")
    if len(question) > QUESTION_CHARS or any(len(a) > QUESTION_CHARS for a in alternatives):
        return _("A question is longer than %(limit)s characters.") % {"limit": QUESTION_CHARS}
    if len(answer) > ANSWER_CHARS:
        return _("The answer is longer than %(limit)s characters.") % {"limit": ANSWER_CHARS}
    if len(alternatives) > ALTERNATIVES:
        return _("More than %(limit)s alternative phrasings.") % {"limit": ALTERNATIVES}
    if any("\x00" in text for text in (question, answer, *alternatives)):
        return _("The row holds a NUL character.")
    return ""


def _cell(cells: list[str], columns: dict[str, int], key: str) -> str:
    index = columns.get(key)
    return cells[index] if index is not None and index < len(cells) else ""


def _rows(numbered: Iterable[tuple[int, list[str]]]) -> ParsedFile:
    parsed = ParsedFile()
    columns: dict[str, int] | None = None
    seen: dict[str, int] = {}
    for number, row in numbered:
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if columns is None:
            columns = _columns(cells)
            continue
        if len(parsed.rows) + len(parsed.skipped) >= settings.FAQ_MAX_PAIRS:
            raise ImportFileError(
                _("The file has more than %(limit)s rows (setting FAQ_MAX_PAIRS).")
                % {"limit": settings.FAQ_MAX_PAIRS}
            )
        question = " ".join(_cell(cells, columns, "question").split())
        answer = _cell(cells, columns, "answer")
        alternatives = [a for a in split_alternatives(_cell(cells, columns, "alternatives")) if a != question]
        if problem := row_problem(question, answer, alternatives):
            parsed.skipped.append((number, problem))
        elif question in seen:
            parsed.skipped.append((number, _("The same question as row %(row)s.") % {"row": seen[question]}))
        else:
            seen[question] = number
            parsed.rows.append(Row(number, question, answer, alternatives))
    if columns is None:
        raise ImportFileError(_("The file is empty."))
    return parsed
