"""OCR quality and speed: character error rate (CER) and pages per minute of knowledge/formats/ocr.py.

Pages are typeset from real text (tests/scans.py: Noto Sans CJK, 11 pt, A4, 20 mm margins): Chinese
from the DeepSeek guide in ../shared/corpus (Markdown marks removed), English from SciFact abstracts in
../shared/eval. Each is rendered at 150 and 300 dpi, clean, and degraded as a poor scan (turned 1.5°,
blurred, 2 % of pixels speckled). Every page goes through the same path as an uploaded image
(knowledge.formats.ocr: enlarged to 2,000 px when smaller, recognised, put in reading order, lines
joined into paragraphs) on OCR_THREADS threads (1, as the OCR worker runs; --threads to change).

CER = edit distance / characters of the text on the page, after Unicode NFKC on both sides; Chinese
ignores whitespace, English counts it (collapsed to single spaces), so words run together count.

    .venv/bin/python benchmarks/ocr.py [--pages 2] [--threads 1] [--json]
"""

import argparse
import json
import os
import re
import statistics
import sys
import time
import unicodedata
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT.parent / "shared" / "corpus" / "deepseek-r1-guide.zh.md"
SCIFACT = ROOT.parent / "shared" / "eval" / "scifact" / "corpus.jsonl"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
os.environ.setdefault("ENV_FILE", "")

import django  # noqa: E402

django.setup()

from machine import describe  # noqa: E402

from knowledge.formats import ocr  # noqa: E402
from tests.scans import degrade, typeset  # noqa: E402

SETTINGS = [(dpi, poor) for dpi in (300, 150) for poor in (False, True)]


def chinese_text() -> str:
    """The guide's prose: headings, bold and list marks dropped; code, tables and links left out."""
    kept, in_code = [], False
    for line in GUIDE.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or "|" in line or "](" in line or not re.search(r"[\u4e00-\u9fff]", line):
            continue
        kept.append(re.sub(r"^[#>\-*\d.\s]+|\*\*", "", line).strip())
    return "\n".join(line for line in kept if line)


def english_text() -> str:
    with SCIFACT.open() as lines:
        rows = [json.loads(line) for _, line in zip(range(40), lines, strict=False)]
    return "\n".join(row["text"] for row in rows if len(row["text"]) > 400)


def pages_of(text: str, count: int, dpi: int) -> list[tuple[object, str]]:
    """`count` pages in a row from the start of `text`, each with the text typeset on it."""
    pages = []
    rest = text
    for _ in range(count):
        image, lines = typeset(rest, dpi=dpi)
        pages.append((image, "\n".join(lines)))
        shown = sum(len(line) for line in lines)
        rest = rest[_offset_after(rest, shown) :]
    return pages


def _offset_after(text: str, visible: int) -> int:
    """Where the text continues after its first `visible` non-newline characters (lines lose the spaces
    they wrapped at, so count loosely and go to the next line start)."""
    seen = 0
    for index, char in enumerate(text):
        if char != "\n":
            seen += 1
        if seen >= visible:
            next_line = text.find("\n", index)
            return len(text) if next_line < 0 else next_line + 1
    return len(text)


def normalised(text: str, *, chinese: bool) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(text.split()) if chinese else " ".join(text.split())


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]


def measure(language: str, text: str, *, pages: int, threads: int) -> list[dict]:
    chinese = language == "zh"
    rows = []
    for dpi, poor in SETTINGS:
        errors = characters = 0
        seconds = []
        for number, (image, reference) in enumerate(pages_of(text, pages, dpi)):
            page = degrade(image, degrees=1.5, noise=0.02, seed=number) if poor else image
            started = time.perf_counter()
            read = ocr.page_text(ocr.recognise(page, threads=threads))
            seconds.append(time.perf_counter() - started)
            expected, got = normalised(reference, chinese=chinese), normalised(read, chinese=chinese)
            errors += edit_distance(expected, got)
            characters += len(expected)
        rows.append(
            {
                "language": language,
                "dpi": dpi,
                "scan": "degraded" if poor else "clean",
                "pages": pages,
                "characters": characters,
                "cer_percent": round(100 * errors / characters, 2),
                "seconds_per_page": round(statistics.mean(seconds), 2),
                "pages_per_minute": round(60 / statistics.mean(seconds), 1),
            }
        )
        print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=2, help="pages per language and setting")
    parser.add_argument("--threads", type=int, default=1, help="the engine's threads (OCR_THREADS)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    machine = describe(
        rapidocr_onnxruntime=version("rapidocr-onnxruntime"),
        onnxruntime=version("onnxruntime"),
        threads=str(args.threads),
    )
    started = time.perf_counter()
    ocr.engine(args.threads)
    loaded = time.perf_counter() - started
    rows = measure("zh", chinese_text(), pages=args.pages, threads=args.threads)
    rows += measure("en", english_text(), pages=args.pages, threads=args.threads)
    if args.json:
        print(
            json.dumps({"machine": machine, "engine_load_seconds": round(loaded, 2), "rows": rows}, indent=2)
        )
        return
    print(f"machine: {machine}; engine loaded in {loaded:.2f} s")
    print("| pages | dpi | scan | CER | s/page | pages/min |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['pages']} {row['language']} ({row['characters']:,} chars) "
            f"| {row['dpi']} | {row['scan']} "
            f"| {row['cer_percent']} % | {row['seconds_per_page']} | {row['pages_per_minute']} |"
        )


if __name__ == "__main__":
    main()
