"""Answers as HTML: Markdown with highlighted code, and nothing that can run or pass for the page."""

from chat.rendering import render_html, render_partial_html

CARD = [{"n": 1}]


def test_it_highlights_fenced_code_and_names_its_language():
    html = render_html("```python\nimport os\n```", message_id=7, citations=CARD)
    assert '<div class="highlight"><span class="filename">python</span>' in html
    assert '<span class="kn">import</span>' in html


def test_it_renders_tables_and_links_citation_markers():
    html = render_html("| a | b |\n|---|---|\n| 1 | 2 |\n\nSee [1].", message_id=7, citations=CARD)
    assert "<td>1</td>" in html
    assert '<a class="cite" href="#cite-7-1" data-n="1">[1]</a>' in html


def test_it_removes_script_event_handlers_javascript_links_and_images():
    payload = (
        "<script>alert(1)</script><img src=x onerror=alert(2)>"
        + ' [x](javascript:alert(3)) <b onclick="a()">b</b>'
    )
    html = render_html(payload, message_id=7, citations=CARD)
    for banned in ("<script", "alert(1)", "<img", "onerror", "javascript:", "onclick"):
        assert banned not in html


def test_an_answer_keeps_only_the_highlighters_classes():
    html = render_html(
        '<div class="error-box msg-user highlight"><span class="k cite">x</span></div>',
        message_id=7,
        citations=CARD,
    )
    assert 'class="highlight"' in html and 'class="k"' in html
    assert "error-box" not in html and "cite" not in html


def test_a_streaming_answer_shows_bold_text_before_its_closing_pair_arrives():
    assert "<strong>6710</strong>" in render_partial_html("参数量为 **6710")
    assert "**" not in render_partial_html("**Done** and **half")
    # Asterisks in code stay as they are.
    assert "a**b" in render_partial_html("Use `a**b")
    assert "<strong>" not in render_partial_html("```python\nx = 2**8")
