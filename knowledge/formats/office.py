"""Word documents: paragraphs and tables in reading order, split into sections at headings."""

import re
from typing import IO

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from knowledge.formats.common import ExtractionError, Section, SectionBuilder
from knowledge.formats.tables import table_lines

# Built-in style names are stored in English whatever the language of Word; WPS and hand-made
# templates sometimes use the Chinese names ("标题 1") instead. The title ranks above "Heading 1".
_HEADING_STYLE = re.compile(r"(?:heading|标题)\s*([1-9])")
_TITLE_STYLES = ("title", "标题")


def extract_docx(file: IO[bytes]) -> list[Section]:
    try:
        document = docx.Document(file)
    except Exception as error:  # python-docx raises zip, XML, key and value errors on damaged input
        raise ExtractionError("The Word document could not be read (damaged or not a .docx).") from error
    builder = SectionBuilder()
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.block("\n".join(table_lines(_table_rows(block))))
            continue
        level = _heading_level(block)
        if level is None:
            builder.block(block.text)
        else:
            builder.heading(level, block.text)
    sections = builder.finish()
    if not sections:
        raise ExtractionError("The Word document contains no text.")
    return sections


def _heading_level(paragraph: Paragraph) -> int | None:
    name = (paragraph.style.name or "").strip().lower() if paragraph.style else ""
    if name in _TITLE_STYLES:
        return 0
    match = _HEADING_STYLE.fullmatch(name)
    return int(match.group(1)) if match else None


def _table_rows(table: Table) -> list[list[str]]:
    """Cell texts on the table's grid; a cell spanning several columns counts once, in its first."""
    rows = []
    for row in table.rows:
        cells = [""] * row.grid_cols_before
        previous = None
        for cell in row.cells:
            # python-docx repeats the same cell object for each column a merged cell spans.
            cells.append("" if cell is previous else cell.text)
            previous = cell
        rows.append(cells)
    return rows
