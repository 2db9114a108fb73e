"""The hit-testing page: a query's ranked passages with each search's score and the step timings."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from knowledge import retrieval
from knowledge.models import Chunk
from knowledge.views import highlight, passage_html
from tests.conftest import ingest, ingest_texts

QUESTION = "DeepSeek-V3 有多少参数？"
URL = reverse("knowledge:hit_testing", args=["guide"])


def chunk_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-chunk-id="(\d+)"', page)]


@pytest.fixture
def reader(client, user):
    client.force_login(user)
    return client


def test_it_requires_login(client, kb):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_hides_a_knowledge_base_the_user_may_not_read(client, outsider, kb):
    client.force_login(outsider)
    assert client.get(URL, {"q": QUESTION}).status_code == 404


def test_it_shows_just_the_form_without_a_query(reader, kb):
    page = reader.get(URL).content.decode()
    assert 'name="q"' in page and chunk_ids(page) == []


def test_it_ranks_passages_with_scores_and_timings(reader, guide):
    page = reader.get(URL, {"q": QUESTION}).content.decode()
    first = page.split('class="hit"')[1].split("</li>")[0]
    assert "6710亿（671B）" in re.sub(r"<[^>]+>", "", first)
    assert 'class="score score-dense"' in first and 'class="score score-lexical"' in first
    assert all(f"{step} <b>" in page for step in ("embed", "dense", "lexical", "fuse", "fetch", "total"))


def test_it_ranks_exactly_as_the_chat_does(reader, kb, guide):
    page = reader.get(URL, {"q": QUESTION}).content.decode()
    expected = retrieval.search(query=QUESTION, knowledge_bases=[kb]).passages
    assert chunk_ids(page) == [passage.chunk_id for passage in expected]
    assert 1 < len(expected) <= kb.top_k  # chunks of one section that meet are one passage


def test_it_shows_no_dense_scores_in_lexical_mode(reader, kb, guide):
    page = reader.get(URL, {"q": QUESTION, "mode": "lexical"}).content.decode()
    expected = retrieval.search(query=QUESTION, knowledge_bases=[kb], mode="lexical").passages
    assert chunk_ids(page) == [passage.chunk_id for passage in expected]
    assert chunk_ids(page) and 'class="score score-dense"' not in page


@pytest.mark.parametrize("top_k", ["0", "51", "many"])
def test_it_reports_an_invalid_top_k_as_a_form_error(reader, kb, top_k):
    response = reader.get(URL, {"q": QUESTION, "top_k": top_k})
    assert response.status_code == 200
    assert response.context["form"].errors["top_k"] and chunk_ids(response.content.decode()) == []


def test_it_reports_an_unknown_mode_as_a_form_error(reader, kb):
    response = reader.get(URL, {"q": QUESTION, "mode": "magic"})
    assert response.status_code == 200 and response.context["form"].errors["mode"]


def test_it_caps_long_queries(reader, kb, guide):
    response = reader.get(URL, {"q": "参数" * 5000})
    assert response.status_code == 200 and len(response.context["query"]) == 2000


def test_it_escapes_passage_text(reader, kb, tmp_path: Path):
    hostile = tmp_path / "hostile.md"
    hostile.write_text("# Notes\n\nAlert test: <script>alert(1)</script> in the passage.\n")
    ingest(kb, hostile)
    page = reader.get(URL, {"q": "alert test script"}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;<mark>script</mark>&gt;<mark>alert</mark>(1)&lt;/<mark>script</mark>&gt;" in page


def test_it_highlights_words_and_chinese_phrases():
    marked = highlight("DeepSeek-V3 共有 6710亿参数 & <b>", "deepseek v3 有多少参数")
    assert marked == "<mark>DeepSeek</mark>-<mark>V3</mark> 共有 6710亿<mark>参数</mark> &amp; &lt;b&gt;"


def test_it_links_to_the_page_from_the_admin_changelist(admin_client, kb):
    page = admin_client.get(reverse("admin:knowledge_knowledgebase_changelist")).content.decode()
    assert f'href="{URL}"' in page


def test_it_uses_the_knowledge_base_mode_and_floor_as_the_chat_does(reader, kb, guide):
    kb.retrieval_mode = "lexical"
    kb.save()
    first, second = retrieval.search(query=QUESTION, knowledge_bases=[kb]).passages[:2]
    kb.relevance_floor = round((first.score + second.score) / 2, 2)
    kb.save()
    page = reader.get(URL, {"q": QUESTION}).content.decode()
    expected = retrieval.search(query=QUESTION, knowledge_bases=[kb]).passages
    assert chunk_ids(page) == [p.chunk_id for p in expected] and expected[0].chunk_id == first.chunk_id
    assert all(p.score >= kb.relevance_floor for p in expected) and second not in expected
    assert '<option value="lexical" selected>' in page
    assert f"below the relevance floor ({kb.relevance_floor:.2f})" in page
    assert "Relevance" in page
    kb.relevance_floor = 1.0
    kb.save()
    page = reader.get(URL, {"q": QUESTION}).content.decode()
    assert chunk_ids(page) == [] and "Every passage found scored below the relevance floor" in page


def test_it_shows_faq_matches_with_their_scores_above_the_passages(reader, kb, guide, faq):
    page = reader.get(URL, {"q": "年假有几天?"}).content.decode()
    assert page.index('class="ht-faq"') < page.index('class="hits"')
    hit = re.search(r'<li class="faq-hit is-answer" data-pair-id="(\d+)">', page)
    assert hit and int(hit[1]) == faq["年假有几天？"].id
    assert "Answered from FAQ" in page and "<b>1.000</b>" in page


def test_a_close_faq_match_is_shown_as_given_to_the_model(reader, kb, guide, faq):
    page = reader.get(URL, {"q": "公司的年假是多少天？"}).content.decode()
    assert 'class="faq-hit is-passage"' in page and "Given to the model as a passage" in page
    assert "Answered from FAQ" not in page


def test_a_score_without_a_rank_shows_no_rank(monkeypatch, reader, kb, guide):
    """A passage one search did not return among its best is scored exactly, and has no rank there."""
    monkeypatch.setattr(retrieval, "CANDIDATES", kb.top_k)  # shallow searches: each misses some
    question = "How many parameters does DeepSeek-V3 have?"
    passages = retrieval.search(query=question, knowledge_bases=[kb]).passages
    assert any(p.lexical_score is not None and p.lexical_rank is None for p in passages)
    assert "#None" not in reader.get(URL, {"q": question}).content.decode()


# One section of rules, long enough for several chunks: the one found is shown with its neighbours.
BADGES = " ".join(f"Visitors to floor {n} wear a badge of colour number {n * 7}." for n in range(1, 60))


def test_it_shows_the_widened_passage_with_the_chunk_found_marked(reader, kb, tmp_path):
    ingest_texts(kb, tmp_path, {"badges.txt": BADGES})
    page = reader.get(URL, {"q": "floor 31 badge colour", "top_k": 1}).content.decode()
    (chunk_id,) = chunk_ids(page)
    hit = page.split('class="hit"')[1].split("</li>")[0]
    chosen = re.findall(r'<span class="hit-chosen">(.*?)</span>', hit, re.DOTALL)
    assert [re.sub(r"<[^>]+>", "", text) for text in chosen] == [Chunk.objects.get(id=chunk_id).text]
    assert 'class="hit-context"' in hit and "With its context" in hit
    shown = re.sub(r"<[^>]+>", "", hit.split('class="hit-text-body')[1].split("</div>")[0])
    assert shown.split(">", 1)[1] in BADGES  # the document's text, nothing repeated


def sent(text: str, matched: tuple[tuple[int, int], ...]) -> retrieval.Passage:
    return retrieval.Passage(1, 1, "handbook.md", 1, text, "", 0.5, 1, None, None, 1.0, 1, matched=matched)


def test_it_marks_the_chosen_chunk_inside_chinese_context():
    text = "年假规定如下：员工每年享有十五天年假。未休完的年假可以顺延。"
    html = passage_html(sent(text, ((7, 19),)), "年假")
    assert html == (
        '<span class="hit-context"><mark>年假</mark>规定如下：</span>'
        '<span class="hit-chosen">员工每年享有十五天<mark>年假</mark>。</span>'
        '<span class="hit-context">未休完的<mark>年假</mark>可以顺延。</span>'
    )


def test_two_chosen_chunks_that_overlap_are_marked_as_one():
    text = "Leave is booked in the portal. Managers approve it. Sick leave needs a note."
    html = passage_html(sent(text, ((31, 51), (0, 40))), "sick")
    assert html == (
        '<span class="hit-chosen">Leave is booked in the portal. Managers approve it.</span>'
        '<span class="hit-context"> <mark>Sick</mark> leave needs a note.</span>'
    )


def test_a_chunk_sent_alone_is_not_marked_as_chosen():
    text = "Leave is booked in the portal."
    assert passage_html(sent(text, ((0, len(text)),)), "portal") == highlight(text, "portal")
    assert passage_html(sent(text, ()), "portal") == highlight(text, "portal")
