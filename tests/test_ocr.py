"""Reading scans: scanned PDFs (mixed ones too) and images through the OCR engine, on pages rendered
from real text (tests/scans.py); the engine loads once per process, at its first page."""

import io
import re
import struct
import zlib
from difflib import SequenceMatcher

import pytest
from PIL import Image

from knowledge.extract import ExtractionError, NeedsOcr, ScanReader, Section, extract_sections_of_file
from knowledge.formats.ocr import TextBox, page_text, reading_order
from tests.scans import image_bytes, render_page, scanned_pdf

ZH = "大模型本身是部署在云端，用户可以通过网络调用云端大模型相关的接口。"
EN = "Scanned contracts are searchable once their pages are read."
TEXT_PAGE = "Vacation days are counted per calendar year."


def small_page(text: str | list[str], width_mm: float = 150) -> Image.Image:
    return render_page(text, dpi=150, width_mm=width_mm, height_mm=45, point_size=12, margin_mm=8)


def read(data: bytes, name: str, reader: ScanReader | None = None) -> list[Section]:
    return extract_sections_of_file(
        io.BytesIO(data), filename=name, scans=reader or ScanReader(max_pages=5, max_pixels=10**8)
    )


def close_to(expected: str, text: str) -> bool:
    """Recognised with at most one character in twenty wrong (spaces aside)."""
    return SequenceMatcher(None, "".join(expected.split()), "".join(text.split())).ratio() >= 0.95


@pytest.fixture(scope="module")
def mixed_pdf() -> bytes:
    """Page 1 has a text layer, page 2 is a scan of Chinese, page 3 a scan of English."""
    return scanned_pdf([TEXT_PAGE, small_page(ZH), small_page(EN)])


def test_it_reads_a_mixed_pdf_keeping_page_numbers(mixed_pdf):
    progress: list[tuple[int, int]] = []
    reader = ScanReader(max_pages=5, max_pixels=10**8, on_page=lambda *step: progress.append(step))
    sections = read(mixed_pdf, "mixed.pdf", reader)
    assert [section.page for section in sections] == [1, 2, 3]
    assert sections[0].text == TEXT_PAGE
    assert close_to(ZH, sections[1].text)
    assert sections[2].text == EN
    assert progress == [(0, 2), (1, 2), (2, 2)]  # the scanned pages only


def test_with_ocr_off_a_mixed_pdf_keeps_its_text_pages(mixed_pdf):
    sections = extract_sections_of_file(io.BytesIO(mixed_pdf), filename="mixed.pdf", scans=None)
    assert [(section.page, section.text) for section in sections] == [(1, TEXT_PAGE)]


def test_with_ocr_off_a_scanned_pdf_fails_naming_the_switch():
    with pytest.raises(NeedsOcr, match=r"the PDF is scanned.*“Read scans \(OCR\)”"):
        extract_sections_of_file(io.BytesIO(scanned_pdf([small_page(EN)])), filename="scan.pdf")


def test_with_ocr_off_an_image_fails_naming_the_switch():
    with pytest.raises(NeedsOcr, match=re.escape("“Read scans (OCR)”")):
        extract_sections_of_file(io.BytesIO(image_bytes(small_page(EN), "PNG")), filename="scan.png")


def test_a_blank_page_is_not_taken_for_a_scan():
    sections = extract_sections_of_file(io.BytesIO(scanned_pdf([TEXT_PAGE, ""])), filename="two.pdf")
    assert [section.page for section in sections] == [1]


@pytest.mark.parametrize(
    ("name", "format", "options"),
    [("scan.png", "PNG", {}), ("photo.jpg", "JPEG", {"quality": 85}), ("scan.webp", "WEBP", {"quality": 90})],
)
def test_it_reads_images(name, format, options):
    (section,) = read(image_bytes(small_page(EN), format, **options), name)
    assert section.text == EN
    assert section.page is None


def test_it_reads_each_page_of_a_tiff_with_its_number():
    first, second = small_page(EN), small_page(ZH)
    data = image_bytes(first, "TIFF", save_all=True, append_images=[second], compression="tiff_deflate")
    sections = read(data, "fax.tiff")
    assert [section.page for section in sections] == [1, 2]
    assert close_to(ZH, sections[1].text)


def test_it_reads_two_columns_one_after_the_other():
    left = "The left column comes first. It holds the opening of the report."
    right = "The right column comes second. It holds the end."
    (section,) = read(image_bytes(small_page([left, right], width_mm=190), "PNG"), "columns.png")
    assert section.text.index("opening") < section.text.index("right column")
    assert "report" in section.text.split("The right")[0]


def test_reading_order_finds_columns_under_a_title_that_spans_them():
    boxes = [
        TextBox("Title over both", 10, 0, 390, 20),
        TextBox("right one", 210, 40, 390, 60),
        TextBox("left one", 10, 40, 190, 60),
        TextBox("left two", 10, 70, 190, 90),
        TextBox("right two", 210, 70, 390, 90),
        TextBox("Footer over both", 10, 120, 390, 140),
    ]
    order = [" ".join(box.text for box in line) for line in reading_order(boxes)]
    assert order == ["Title over both", "left one", "left two", "right one", "right two", "Footer over both"]


def test_reading_order_keeps_a_row_of_words_together_in_one_column():
    boxes = [TextBox("world", 120, 2, 200, 22), TextBox("hello", 10, 0, 100, 20)]
    assert page_text(boxes) == "hello world"


def test_it_refuses_an_image_over_the_pixel_limit_naming_the_setting():
    data = image_bytes(small_page(EN), "PNG")
    with pytest.raises(
        ExtractionError, match=r"limit of 1,000 \(setting OCR_MAX_PIXELS\)\. This one is 886 × 266"
    ):
        read(data, "scan.png", ScanReader(max_pages=5, max_pixels=1000))


def test_it_refuses_a_decompression_bomb_before_decoding_it():
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 200_000, 200_000, 1, 0, 0, 0, 0)  # 40 gigapixels, 1 bit each
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(ExtractionError, match="setting OCR_MAX_PIXELS"):
        read(bomb, "bomb.png")


def test_it_refuses_more_scanned_pages_than_the_limit(mixed_pdf):
    with pytest.raises(
        ExtractionError, match=re.escape("2 pages to read by OCR; the limit is 1 (setting OCR_MAX_PAGES)")
    ):
        read(mixed_pdf, "mixed.pdf", ScanReader(max_pages=1, max_pixels=10**8))


def test_a_file_named_as_an_image_that_is_not_one_is_refused():
    with pytest.raises(ExtractionError, match=re.escape("scan.png is text, not an image")):
        read(b"just some text", "scan.png")
