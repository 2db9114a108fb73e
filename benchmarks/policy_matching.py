"""Content policy matching speed: building the automaton of a word list, and scanning text with it.

5,000 terms, half Chinese and half English, generated from a fixed seed: Chinese terms are 2–4
characters drawn from the Chinese guide's own characters (so some occur in it, as real sensitive
words would), English terms one to three words of 3–9 letters. The text is the Chinese guide in
tests/data (about 14,000 characters). Measured:

- build: folding the terms and building the Aho–Corasick automaton (policy.matching.compile_list);
- scan: every term found in the whole guide at once (a question, a document passage), chars/s;
- stream: the guide fed through the answer screen (policy.streams.TextScreen) 3 characters at a time,
  as a model streams tokens, holding back and masking as in an answer, chars/s.

    .venv/bin/python benchmarks/policy_matching.py [--terms 5000] [--repeat 20] [--json]
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "tests" / "data" / "deepseek-r1-guide.zh.md"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
os.environ.setdefault("ENV_FILE", "")

import django  # noqa: E402

django.setup()

from machine import describe  # noqa: E402

from policy.matching import Matcher, compile_list  # noqa: E402
from policy.streams import TextScreen  # noqa: E402

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def generate_terms(count: int, text: str, seed: int = 15) -> list[str]:
    rng = random.Random(seed)
    chinese = sorted({char for char in text if "\u4e00" <= char <= "\u9fff"})
    terms: set[str] = set()
    while len(terms) < count:
        if len(terms) % 2:
            terms.add("".join(rng.choice(chinese) for _ in range(rng.randint(2, 4))))
        else:
            words = (
                "".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 9)))
                for _ in range(rng.randint(1, 3))
            )
            terms.add(" ".join(words))
    return sorted(terms)


def timed(work, repeat: int) -> tuple[float, object]:
    """The median seconds of `repeat` runs, and the last run's result."""
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def stream(matcher: Matcher, text: str) -> str:
    screen = TextScreen(matcher, [])
    shown = [screen.feed(text[i : i + 3]) for i in range(0, len(text), 3)]
    return "".join(shown) + screen.finish()


def measure(term_count: int, repeat: int) -> dict:
    text = GUIDE.read_text(encoding="utf-8")
    terms = generate_terms(term_count, text)
    build_s, compiled = timed(
        lambda: compile_list(list_id=1, version=(1, ""), name="bench", action="mask", terms=terms), repeat
    )
    matcher = Matcher([compiled])
    scan_s, hits = timed(lambda: matcher.find(text), repeat)
    stream_s, shown = timed(lambda: stream(matcher, text), max(1, repeat // 4))
    assert len(shown) == len(text)
    return {
        "machine": describe(pyahocorasick=version("pyahocorasick")),
        "terms": len(terms),
        "chinese_terms": sum(1 for t in terms if "\u4e00" <= t[0] <= "\u9fff"),
        "text_chars": len(text),
        "hits": len(hits),
        "build_ms": round(build_s * 1000, 1),
        "scan_ms": round(scan_s * 1000, 2),
        "scan_chars_per_s": round(len(text) / scan_s),
        "stream_ms": round(stream_s * 1000, 1),
        "stream_chars_per_s": round(len(text) / stream_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--terms", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.terms, args.repeat)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"machine: {result['machine']}")
    chinese, chars = result["chinese_terms"], result["text_chars"]
    print(f"{result['terms']:,} terms ({chinese:,} Chinese), text {chars:,} chars")
    print(f"build: {result['build_ms']} ms")
    print(f"scan:  {result['scan_ms']} ms, {result['scan_chars_per_s']:,} chars/s, {result['hits']} hits")
    print(f"stream (3 chars a piece): {result['stream_ms']} ms, {result['stream_chars_per_s']:,} chars/s")


if __name__ == "__main__":
    main()
