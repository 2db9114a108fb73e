import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from knowledge.extract import (
    DOCX,
    HTML,
    PDF,
    XLSX,
    ExtractionError,
    Section,
    detect_mime,
    extract_sections,
    is_zip,
)

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
ZH = "大模型不能只被老美独享。我们都知道，部署需要较高配置的硬件设备！"
ZH_TRADITIONAL = "大模型不能只被老美獨享。我們都知道，部署需要較高配置的硬體設備！"


def fails_with(message: str):
    return pytest.raises(ExtractionError, match=re.escape(message))


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def make_pdf(tmp_path: Path, pages: list[str], name: str = "doc.pdf") -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    path = tmp_path / name
    pdf.output(str(path))
    return path


def encrypt(path: Path, *, user_password: str, owner_password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(path))
    writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    encrypted = path.with_name("encrypted.pdf")
    writer.write(encrypted)
    return encrypted


def make_docx(tmp_path: Path, name: str = "handbook.docx") -> Path:
    document = docx.Document()
    document.add_heading("Handbook", level=0)
    document.add_paragraph("Read this first.")
    document.add_heading("部署", level=1)
    document.add_paragraph(ZH)
    table = document.add_table(rows=3, cols=2)
    for row, values in enumerate([("Name", "Role"), ("Alice", "Engineer"), ("张三", "工程师")]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    document.add_paragraph("After the table.")
    document.add_heading("硬件要求", level=2)
    document.add_paragraph("GPU。")
    document.save(str(tmp_path / name))
    return tmp_path / name


def make_xlsx(tmp_path: Path, name: str = "book.xlsx") -> Path:
    workbook = openpyxl.Workbook()
    staff = workbook.active
    staff.title = "员工"
    staff.append(["姓名", "入职日期", "薪资"])
    staff.append(["张三", datetime(2024, 3, 1), 12000.0])
    staff.append([])
    staff.append(["Alice", None, 9500.5])
    workbook.create_sheet("Empty")
    notes = workbook.create_sheet("Notes")
    notes.append(["Topic", "Detail"])
    notes.append(["GPU", "24 GB"])
    workbook.save(tmp_path / name)
    return tmp_path / name


def zip_bytes(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return buffer.getvalue()


def test_it_reads_utf8_text(tmp_path):
    path = write(tmp_path, "notes.txt", "Hello world.\n" + ZH)
    assert extract_sections(path, filename="notes.txt") == [Section(text="Hello world.\n" + ZH, start=0)]


def test_it_reads_gbk_chinese_text(tmp_path):
    path = write(tmp_path, "gbk.txt", ZH.encode("gbk"))
    assert extract_sections(path, filename="gbk.txt")[0].text == ZH


def test_it_reads_utf16_chinese_text_with_bom(tmp_path):
    path = write(tmp_path, "utf16.txt", ZH.encode("utf-16"))
    assert extract_sections(path, filename="utf16.txt")[0].text == ZH


def test_it_reads_utf8_with_bom(tmp_path):
    path = write(tmp_path, "bom.txt", "\ufeff".encode() + ZH.encode())
    assert extract_sections(path, filename="bom.txt")[0].text == ZH


def test_it_normalises_line_endings_and_drops_nuls(tmp_path):
    path = write(tmp_path, "crlf.txt", ("first line\r\nsecond\rthird\x00" + " and more" * 20).encode())
    text = extract_sections(path, filename="crlf.txt")[0].text
    assert text.startswith("first line\nsecond\nthird and more")
    assert "\r" not in text and "\x00" not in text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("text", ["Hello 你好\n" + ZH, ZH + ZH])
def test_it_reads_utf16_text_without_bom(tmp_path, encoding, text):
    path = write(tmp_path, "utf16.txt", text.encode(encoding))
    assert extract_sections(path, filename="utf16.txt")[0].text == text


def test_it_reads_big5_text(tmp_path):
    path = write(tmp_path, "big5.txt", ZH_TRADITIONAL.encode("big5"))
    assert extract_sections(path, filename="big5.txt")[0].text == ZH_TRADITIONAL


def test_it_reads_western_text_in_cp1252(tmp_path):
    text = "Café au lait, crème brûlée et naïveté."
    path = write(tmp_path, "latin.txt", text.encode("cp1252"))
    assert extract_sections(path, filename="latin.txt")[0].text == text


def test_it_fails_clearly_on_an_unknown_encoding(tmp_path):
    path = write(tmp_path, "odd.txt", b"abc \x81\x8d\x8f\x90\x9d")
    with fails_with("encoding was not recognised"):
        extract_sections(path, filename="odd.txt")


def test_it_splits_markdown_on_nested_headings(tmp_path):
    markdown = (
        "Preamble.\n\n# 部署\n\nIntro.\n\n## 硬件要求\n\nGPU。\n\n### 显存 ##\n\n24 GB.\n\n"
        "## 软件\n\n```python\n# not a heading\n```\n\n# Usage\n\nRun it.\n"
    )
    sections = extract_sections(write(tmp_path, "guide.md", markdown), filename="guide.md")
    assert [s.heading for s in sections] == [
        "",
        "部署",
        "部署 > 硬件要求",
        "部署 > 硬件要求 > 显存",
        "部署 > 软件",
        "Usage",
    ]
    assert sections[2].text == "## 硬件要求\n\nGPU。\n\n"
    assert "# not a heading" in sections[4].text


def test_it_ends_a_code_block_only_at_a_bare_fence(tmp_path):
    markdown = "# Setup\n\n```\n```python\n# inside the block\n```\n\n# Usage\n\nRun it.\n"
    sections = extract_sections(write(tmp_path, "guide.md", markdown), filename="guide.md")
    assert [s.heading for s in sections] == ["Setup", "Usage"]
    assert "# inside the block" in sections[0].text


def test_it_drops_markdown_sections_with_only_a_heading(tmp_path):
    path = write(tmp_path, "guide.markdown", "# 2、理论篇\n\n## 2.1 概述\n\n正文。\n")
    assert extract_sections(path, filename="guide.markdown") == [
        Section(text="## 2.1 概述\n\n正文。\n", heading="2、理论篇 > 2.1 概述", start=len("# 2、理论篇\n\n"))
    ]


def test_it_reads_pdf_pages_with_page_numbers(tmp_path):
    path = make_pdf(tmp_path, ["The first page talks about GPUs.", "The second page covers memory."])
    sections = extract_sections(path, filename="doc.pdf")
    assert [s.page for s in sections] == [1, 2]
    assert "first page talks about GPUs" in sections[0].text
    assert "second page covers memory" in sections[1].text


@pytest.mark.skipif(not CJK_FONT.exists(), reason="no CJK font installed")
def test_it_reads_chinese_pdf_text(tmp_path):
    pdf = FPDF()
    pdf.add_font("noto", fname=str(CJK_FONT), collection_font_number=2)
    pdf.set_font("noto", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, ZH)
    pdf.output(str(tmp_path / "zh.pdf"))
    assert extract_sections(tmp_path / "zh.pdf", filename="zh.pdf")[0].text.replace("\n", "") == ZH


EN_PARAGRAPH = (
    "The retrieval pipeline embeds every passage in batches of sixty-four before it writes them to the "
    "index, so a large upload takes a few minutes on a small server with two cores."
)
ZH_PARAGRAPH = ZH * 3


def pdf_with(tmp_path: Path, *blocks: tuple[str, int, str]) -> list[str]:
    """The paragraphs read from a one-page PDF of (font, size, text) blocks, each a paragraph apart."""
    pdf = FPDF()
    pdf.add_font("noto", fname=str(CJK_FONT), collection_font_number=2)
    pdf.add_page()
    for font, size, text in blocks:
        pdf.set_font(font, size=size)
        pdf.multi_cell(0, size * 0.6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(size * 0.4)
    pdf.output(str(tmp_path / "doc.pdf"))
    return extract_sections(tmp_path / "doc.pdf", filename="doc.pdf")[0].text.split("\n\n")


def test_it_joins_the_lines_of_a_pdf_paragraph_and_keeps_its_heading(tmp_path):
    paragraphs = pdf_with(
        tmp_path, ("Helvetica", 18, "Deployment"), ("Helvetica", 12, EN_PARAGRAPH), ("noto", 12, ZH_PARAGRAPH)
    )
    assert paragraphs == ["Deployment", EN_PARAGRAPH, ZH_PARAGRAPH]


def test_it_keeps_pdf_list_items_and_short_lines_apart(tmp_path):
    items = "Bring these:\n- a laptop with the client installed\n- the access card\n1. Sign in at reception"
    assert pdf_with(tmp_path, ("Helvetica", 12, items)) == [items]


def test_it_rejoins_a_word_hyphenated_at_a_pdf_line_end_only_when_the_page_has_it_whole(tmp_path):
    lines = (
        "The server reads its configuration when it starts and the con-\n"
        "figuration of the index when the first question arrives; a well-\n"
        "known problem is that both wait for the model to load first."
    )
    [paragraph] = pdf_with(tmp_path, ("Helvetica", 12, lines))
    assert paragraph == (
        "The server reads its configuration when it starts and the configuration of the index when the "
        "first question arrives; a well-known problem is that both wait for the model to load first."
    )


def test_it_skips_blank_pdf_pages(tmp_path):
    path = make_pdf(tmp_path, ["Cover text.", "", "Last page."])
    assert [s.page for s in extract_sections(path, filename="doc.pdf")] == [1, 3]


def test_it_rejects_encrypted_pdf(tmp_path):
    path = encrypt(make_pdf(tmp_path, ["Secret."]), user_password="secret", owner_password="owner")
    with fails_with("The PDF is encrypted; upload a copy without a password."):
        extract_sections(path, filename="encrypted.pdf")


def test_it_reads_pdf_encrypted_only_against_editing(tmp_path):
    path = encrypt(make_pdf(tmp_path, ["Readable."]), user_password="", owner_password="owner")
    assert "Readable." in extract_sections(path, filename="encrypted.pdf")[0].text


def test_it_rejects_corrupt_pdf(tmp_path):
    data = make_pdf(tmp_path, ["Some text."]).read_bytes()
    path = write(tmp_path, "broken.pdf", data[:200])
    with fails_with("The PDF could not be read (damaged or not a PDF)."):
        extract_sections(path, filename="broken.pdf")


def test_it_rejects_pdf_without_text(tmp_path):
    path = make_pdf(tmp_path, [""])
    with fails_with("No extractable text."):
        extract_sections(path, filename="doc.pdf")


def test_it_rejects_empty_file(tmp_path):
    with fails_with("The file is empty."):
        extract_sections(write(tmp_path, "empty.txt", b""), filename="empty.txt")


def test_it_rejects_whitespace_only_file(tmp_path):
    with fails_with("The file contains no text."):
        extract_sections(write(tmp_path, "blank.md", " \n\t\u3000\n"), filename="blank.md")


def test_it_rejects_binary_file_named_txt(tmp_path):
    path = write(tmp_path, "data.txt", bytes(range(256)) * 4)
    with fails_with("Unsupported file type: data.txt is binary data"):
        detect_mime(path, "data.txt")


def test_it_rejects_png_named_pdf(tmp_path):
    path = write(tmp_path, "scan.pdf", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    with fails_with("Unsupported file type: scan.pdf is a PNG image, not a PDF."):
        extract_sections(path, filename="scan.pdf")


def test_it_rejects_unsupported_extension(tmp_path):
    with fails_with("Unsupported file type: .exe"):
        detect_mime(write(tmp_path, "tool.exe", "MZ"), "tool.exe")


def test_it_detects_pdf_by_content(tmp_path):
    path = make_pdf(tmp_path, ["Misnamed."], name="report.txt")
    assert detect_mime(path, "report.txt") == PDF


def test_it_reads_docx_in_reading_order_with_heading_paths(tmp_path):
    assert extract_sections(make_docx(tmp_path), filename="handbook.docx") == [
        Section(text="Handbook\n\nRead this first.", heading="Handbook"),
        Section(
            text=f"部署\n\n{ZH}\n\nName: Alice; Role: Engineer\nName: 张三; Role: 工程师\n\nAfter the table.",
            heading="Handbook > 部署",
        ),
        Section(text="硬件要求\n\nGPU。", heading="Handbook > 部署 > 硬件要求"),
    ]


def test_it_reads_docx_table_without_header_as_cells(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "季度 summary"
    for column, value in enumerate(["1", "", "3"]):
        table.cell(1, column).text = value
    document.save(str(tmp_path / "t.docx"))
    assert extract_sections(tmp_path / "t.docx", filename="t.docx")[0].text == "季度 summary\n1 | 3"


@pytest.mark.parametrize(
    "content",
    [b"PK\x03\x04 truncated", b"just some text, not a zip", zip_bytes({"[Content_Types].xml": "<Types/>"})],
    ids=["truncated", "not a zip", "no document part"],
)
def test_it_rejects_corrupt_docx(tmp_path, content):
    with fails_with("The Word document could not be read (damaged or not a .docx)."):
        extract_sections(write(tmp_path, "broken.docx", content), filename="broken.docx")


def test_it_tells_office_files_apart_by_content(tmp_path):
    assert detect_mime(make_docx(tmp_path, "report.txt"), "report.txt") == DOCX
    assert detect_mime(make_xlsx(tmp_path, "sheet.docx"), "sheet.docx") == XLSX


def test_it_rejects_plain_zip(tmp_path):
    path = write(tmp_path, "bundle.docx", zip_bytes({"readme.txt": "hello"}))
    assert is_zip(path) and not is_zip(make_docx(tmp_path))
    with fails_with("Unsupported file type: bundle.docx is a ZIP archive, not a Word document."):
        extract_sections(path, filename="bundle.docx")


def test_it_rejects_png_named_docx(tmp_path):
    path = write(tmp_path, "scan.docx", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    with fails_with("Unsupported file type: scan.docx is a PNG image, not a Word document."):
        extract_sections(path, filename="scan.docx")


def test_it_reads_only_the_main_text_of_a_web_page(tmp_path):
    page = """<!DOCTYPE html><html><head><title>站点</title><style>p {color: red}</style></head><body>
    <header>网站首页</header><nav><a href="/">Home</a></nav><div role="navigation">面包屑</div>
    <main><h1>部署指南</h1><p>大模型<b>不能</b>只被
    老美独享。</p><script>track("view")</script>
    <h2>硬件要求</h2><ul><li>GPU</li><li>显存 24 GB</li></ul>
    <table><tr><th>Name</th><th>Role</th></tr><tr><td>Alice</td><td>Engineer</td></tr></table>
    <aside>Related posts</aside><form>Search <input></form></main>
    <footer>© 2025</footer><noscript>Enable JS</noscript></body></html>"""
    assert extract_sections(write(tmp_path, "guide.html", page), filename="guide.html") == [
        Section(text="部署指南\n\n大模型不能只被老美独享。", heading="部署指南"),
        Section(
            text="硬件要求\n\nGPU\n显存 24 GB\n\nName: Alice; Role: Engineer", heading="部署指南 > 硬件要求"
        ),
    ]


def test_it_reads_the_article_with_its_own_header(tmp_path):
    page = "<body><div>Sidebar links</div><article><header><h1>Release notes</h1></header><p>v2 is out.</p>"
    assert extract_sections(write(tmp_path, "notes.htm", page), filename="notes.htm") == [
        Section(text="Release notes\n\nv2 is out.", heading="Release notes")
    ]


def test_it_reads_gbk_web_page_declared_in_meta(tmp_path):
    page = f'<html><head><meta charset="gbk"><title>标题</title></head><body><p>{ZH}</p></body></html>'
    path = write(tmp_path, "gbk.html", page.encode("gbk"))
    assert extract_sections(path, filename="gbk.html") == [Section(text=ZH)]


def test_it_detects_html_by_content(tmp_path):
    path = write(
        tmp_path, "saved.txt", "<!-- saved from url=(0014)about:internet -->\n<!DOCTYPE html><p>Hi</p>"
    )
    assert detect_mime(path, "saved.txt") == HTML


def test_it_reads_csv_rows_as_column_value_lines(tmp_path):
    path = write(tmp_path, "staff.csv", 'Name,Role,Notes\nAlice,Engineer,\n张三,工程师,"负责部署, 运维"\n')
    assert extract_sections(path, filename="staff.csv") == [
        Section(
            text="Name: Alice; Role: Engineer\nName: 张三; Role: 工程师; Notes: 负责部署, 运维",
            heading="Rows 2–3",
        )
    ]


def test_it_reads_gbk_csv_with_chinese_headers(tmp_path):
    path = write(tmp_path, "gbk.csv", "姓名,部门\n张三,研发部\n李四,市场部\n".encode("gbk"))
    assert (
        extract_sections(path, filename="gbk.csv")[0].text
        == "姓名: 张三; 部门: 研发部\n姓名: 李四; 部门: 市场部"
    )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("semicolons.csv", 'Name;City\nAlice;"Paris, France"\nBob;Berlin\n'),
        ("tabs.tsv", "Name\tCity\nAlice\tParis, France\nBob\tBerlin\n"),
    ],
)
def test_it_reads_other_delimiters(tmp_path, name, content):
    path = write(tmp_path, name, content)
    assert (
        extract_sections(path, filename=name)[0].text
        == "Name: Alice; City: Paris, France\nName: Bob; City: Berlin"
    )


def test_it_groups_rows_in_sections_with_spreadsheet_row_numbers(tmp_path):
    rows = [f"item {number},{number}" for number in range(2, 122)]
    rows[10] = ","  # row 12 is empty
    path = write(tmp_path, "items.csv", "Item,Count\n" + "\n".join(rows))
    sections = extract_sections(path, filename="items.csv")
    assert [s.heading for s in sections] == ["Rows 2–52", "Rows 53–102", "Rows 103–121"]
    assert sections[0].text.splitlines()[:2] == ["Item: item 2; Count: 2", "Item: item 3; Count: 3"]


def test_it_rejects_csv_without_data_rows(tmp_path):
    with fails_with("The table has no rows of data below its header."):
        extract_sections(write(tmp_path, "header.csv", "Name,Role\n,\n"), filename="header.csv")


def test_it_reads_xlsx_sheets_with_row_numbers(tmp_path):
    assert extract_sections(make_xlsx(tmp_path), filename="book.xlsx") == [
        Section(
            text="姓名: 张三; 入职日期: 2024-03-01; 薪资: 12000\n姓名: Alice; 薪资: 9500.5",
            heading="员工 > Rows 2–4",
        ),
        Section(text="Topic: GPU; Detail: 24 GB", heading="Notes > Row 2"),
    ]


@pytest.mark.parametrize("content", [b"PK\x03\x04 truncated", b"just some text, not a zip"])
def test_it_rejects_corrupt_xlsx(tmp_path, content):
    with fails_with("The Excel workbook could not be read (damaged or not an .xlsx)."):
        extract_sections(write(tmp_path, "broken.xlsx", content), filename="broken.xlsx")


def test_it_asks_for_xlsx_instead_of_xls(tmp_path):
    path = write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    with fails_with("Save the workbook as .xlsx"):
        extract_sections(path, filename="old.xls")
