"""Tables as text: CSV/TSV files, Excel workbooks, and the tables inside Word documents and web pages.

A row under a header becomes one line of "column: value" pairs, so that every chunk cut from a table
still says what its numbers mean. Spreadsheet rows are grouped into sections headed with their row
numbers as the spreadsheet shows them ("Rows 2–51"), for citations to point at.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, time
from typing import IO

import openpyxl
from openpyxl.utils import get_column_letter

from knowledge.formats.common import HEADING_SEPARATOR, ExtractionError, Section
from knowledge.formats.text import read_text

ROWS_PER_SECTION = 50
_DELIMITERS = ",;\t|"
_SNIFF_CHARACTERS = 16384
_NUMBER = re.compile(r"[-+]?[\d.,%]+")


def table_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    """A table in a document: 'column: value' under a header row, 'cell | cell' when it has none."""
    cleaned = [cells for cells in ([_clean(cell) for cell in row] for row in rows) if any(cells)]
    if len(cleaned) > 1 and _is_header(cleaned[0]):
        return [_row_line(cleaned[0], cells) for cells in cleaned[1:]]
    return [" | ".join(cell for cell in cells if cell) for cells in cleaned]


def _row_line(header: Sequence[str], cells: Sequence[str]) -> str:
    """'Name: Alice; Role: Engineer'; empty values are left out, unnamed columns go by their letter."""
    pairs = []
    for index, value in enumerate(cells):
        if value:
            name = header[index] if index < len(header) and header[index] else None
            pairs.append(f"{name or 'Column ' + get_column_letter(index + 1)}: {value}")
    return "; ".join(pairs)


def extract_csv(file: IO[bytes]) -> list[Section]:
    text = read_text(file)
    return _delimited_sections(text, _sniff_delimiter(text))


def extract_tsv(file: IO[bytes]) -> list[Section]:
    return _delimited_sections(read_text(file), "\t")


def extract_xlsx(file: IO[bytes]) -> list[Section]:
    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zip, XML and key errors on damaged input
        raise ExtractionError("The Excel workbook could not be read (damaged or not an .xlsx).") from error
    sections: list[Section] = []
    try:
        for sheet in workbook.worksheets:
            # Other tools may write wrong sheet dimensions; forgetting them makes openpyxl read every row.
            sheet.reset_dimensions()
            rows = ([_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True))
            sections += _row_sections(enumerate(rows, start=1), prefix=f"{sheet.title}{HEADING_SEPARATOR}")
    except Exception as error:  # read-only sheets are parsed lazily, so damage can surface here too
        raise ExtractionError("The Excel workbook could not be read (damaged or not an .xlsx).") from error
    finally:
        workbook.close()
    if not sections:
        raise ExtractionError("The Excel workbook has no rows of data.")
    return sections


def _delimited_sections(text: str, delimiter: str) -> list[Section]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        sections = _row_sections(enumerate(reader, start=1))
    except csv.Error as error:
        raise ExtractionError(f"The table could not be read (line {reader.line_num}: {error}).") from error
    if not sections:
        raise ExtractionError("The table has no rows of data below its header.")
    return sections


def _sniff_delimiter(text: str) -> str:
    sample = text[:_SNIFF_CHARACTERS].rpartition("\n")[0] or text[:_SNIFF_CHARACTERS]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:  # one column, or no consistent delimiter
        return ","


def _row_sections(numbered_rows: Iterable[tuple[int, Sequence[str]]], *, prefix: str = "") -> list[Section]:
    """Sections of up to ROWS_PER_SECTION data rows; the first non-empty row is the header."""
    sections: list[Section] = []
    header: list[str] | None = None
    group: list[tuple[int, str]] = []
    for number, row in numbered_rows:
        cells = [_clean(cell) for cell in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        group.append((number, _row_line(header, cells)))
        if len(group) == ROWS_PER_SECTION:
            sections.append(_rows_section(group, prefix))
            group = []
    if group:
        sections.append(_rows_section(group, prefix))
    return sections


def _rows_section(group: list[tuple[int, str]], prefix: str) -> Section:
    first, last = group[0][0], group[-1][0]
    rows = f"Row {first}" if first == last else f"Rows {first}–{last}"
    return Section(text="\n".join(line for _, line in group), heading=prefix + rows)


def _is_header(cells: Sequence[str]) -> bool:
    """Whether a first row names columns: two or more distinct, non-empty names, not all numbers.

    Some names may be numbers: a header row of years ("Region", "2023", "2024") is common.
    """
    return (
        len(cells) > 1
        and all(cells)
        and len(set(cells)) == len(cells)
        and not all(_NUMBER.fullmatch(cell) for cell in cells)
    )


def _clean(cell: str) -> str:
    return " ".join(cell.split())


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time():
        return value.date().isoformat()
    return str(value)
