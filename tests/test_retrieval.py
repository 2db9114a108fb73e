from knowledge import embedding, index, retrieval, services
from knowledge.models import KnowledgeBase
from knowledge.retrieval import retrieve_passages, search
from tests.conftest import PRODUCTS, ingest, ingest_texts


def test_it_finds_the_passage_stating_deepseek_v3_parameters(guide, kb):
    passages = retrieve_passages(question="DeepSeek-V3 有多少参数？", knowledge_bases=[kb])
    assert "6710亿（671B）" in passages[0].text
    assert passages[0].document_title == "deepseek-r1-guide.zh.md"


def test_it_returns_top_k_passages_best_first(guide, kb):
    query = "如何本地部署 DeepSeek R1 模型"
    passages = search(query=query, knowledge_bases=[kb], top_k=3, widen=False).passages
    assert len(passages) == 3
    assert passages[0].score >= passages[1].score >= passages[2].score
    # Widened, chunks of one section that meet are sent as one passage.
    assert len(retrieve_passages(question=query, knowledge_bases=[kb], top_k=3)) <= 3


def test_it_searches_only_the_knowledge_bases_given(guide, db):
    other = KnowledgeBase.objects.create(name="Other", slug="other", is_public=True)
    assert retrieve_passages(question="DeepSeek-V3 有多少参数？", knowledge_bases=[other]) == []


def test_it_searches_several_knowledge_bases(guide, kb, tmp_path):
    other = KnowledgeBase.objects.create(name="Other", slug="other", is_public=True)
    note = tmp_path / "vacation.txt"
    note.write_text("Staff get 25 days of paid vacation per year. Requests go through the HR portal.")
    ingest(other, note)
    passages = retrieve_passages(question="How many vacation days do staff get?", knowledge_bases=[kb, other])
    assert passages[0].document_title == "vacation.txt"


def test_readable_by_follows_groups_and_public_flag(kb, user, outsider):
    public = KnowledgeBase.objects.create(name="Handbook", slug="handbook", is_public=True)
    assert set(KnowledgeBase.objects.readable_by(user)) == {kb, public}
    assert set(KnowledgeBase.objects.readable_by(outsider)) == {public}


def test_a_follow_up_question_is_searched_with_what_it_refers_to(kb, tmp_path):
    ingest_texts(kb, tmp_path, PRODUCTS)
    follow_up = "How much memory does it need?"
    alone = retrieve_passages(question=follow_up, knowledge_bases=[kb])
    assert alone[0].document_title == "atlas.txt"
    context = ["Tell me about the Boreal laptop.", "The Boreal laptop is a light machine [1]."]
    followed = retrieve_passages(question=follow_up, knowledge_bases=[kb], context=context)
    assert followed[0].document_title == "boreal.txt"
    # A new topic still wins over the previous one: the question weighs most.
    switched = retrieve_passages(
        question="What does the Atlas server need?", knowledge_bases=[kb], context=context
    )
    assert switched[0].document_title == "atlas.txt"


def test_relevance_is_between_0_and_1_and_the_floor_drops_what_is_below(kb, tmp_path):
    ingest_texts(kb, tmp_path, PRODUCTS)
    passages = search(query="Atlas server memory", knowledge_bases=[kb]).passages
    assert [p.document_title for p in passages] == ["atlas.txt", "boreal.txt"]
    assert 0 < passages[1].score < passages[0].score < 1
    kb.relevance_floor = (passages[0].score + passages[1].score) / 2
    kb.save()
    result = search(query="Atlas server memory", knowledge_bases=[kb])
    assert [p.document_title for p in result.passages] == ["atlas.txt"]
    assert result.below_floor == 1


def test_each_knowledge_base_is_searched_in_its_own_mode(kb, tmp_path):
    ingest_texts(kb, tmp_path, PRODUCTS)
    kb.retrieval_mode = KnowledgeBase.RetrievalMode.LEXICAL
    kb.save()
    passages = search(query="notebook computer for trips", knowledge_bases=[kb]).passages
    assert passages == []  # no word in common: BM25 alone finds nothing
    assert search(query="notebook computer for trips", knowledge_bases=[kb], mode="dense").passages
    kb.retrieval_mode = KnowledgeBase.RetrievalMode.DENSE
    kb.save()
    found = search(query="notebook computer for trips", knowledge_bases=[kb]).passages
    assert found[0].document_title == "boreal.txt"
    assert found[0].lexical_score is None and found[0].score == round(found[0].dense_score, 4)


def test_scores_are_exact_for_passages_only_one_search_found(kb, tmp_path):
    ingest_texts(kb, tmp_path, PRODUCTS)
    passages = search(query="notebook computer for trips", knowledge_bases=[kb], mode="hybrid").passages
    assert all(p.dense_score is not None and p.lexical_score is not None for p in passages)


def test_an_english_only_embedder_does_not_rank_chinese_questions(guide, kb, monkeypatch):
    skills = embedding.skills()
    assert skills["latin"] >= retrieval.USABLE_SKILL > skills["han"]  # the default model, measured
    assert retrieval.dense_weight("DeepSeek-V3 有多少参数？") < 0.1
    assert retrieval.dense_weight("How many parameters does it have?") == skills["latin"]
    embedded: list[str] = []
    real_embed_queries = embedding.embed_queries
    monkeypatch.setattr(
        embedding, "embed_queries", lambda texts: embedded.extend(texts) or real_embed_queries(texts)
    )
    hybrid = search(query="DeepSeek-V3 有多少参数？", knowledge_bases=[kb], top_k=10).passages
    assert embedded == []  # a dense side that weighs nothing is not computed
    lexical_only = search(
        query="DeepSeek-V3 有多少参数？", knowledge_bases=[kb], top_k=10, mode="lexical"
    ).passages
    assert [p.chunk_id for p in hybrid] == [p.chunk_id for p in lexical_only]


def test_approximate_search_finds_the_same_passage(kb, guide, settings):
    settings.INDEX_APPROXIMATE_FROM = 10
    services.knowledge_base_rebuild_index(knowledge_base=kb)
    assert index.is_approximate(kb.id)
    passages = retrieve_passages(question="DeepSeek-V3 有多少参数？", knowledge_bases=[kb])
    assert "6710亿（671B）" in passages[0].text
