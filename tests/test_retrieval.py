from knowledge.models import KnowledgeBase
from knowledge.retrieval import retrieve_passages
from tests.conftest import ingest


def test_it_finds_the_passage_stating_deepseek_v3_parameters(guide, kb):
    passages = retrieve_passages(question="DeepSeek-V3 有多少参数？", knowledge_bases=[kb])
    assert "6710亿（671B）" in passages[0].text
    assert passages[0].document_title == "deepseek-r1-guide.zh.md"


def test_it_returns_top_k_passages_best_first(guide, kb):
    passages = retrieve_passages(question="如何本地部署 DeepSeek R1 模型", knowledge_bases=[kb], top_k=3)
    assert len(passages) == 3
    assert passages[0].score >= passages[1].score >= passages[2].score


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
