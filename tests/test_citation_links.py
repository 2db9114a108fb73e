"""Citation markers become links to the message's source cards in text only: never inside a link's
address, title or text, nor in code."""

from chat.rendering import render_html

CARDS = [{"n": 1}, {"n": 2}]


def cite(n: int) -> str:
    return f'<a class="cite" href="#cite-7-{n}" data-n="{n}">[{n}]</a>'


def html(text: str) -> str:
    return render_html(text, message_id=7, citations=CARDS)


def test_it_links_valid_markers_in_text_and_leaves_invalid_ones_literal():
    assert html("See [1], [2, 9] and [3]; also [citation:2].") == (
        f"<p>See {cite(1)}, {cite(2)}[9] and [3]; also {cite(2)}.</p>\n"
    )
    bold = html("**Bold [1]** and *[2]*")
    assert bold == f"<p><strong>Bold {cite(1)}</strong> and <em>{cite(2)}</em></p>\n"


def test_a_marker_in_a_link_title_stays_in_the_title():
    assert html('[click](https://evil.example "see [1]")') == (
        '<p><a href="https://evil.example" title="see [1]" rel="noopener noreferrer">click</a></p>\n'
    )


def test_a_marker_in_a_link_address_stays_in_the_address():
    out = html("[click](https://evil.example/[1]) <https://evil.example/[2]>")
    assert 'class="cite"' not in out
    assert 'href="https://evil.example/%5B1%5D"' in out and ">https://evil.example/[2]</a>" in out


def test_a_marker_in_a_links_text_stays_literal():
    assert html("[see [1]](https://example.com)") == (
        '<p><a href="https://example.com" rel="noopener noreferrer">see [1]</a></p>\n'
    )


def test_markers_in_code_stay_literal():
    out = html("Run `a[1]`:\n\n```python\nx[1]\n```\n\n    y[2]\n")
    assert "<code>a[1]</code>" in out and 'class="cite"' not in out


def test_a_forged_placeholder_is_not_a_link():
    out = html('[x](https://evil.example "\ue000' + "0" * 16 + ':1\ue001") \ue000' + "0" * 16 + ":2\ue001")
    assert 'class="cite"' not in out
