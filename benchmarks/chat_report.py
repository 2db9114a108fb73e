"""The figures and the printed report of benchmarks/concurrent_chat.py: percentiles of the streams'
timings, the exceptions in the server log, and the goal."""

import re
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
from chat_load import Stream
from report import print_section

EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b")


def summary(values: list[float | None]) -> dict:
    present = np.asarray([value for value in values if value is not None], dtype=float)
    if not len(present):
        return {"p50": None, "p95": None, "max": None, "n": 0}
    return {
        "p50": round(float(np.percentile(present, 50)), 1),
        "p95": round(float(np.percentile(present, 95)), 1),
        "max": round(float(present.max()), 1),
        "n": len(present),
    }


def stream_figures(streams: list[Stream], wall_s: float) -> dict:
    errors = [stream.error for stream in streams if stream.error]
    starts = [stream.started for stream in streams]
    return {
        "first_event_ms": summary([stream.ms(stream.first_event) for stream in streams]),
        "first_reasoning_ms": summary([stream.ms(stream.first_reasoning) for stream in streams]),
        "first_content_ms": summary([stream.ms(stream.first_content) for stream in streams]),
        "total_ms": summary([stream.ms(stream.finished) for stream in streams]),
        "tokens_per_s_per_stream": summary([stream.tokens_per_second() for stream in streams]),
        "tokens": summary([stream.tokens for stream in streams]),
        "tokens_per_s_all_streams": round(sum(stream.tokens for stream in streams) / wall_s),
        "text_events": summary([stream.events for stream in streams]),
        "complete": sum(stream.status == "complete" for stream in streams),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "launched_within_ms": round((max(starts) - min(starts)) * 1000, 1),
        "wall_s": round(wall_s, 1),
    }


def goal(result: dict) -> dict:
    app, upstream = result["app"]["first_reasoning_ms"], result["upstream"]["first_reasoning_ms"]
    over = {q: round(app[q] - upstream[q], 1) if app[q] is not None else None for q in ("p50", "p95")}
    streams, saved = result["settings"]["streams"], result["saved"]
    return {
        "first_token_over_upstream_ms": over,
        "no_errors": result["app"]["errors"] == 0,
        "every_answer_saved": saved["whole_answer"] == saved["whole_reasoning"] == streams,
        "met": (
            result["app"]["errors"] == 0
            and saved["whole_answer"] == streams
            and over["p95"] is not None
            and over["p95"] <= 100
        ),
    }


def print_report(result: dict) -> None:
    section = partial(print_section, width=34)

    section("Machine", result["machine"])
    section("Settings", result["settings"])
    section("Upstream alone: the same streams straight to the test upstream", result["upstream"])
    section("Through the app: at the browser", result["app"])
    section("In the database", result["saved"])
    for name, figures in result["processes"].items():
        section(f"Process during the app run: {name}", figures)
    section("Server log", result["server_log"])
    section("Goal: browser's first reasoning event at most 100 ms (p95) over the upstream's", result["goal"])
    print(f"\nTotal {result['total_s']} s; load average {result['load_average_end']} at the end.")


def server_log(path: Path) -> dict:
    """The exceptions the server logged, most frequent first (the last line of each traceback)."""
    lines = path.read_text(errors="replace").splitlines()
    raised = Counter(line[:200] for line in lines if EXCEPTION_LINE.match(line))
    return {
        "lines": len(lines),
        "tracebacks": sum(line.startswith("Traceback") for line in lines),
        "exceptions": [f"{count} × {line}" for line, count in raised.most_common(3)],
    }
