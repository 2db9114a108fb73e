"""A question is also searched in translation where the embedder cannot cross from its language to the
documents' (chat.question_translation): the test upstream answers the translations."""

from pathlib import Path

import pytest
from django.urls import reverse

from chat import question_translation
from knowledge import embedding, probe, retrieval
from knowledge.models import KnowledgeBase
from tests.conftest import ask, ingest, ingest_texts, signed_in

# The answer path runs the ORM from other threads: they must see committed rows.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]

HANDBOOK = Path(__file__).resolve().parent / "data" / "staff-handbook.en.md"
QUESTION = "年假有多少天？"
TRANSLATION = "How many days of annual leave do staff get?"
MARKER = "Translate the user's question into"
CHINESE_HANDBOOK = {
    "handbook.zh.txt": "全职员工每年享有二十五天带薪年假，法定节假日另计。请假需提前两周申请。"
}
ABLE_EVERYWHERE = {"latin": 0.9, "han": 0.9, "han→latin": 0.9, "latin→han": 0.9}


@pytest.fixture
def handbook(kb):
    """The English staff handbook, the knowledge base's only document."""
    return ingest(kb, HANDBOOK)


@pytest.fixture
def translating(llm):
    """The test upstream translates every question into TRANSLATION, and answers citing [1]."""
    llm.when(asks=MARKER, style="plain", content=TRANSLATION)
    llm.script(content="Staff get 25 days of paid annual leave a year [1].")
    return llm


def translation_requests(llm) -> list[dict]:
    return [r for r in llm.requests if any(MARKER in m["content"] for m in r["messages"])]


def test_a_chinese_question_finds_the_english_passage_through_the_translation(
    user, kb, handbook, translating
):
    done = dict(ask(user, kb, QUESTION))["done"]
    [request] = translation_requests(translating)
    assert "English" in request["messages"][0]["content"]
    assert request["messages"][-1] == {"role": "user", "content": QUESTION}
    assert "reasoning_content" not in str(request["messages"])
    cited = done["citations"][0]
    assert cited["document"] == "staff-handbook.en.md" and "25 days of paid annual leave" in cited["text"]
    answer_request = translating.requests[-1]
    assert answer_request["messages"][-1] == {"role": "user", "content": QUESTION}
    assert "25 days of paid annual leave" in answer_request["messages"][1]["content"]


def test_without_the_translation_the_english_passage_is_not_found(kb, handbook):
    assert not any(
        "25 days" in p.text for p in retrieval.search(query=QUESTION, knowledge_bases=[kb]).passages
    )


def test_a_passage_found_by_both_wordings_keeps_its_higher_relevance(kb, handbook):
    asked = "Can part-time staff work from home?"

    def searched(query: str, *translations: str) -> dict[int, retrieval.Passage]:
        found = retrieval.search(query=query, knowledge_bases=[kb], translations=translations, top_k=20)
        return {passage.chunk_id: passage for passage in found.passages}

    fused, alone, translated = searched(asked, TRANSLATION), searched(asked), searched(TRANSLATION)
    assert fused.keys() == alone.keys() | translated.keys() and len(fused) > 1
    for chunk_id, passage in fused.items():
        original, translation = alone[chunk_id].score, translated[chunk_id].score
        assert passage.score == max(original, translation)
        assert passage.translation == ("" if original >= translation else TRANSLATION)
    assert {p.translation for p in fused.values()} == {"", TRANSLATION}  # each wording won some


def test_the_relevance_floor_applies_to_the_fused_relevance(kb, handbook):
    found = retrieval.search(query=QUESTION, knowledge_bases=[kb], translations=[TRANSLATION]).passages
    assert found[0].translation == TRANSLATION and "25 days" in found[0].text
    kb.relevance_floor = (found[0].score + found[1].score) / 2
    kb.save()
    kept = retrieval.search(query=QUESTION, knowledge_bases=[kb], translations=[TRANSLATION])
    assert [p.chunk_id for p in kept.passages] == [found[0].chunk_id]
    assert kept.below_floor >= len(found) - 1


def test_no_translation_when_the_documents_are_in_the_question_s_language(user, kb, translating, tmp_path):
    ingest_texts(kb, tmp_path, CHINESE_HANDBOOK)
    done = dict(ask(user, kb, QUESTION))["done"]
    assert translation_requests(translating) == []
    assert "二十五天带薪年假" in done["citations"][0]["text"]


def test_no_translation_in_retrieval_only_mode(user, kb, handbook, fake_llm):
    events = dict(ask(user, kb, QUESTION))
    assert events["meta"]["mode"] == "retrieval-only"
    assert fake_llm.requests == []


def test_no_translation_when_it_is_turned_off(user, kb, handbook, translating, settings):
    settings.QUESTION_TRANSLATION = False
    ask(user, kb, QUESTION)
    assert translation_requests(translating) == []


def test_no_translation_when_the_embedder_crosses_languages(user, kb, handbook, translating, monkeypatch):
    monkeypatch.setattr(embedding, "skills", lambda: ABLE_EVERYWHERE)
    ask(user, kb, QUESTION)
    assert translation_requests(translating) == []


