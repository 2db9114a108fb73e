"""Rendering is bounded: worst-case Markdown renders in seconds, text past the size cap and Markdown
past the CPU budget show as plain text."""

import itertools
import os
import time

import pytest
from pebble import ProcessPool

from chat import highlighting, rendering
from chat.rendering import render_html, render_partial_html

CARD = [{"n": 1}]
CITE = '<a class="cite" href="#cite-7-1" data-n="1">[1]</a>'
SIZE = 200_000
WORST_CASES = {
    "open brackets": "[" * SIZE,
    "unclosed links": "[a](" * (SIZE // 4),
    "image openers": "![" * (SIZE // 2),
    "asterisks": "*" * SIZE,
    "underscores": "_" * SIZE,
    "emphasis pairs": "*_" * (SIZE // 2),
    "emphasis before brackets": "*[" * (SIZE // 2),
    "backticks": "`" * SIZE,
    "angle brackets": "<" * SIZE,
    "entities": "&" * SIZE,
    "nested lists": "".join("  " * (i % 50) + "- a\n" for i in range(SIZE // 50)),
    "nested block quotes": "> " * (SIZE // 2),
    "quotes in lists": "> - " * (SIZE // 4),
    "wide table": "| a " * 2_000 + "|\n" + "|---" * 2_000 + "|\n" + ("| b " * 2_000 + "|\n") * 20,
    "table rows padded to many columns": "|a" * 10_000 + "\n" + "|-" * 10_000 + "\n" + "b\n" * 80_000,
    "link reference definitions": "".join(f"[l{i}]: https://example.com/{i} 't'\n" for i in range(6_000)),
    "long link reference definition": "[a]: https://example.com/" + "x" * SIZE + ' "unclosed title',
    "citation markers": "[1]" * (SIZE // 3),
    "fenced code blocks": "```python\nx = 1\n```\n" * (SIZE // 20),
}


# CPU time of this thread, where rendering runs: other processes on a busy machine do not count.
@pytest.mark.timeout(120)  # Python-Markdown took hours over the brackets: fail, do not hang
@pytest.mark.parametrize("text", WORST_CASES.values(), ids=WORST_CASES.keys())
def test_it_renders_worst_case_markdown_in_seconds(text):
    started = time.thread_time()
    render_html(text, message_id=7, citations=CARD)
    assert time.thread_time() - started < 5


@pytest.mark.timeout(120)
def test_it_renders_a_streaming_worst_case_in_seconds():
    started = time.thread_time()
    render_partial_html("```python\n" + "[" * SIZE)
    assert time.thread_time() - started < 5


@pytest.mark.timeout(120)
def test_code_a_lexer_would_take_hours_over_shows_without_colours_in_seconds():
    # Pygments' systemd lexer takes 13 s over 1,600 characters of blanks and tabs, and the cube of
    # that over more; it runs in a worker process that is killed at the deadline.
    started = time.monotonic()
    html = render_html("```systemd\n" + " \t" * 5_000 + "x\n```\n\nDone [1].", message_id=7, citations=CARD)
    assert time.monotonic() - started < 60
    assert html.startswith('<div class="highlight"><span class="filename">systemd</span><pre>')
    assert '<span class="w">' not in html  # no colours, not even for the blanks
    assert html.endswith(f"<p>Done {CITE}.</p>\n")


def test_it_shows_text_past_the_size_cap_as_plain_text(settings):
    settings.MARKDOWN_MAX_CHARS = 1000
    html = render_html("**a** [1]\n" * 100 + "**b** <i>x</i> [1]\n\nlast", message_id=7, citations=CARD)
    markdown, plain = html.split("</p>\n<p>", 1)  # the cut falls at the last line break before the cap
    assert markdown.count("<strong>a</strong>") == 100 and markdown.count(CITE) == 100
    assert plain == f"**b** &lt;i&gt;x&lt;/i&gt; {CITE}</p>\n<p>last</p>\n"


def test_it_closes_a_streaming_code_block_before_the_size_cap(settings):
    settings.MARKDOWN_MAX_CHARS = 1000
    html = render_partial_html("```python\n" + "x = 1\n" * 200)
    assert '<span class="filename">python</span>' in html and "```" not in html


def test_it_stops_a_long_parse_at_its_cpu_budget_and_shows_plain_text(monkeypatch):
    clock = itertools.count(step=0.01)  # the parser reads the clock as it goes; each read, 10 ms pass
    monkeypatch.setattr(rendering, "thread_time", lambda: next(clock))
    assert "<strong>Bold</strong>" in render_html("**Bold** [1]", message_id=7, citations=CARD)
    html = render_html("**Bold** [1] <i>x</i> " + "[" * 40_000, message_id=7, citations=CARD)
    assert html == f"<p>**Bold** {CITE} &lt;i&gt;x&lt;/i&gt; {'[' * 40_000}</p>\n"


def test_code_shows_without_colours_while_the_highlighters_processes_fail(monkeypatch):
    def dying(*args, **kwargs) -> ProcessPool:  # each worker exits as it starts
        return ProcessPool(*args, **{**kwargs, "initializer": os._exit, "initargs": (1,)})

    monkeypatch.setattr(highlighting, "_pool", None)
    monkeypatch.setattr(highlighting, "ProcessPool", dying)
    monkeypatch.setattr(highlighting, "_START_SECONDS", 3)  # pebble may wait for workers forever
    html = render_html("```python\nimport os\n```", message_id=7, citations=CARD)
    assert '<span class="filename">python</span>' in html and 'class="kn"' not in html
    monkeypatch.undo()
    monkeypatch.setattr(highlighting, "_pool", None)
    # The next block starts a pool again (given time for that on a busy machine).
    assert 'class="kn"' in highlighting.Highlighter(seconds=60).html("import os\n", "python")
    highlighting._forget_pool()
