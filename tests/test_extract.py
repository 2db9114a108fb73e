import re
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from knowledge.extract import PDF, ExtractionError, Section, detect_mime, extract_sections

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
ZH = "大模型不能只被老美独享。我们都知道，部署需要较高配置的硬件设备！"


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


def test_it_reads_utf8_text(tmp_path):
    path = write(tmp_path, "notes.txt", "Hello world.\n" + ZH)
    assert extract_sections(path, filename="notes.txt") == [Section(text="Hello world.\n" + ZH)]


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


def test_it_fails_clearly_on_an_unknown_encoding(tmp_path):
    path = write(tmp_path, "latin.txt", b"caf\xff au lait")
    with fails_with("encoding was not recognised"):
        extract_sections(path, filename="latin.txt")


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


def test_it_drops_markdown_sections_with_only_a_heading(tmp_path):
    path = write(tmp_path, "guide.markdown", "# 2、理论篇\n\n## 2.1 概述\n\n正文。\n")
    assert extract_sections(path, filename="guide.markdown") == [
        Section(text="## 2.1 概述\n\n正文。\n", heading="2、理论篇 > 2.1 概述")
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
    with fails_with("No extractable text; OCR is not enabled."):
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