def test_a_search_without_a_dense_side_is_translated_whatever_the_embedder(kb, handbook, monkeypatch):
    monkeypatch.setattr(embedding, "skills", lambda: ABLE_EVERYWHERE)
    assert question_translation.target_scripts(question=QUESTION, knowledge_bases=[kb]) == []
    kb.retrieval_mode = KnowledgeBase.RetrievalMode.LEXICAL
    assert question_translation.target_scripts(question=QUESTION, knowledge_bases=[kb]) == ["latin"]


def test_an_english_question_is_translated_into_chinese_for_chinese_documents(kb, tmp_path):
    ingest_texts(kb, tmp_path, CHINESE_HANDBOOK)
    question = "How many days of annual leave do I get?"
    assert question_translation.target_scripts(question=question, knowledge_bases=[kb]) == ["han"]


def test_the_cache_saves_the_second_call(user, kb, handbook, translating):
    ask(user, kb, QUESTION)
    done = dict(ask(user, kb, QUESTION))["done"]
    assert len(translation_requests(translating)) == 1
    assert done["citations"][0]["document"] == "staff-handbook.en.md"


def test_a_long_question_is_not_translated(user, kb, handbook, translating):
    ask(user, kb, "年假" * (question_translation.MAX_QUESTION_CHARS // 2 + 1))
    assert translation_requests(translating) == []


def test_a_failed_translation_leaves_the_search_as_asked_and_is_tried_again_later(
    user, kb, handbook, llm, tmp_path
):
    ingest_texts(kb, tmp_path, CHINESE_HANDBOOK)
    llm.when(asks=MARKER, status=503, failures=1, style="plain", content=TRANSLATION)
    llm.script(content="二十五天 [1]。")
    done = dict(ask(user, kb, QUESTION))["done"]
    as_asked = retrieval.search(query=QUESTION, knowledge_bases=[kb]).passages
    sent = [m["content"] for m in llm.requests[-1]["messages"] if m["role"] == "system"][1:]
    assert len(sent) == len(as_asked) and all(p.text in m for p, m in zip(as_asked, sent, strict=True))
    assert "二十五天带薪年假" in done["citations"][0]["text"]
    ask(user, kb, QUESTION)  # a failure is not cached: the next asking translates
    assert len(translation_requests(llm)) == 2
    assert "25 days of paid annual leave" in str(llm.requests[-1]["messages"])


def test_the_probe_measures_the_embedder_across_scripts():
    skills = embedding.skills()
    assert set(skills) == {"latin", "han", probe.crossing("han", "latin"), probe.crossing("latin", "han")}
    # The default model is English-only: it cannot cross, whichever way.
    assert skills["han→latin"] < retrieval.USABLE_SKILL and skills["latin→han"] < retrieval.USABLE_SKILL
    assert retrieval.dense_weight("How many parameters does it have?") == skills["latin"]


def test_the_probe_scores_an_embedder_that_crosses_perfectly_as_skilled():
    def by_meaning(texts: list[str]):
        """One vector per pair: question i and passage i of either script are alike."""
        import numpy as np

        pairs = [pair for script in probe.SCRIPTS for pair in probe._PAIRS[script]]
        size = len(probe._PAIRS["latin"])
        positions = [next(i for i, pair in enumerate(pairs) if text in pair) % size for text in texts]
        return np.eye(size)[positions]

    assert probe.measure(by_meaning) == {"latin": 1.0, "han": 1.0, "han→latin": 1.0, "latin→han": 1.0}


HIT_TESTING = reverse("knowledge:hit_testing", args=["guide"])


def test_the_hit_testing_page_shows_the_translation_and_what_it_found(user, kb, handbook, translating):
    page = signed_in(user).get(HIT_TESTING, {"q": QUESTION}).content.decode()
    assert f'<q class="ht-translated">{TRANSLATION}</q>' in page
    first = page.split('class="hit"')[1].split("</li>")[0]
    assert "Found in translation" in first and "<mark>annual</mark> <mark>leave</mark>" in first
    chinese = signed_in(user).get(HIT_TESTING, {"q": QUESTION}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "由译文检索到" in chinese.content.decode()
    assert len(translation_requests(translating)) == 1  # the second from the cache


def test_the_hit_testing_page_translates_within_a_rate_limit(user, kb, handbook, translating, settings):
    settings.TRANSLATION_RATE_PER_USER = "1/min"
    reader = signed_in(user)
    reader.get(HIT_TESTING, {"q": QUESTION})
    page = reader.get(HIT_TESTING, {"q": "年假怎么申请？"}).content.decode()
    assert "Not searched in translation" in page and "Found in translation" not in page
    assert len(translation_requests(translating)) == 1


def test_the_hit_testing_page_translates_nothing_for_an_outsider(outsider, kb, handbook, translating):
    assert signed_in(outsider).get(HIT_TESTING, {"q": QUESTION}).status_code == 404
    assert translation_requests(translating) == []


def test_the_hit_testing_page_shows_no_translation_without_a_model(user, kb, handbook):
    page = signed_in(user).get(HIT_TESTING, {"q": QUESTION}).content.decode()
    assert "ht-translation" not in page and "Found in translation" not in page
