"""Scanned pages made from real text, for the OCR tests and benchmarks/ocr.py: the text set in Noto
Sans CJK on a white page (one or two columns), optionally degraded as a scanner degrades it, and
wrapped into PDFs that have no text layer."""

import io
import random
import unicodedata

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
MM_PER_INCH = 25.4


def _is_cjk(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def _pieces(text: str) -> list[str]:
    """What a line may break between: each Chinese character, each word with its following space."""
    pieces: list[str] = []
    for char in text:
        if pieces and not _is_cjk(char) and not _is_cjk(pieces[-1][-1]) and not pieces[-1].endswith(" "):
            pieces[-1] += char
        else:
            pieces.append(char)
    return pieces


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for piece in _pieces(paragraph):
            if line and font.getlength(line + piece) > width:
                lines.append(line.rstrip())
                line = piece.lstrip()
            else:
                line += piece
        lines.append(line.rstrip())
    return lines


def render_page(text: str | list[str], **layout: float) -> Image.Image:
    """A page of `text` (a list: one column each, side by side) as a scanner sees it (typeset)."""
    return typeset(text, **layout)[0]


def typeset(
    text: str | list[str],
    *,
    dpi: float = 150,
    width_mm: float = 210,
    height_mm: float = 297,
    point_size: float = 11,
    margin_mm: float = 20,
) -> tuple[Image.Image, list[str]]:
    """A page of `text` (a list: one column each, side by side) as a scanner at `dpi` sees it, and
    the lines on it in reading order; text that does not fit is cut at the page's foot."""
    pixels = dpi / MM_PER_INCH
    page = Image.new("L", (round(width_mm * pixels), round(height_mm * pixels)), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(CJK_FONT, round(point_size / 72 * dpi))
    columns = [text] if isinstance(text, str) else text
    margin, gap = margin_mm * pixels, 10 * pixels
    column_width = (page.width - 2 * margin - gap * (len(columns) - 1)) / len(columns)
    line_height = font.size * 1.6
    shown: list[str] = []
    for index, column in enumerate(columns):
        x = margin + index * (column_width + gap)
        for number, line in enumerate(wrap(column, font, column_width)):
            y = margin + number * line_height
            if y + line_height > page.height - margin:
                break
            draw.text((x, y), line, font=font, fill=0)
            shown.append(line)
    return page, shown


def degrade(page: Image.Image, *, degrees: float, noise: float, seed: int = 0) -> Image.Image:
    """The page as a poor scan: turned by `degrees`, blurred a little, speckled with `noise` (the share
    of pixels set to a random grey)."""
    turned = page.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    blurred = turned.filter(ImageFilter.GaussianBlur(0.6))
    rng = random.Random(seed)
    pixels = blurred.load()
    assert pixels is not None
    for _ in range(round(blurred.width * blurred.height * noise)):
        pixels[rng.randrange(blurred.width), rng.randrange(blurred.height)] = rng.randrange(256)
    return blurred


def scanned_pdf(pages: list[Image.Image | str], *, dpi: int = 150) -> bytes:
    """A PDF whose pages are the images as scanned (no text layer) and, for each string, a page of
    real text (a mixed document)."""
    pdf = FPDF(unit="mm")
    pdf.set_font("Helvetica", size=12)
    for page in pages:
        if isinstance(page, str):
            pdf.add_page()
            pdf.multi_cell(0, 8, page)
        else:
            width, height = (side / dpi * MM_PER_INCH for side in page.size)
            pdf.add_page(format=(width, height))
            pdf.image(page, x=0, y=0, w=width, h=height)
    return bytes(pdf.output())


def image_bytes(page: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    page.save(buffer, format=format, **options)
    return buffer.getvalue()
