"""Text of scanned pages and images, read by optical character recognition (OCR).

The engine is RapidOCR: PaddleOCR's PP-OCR models (Chinese and English) on onnxruntime, on the CPU,
shipped inside the `rapidocr-onnxruntime` wheel, so nothing is downloaded. It is loaded once per
process, at the first page it reads, never where no scan is read (the web server, the text workers).

A page's recognised lines are put in reading order (``reading_order``: columns found from the gaps
between the lines, each read top to bottom) and joined into paragraphs as a PDF's text lines are
(``pdf_lines.reflow``). Work is bounded: pages per file (OCR_MAX_PAGES) and pixels per image
(OCR_MAX_PIXELS, checked from the header before anything is decoded); a PDF page is rendered no
larger than the engine reads (RENDER_SIDE), so a page costs about the same whatever its size.
"""

import io
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol

import numpy as np
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from knowledge.formats.common import ExtractionError, NeedsOcr, Section
from knowledge.formats.pdf_lines import Line, reflow

if TYPE_CHECKING:
    from rapidocr_onnxruntime import RapidOCR

# The longest side of a rendered PDF page: RapidOCR shrinks anything larger to 2,000 pixels before it
# looks, so rendering more only costs time. At 2,000 pixels an A4 page is about 170 dpi.
RENDER_SIDE = 2000
IMAGE_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "TIFF": "TIFF", "WEBP": "WebP"}
# A column gutter is at least this many times the median line height wide.
_GUTTER_LINE_HEIGHTS = 1.0
# Lines wider than this share of the region span columns (titles, full-width paragraphs).
_SPANNING_SHARE = 0.6

_engines: dict[int, "RapidOCR"] = {}
_engines_lock = threading.Lock()


def engine(threads: int) -> "RapidOCR":
    """This process's OCR engine, loaded at the first call (about half a second)."""
    with _engines_lock:
        if threads not in _engines:
            from rapidocr_onnxruntime import RapidOCR  # onnxruntime and OpenCV: only where scans are read

            # Without the angle classifier: it took whole English lines for upside-down ones (a fifth
            # of an English page's characters wrong, benchmarks/ocr.py) and cost half the time.
            _engines[threads] = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, use_cls=False)
        return _engines[threads]


@dataclass(frozen=True)
class TextBox:
    """One line of text the engine recognised, with its bounds in pixels (y grows downwards)."""

    text: str
    left: float
    top: float
    right: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


def reading_order(boxes: list[TextBox]) -> list[list[TextBox]]:
    """The boxes as the lines a person reads, in order: columns left to right, each top to bottom.

    A column gutter is an empty vertical band between the boxes, at least a line height wide, with
    boxes on both sides; boxes crossing it (a title over both columns) cut the page into bands read
    one after the other. Each column is split again the same way, so three columns read as three.
    """
    if not boxes:
        return []
    height = statistics.median(box.height for box in boxes)
    gutter = _gutter(boxes, height)
    if gutter is None:
        return _rows(boxes, height)
    lines: list[list[TextBox]] = []
    band: list[TextBox] = []
    for box in sorted(boxes, key=lambda box: box.top):
        if box.left < gutter < box.right:
            lines += _columns(band, gutter)
            lines.append([box])
            band = []
        else:
            band.append(box)
    return lines + _columns(band, gutter)


def _columns(band: list[TextBox], gutter: float) -> list[list[TextBox]]:
    left = [box for box in band if box.right <= gutter]
    right = [box for box in band if box.left >= gutter]
    return reading_order(left) + reading_order(right)


def _gutter(boxes: list[TextBox], height: float) -> float | None:
    """The middle of the widest empty vertical band between boxes (those not spanning the region),
    if it is wide enough and has at least two boxes on each side; None for a single column."""
    start, end = min(box.left for box in boxes), max(box.right for box in boxes)
    narrow = [box for box in boxes if box.right - box.left < (end - start) * _SPANNING_SHARE]
    best: tuple[float, float] | None = None
    ordered = sorted(narrow, key=lambda box: box.left)
    reach = ordered[0].right if ordered else end
    for box in ordered[1:]:
        wide = box.left - reach >= height * _GUTTER_LINE_HEIGHTS
        if wide and (best is None or box.left - reach > best[1] - best[0]):
            best = (reach, box.left)
        reach = max(reach, box.right)
    if best is None:
        return None
    middle = (best[0] + best[1]) / 2
    if min(sum(box.right <= middle for box in narrow), sum(box.left >= middle for box in narrow)) < 2:
        return None
    return middle


def _rows(boxes: list[TextBox], height: float) -> list[list[TextBox]]:
    """Boxes top to bottom; those whose middles are within half a line of each other form one row,
    read left to right."""
    rows: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda box: box.middle):
        if rows and abs(box.middle - rows[-1][0].middle) <= height / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [sorted(row, key=lambda box: box.left) for row in rows]


def page_text(boxes: list[TextBox]) -> str:
    """The page's text in reading order, its lines joined into paragraphs."""
    lines = reading_order(boxes)
    if not lines:
        return ""
    height = statistics.median(box.height for box in boxes)
    # Box heights vary with the letters (ascenders, descenders): only clearly taller lines are headings.
    return reflow(
        [
            Line(
                text=" ".join(box.text for box in line),
                y=-line[0].top,
                size=max(line[0].height, height) if line[0].height > height * 1.3 else height,
            )
            for line in lines
        ]
    )


def recognise(image: Image.Image, *, threads: int) -> list[TextBox]:
    """The lines of text on the image. A smaller image is enlarged to RENDER_SIDE first: the engine
    misses the spaces between English words set small (a 150 dpi scan), and finds them enlarged."""
    scale = RENDER_SIDE / max(image.size)
    if scale > 1:
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.BICUBIC)
    result, _elapsed = engine(threads)(np.asarray(image.convert("RGB")))
    boxes = []
    for corners, text, _score in result or []:
        xs, ys = [point[0] for point in corners], [point[1] for point in corners]
        if text.strip():
            boxes.append(TextBox(text.strip(), min(xs), min(ys), max(xs), max(ys)))
    return boxes


def _ignore_progress(done: int, total: int) -> None:
    pass


class Scans(Protocol):
    """What the extractors do with pages that have no text: read them, or say they need OCR."""

    def read_pdf_pages(self, file: IO[bytes], numbers: list[int]) -> dict[int, str]: ...

    def read_image(self, file: IO[bytes]) -> list[Section]: ...


class HandOff:
    """Scans are read elsewhere (the OCR worker): meeting one stops the reading with NeedsOcr."""

    def read_pdf_pages(self, file: IO[bytes], numbers: list[int]) -> dict[int, str]:
        raise NeedsOcr(_("The PDF has scanned pages; they are read by the OCR worker."))

    def read_image(self, file: IO[bytes]) -> list[Section]:
        raise NeedsOcr(_("Images are read by the OCR worker."))


@dataclass
class ScanReader:
    """Reads scans here, within the limits; on_page(done, total) after each page (progress, heartbeat)."""

    max_pages: int  # OCR_MAX_PAGES
    max_pixels: int  # OCR_MAX_PIXELS
    threads: int = 1  # OCR_THREADS
    on_page: Callable[[int, int], None] = field(default=_ignore_progress)

    def read_pdf_pages(self, file: IO[bytes], numbers: list[int]) -> dict[int, str]:
        import pypdfium2

        self._check_count(len(numbers))
        file.seek(0)
        document = pypdfium2.PdfDocument(file.read())
        texts = {}
        try:
            self.on_page(0, len(numbers))
            for done, number in enumerate(numbers, start=1):
                page = document[number - 1]
                width, height = page.get_size()
                scale = RENDER_SIDE / max(width, height, 1)
                image = page.render(scale=scale, grayscale=True).to_pil()
                texts[number] = page_text(recognise(image, threads=self.threads))
                self.on_page(done, len(numbers))
        finally:
            document.close()
        return texts

    def read_image(self, file: IO[bytes]) -> list[Section]:
        image = _open_image(file, self.max_pixels)
        frames = getattr(image, "n_frames", 1)
        self._check_count(frames)
        sections = []
        self.on_page(0, frames)
        for number in range(frames):
            image.seek(number)
            _check_pixels(image, self.max_pixels)
            frame = ImageOps.exif_transpose(image) if frames == 1 else image
            text = page_text(recognise(frame, threads=self.threads))
            if text.strip():
                sections.append(Section(text=text, page=number + 1 if frames > 1 else None))
            self.on_page(number + 1, frames)
        if not sections:
            raise ExtractionError(_("No text was recognised in the image."))
        return sections

    def _check_count(self, count: int) -> None:
        if count > self.max_pages:
            raise ExtractionError(
                _(
                    "The file has %(count)s pages to read by OCR; the limit is %(limit)s "
                    "(setting OCR_MAX_PAGES)."
                )
                % {"count": f"{count:,}", "limit": f"{self.max_pages:,}"}
            )


def _open_image(file: IO[bytes], max_pixels: int) -> Image.Image:
    file.seek(0)
    data = io.BytesIO(file.read())
    try:
        image = Image.open(data, formats=list(IMAGE_FORMATS))
    except Image.DecompressionBombError as error:
        raise ExtractionError(_too_many_pixels_reason(max_pixels)) from error
    except Exception as error:  # Pillow raises many exception types on damaged input
        raise ExtractionError(_("The image could not be read (damaged or not an image).")) from error
    _check_pixels(image, max_pixels)
    return image


def _check_pixels(image: Any, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise ExtractionError(
            _too_many_pixels_reason(max_pixels)
            + " "
            + _("This one is %(width)s × %(height)s.") % {"width": f"{width:,}", "height": f"{height:,}"}
        )


def _too_many_pixels_reason(max_pixels: int) -> str:
    return _("The image has more pixels than the limit of %(limit)s (setting OCR_MAX_PIXELS).") % {
        "limit": f"{max_pixels:,}"
    }
