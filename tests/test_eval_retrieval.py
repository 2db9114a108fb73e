import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from knowledge import evaluation, retrieval
from knowledge.models import Chunk, Document, KnowledgeBase

CORPUS = {
    "vacation": ("Vacation policy", "Staff get 25 days of paid vacation per year, booked in the HR portal."),
    "parking": ("Parking", "Parking in the garage is free for staff; visitors pay at the gate."),
    "expenses": ("", "Expense reports are due on the fifth working day of each month."),
    "laptops": (
        "Laptops",
        "Every engineer receives a laptop with 32 GB of memory, replaced every three years.",
    ),
    "canteen": ("Canteen", "The canteen serves lunch from noon until two in the afternoon."),
    "security": ("Security", "Badges must be worn visibly at all times inside the building."),
    "travel": ("Travel", "Book trains rather than planes for business trips under 500 kilometres."),
    "printing": ("Printers", "Colour printing needs a code from the office manager."),
    "gongzi": ("工资发放", "公司每月十日发放工资，遇到节假日提前到最近的工作日。"),
    "jiaban": ("加班规定", "加班需要提前一天在系统中申请，并由部门经理批准。"),
    "shitang": ("食堂", "员工食堂提供早餐和晚餐，早餐从七点开始。"),
}
QUERIES = {
    "q1": "How many days of paid vacation do staff get?",
    "q2": "When are expense reports due?",
    "q3": "How much memory does an engineer's laptop have?",
    "q4": "公司每月几号发放工资？",
    "unjudged": "Where is the canteen?",
}
QRELS = {"q1": "vacation", "q2": "expenses", "q3": "laptops", "q4": "gongzi"}
ANSWERS = {"q1": ["25 days"], "q4": ["十日", "10日"]}
KEYS = {"ndcg@10", "recall@100", "mrr@10", "p50_ms", "p95_ms", "queries", "mode", "documents", "chunks"}
SENT = {"ndcg@10_widened", "sent_chars", "sent_chars_widened", "answers", "answer_in_first", "answer_in_any"}


@pytest.fixture
def dataset(tmp_path) -> Path:
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    rows = [{"_id": doc_id, "title": title, "text": text} for doc_id, (title, text) in CORPUS.items()]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    queries = [{"_id": query_id, "text": text} for query_id, text in QUERIES.items()]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries))
    judgements = "".join(f"{query_id}\t{doc_id}\t1\n" for query_id, doc_id in QRELS.items())
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + judgements)
    answers = [{"_id": query_id, "answers": texts} for query_id, texts in ANSWERS.items()]
    (folder / "answers.jsonl").write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers))
    return folder


def test_it_scores_a_perfect_ranking_one():
    judged = {"a": 1, "b": 1}
    assert evaluation.ndcg_at(["a", "b", "c"], judged) == pytest.approx(1.0)
    assert evaluation.recall_at(["a", "b", "c"], judged) == 1.0
    assert evaluation.mrr_at(["a", "b", "c"], judged) == 1.0


def test_it_scores_a_known_ranking():
    judged = {"a": 1, "b": 1, "z": 0}
    ranking = ["x", "a", "y", "b"]
    # DCG 1/log2(3) + 1/log2(5); ideal 1 + 1/log2(3)
    assert evaluation.ndcg_at(ranking, judged) == pytest.approx(0.650921, abs=1e-6)
    assert evaluation.mrr_at(ranking, judged) == 0.5
    assert evaluation.recall_at(ranking, judged, k=2) == 0.5
    assert evaluation.recall_at(ranking, judged) == 1.0


def test_it_uses_graded_relevance_for_ndcg_only():
    judged = {"a": 2, "b": 1}
    # DCG 1 + 2/log2(3); ideal 2 + 1/log2(3)
    assert evaluation.ndcg_at(["b", "a"], judged) == pytest.approx(0.859719, abs=1e-6)
    assert evaluation.mrr_at(["b", "a"], judged) == 1.0


def test_it_scores_zero_when_nothing_relevant_is_found_in_time():
    ranking = [f"d{i}" for i in range(10)] + ["a"]
    assert evaluation.ndcg_at(ranking, {"a": 1}) == 0.0
    assert evaluation.mrr_at(ranking, {"a": 1}) == 0.0
    assert evaluation.recall_at(ranking, {"a": 1}) == 1.0


def passage(document_id: int, text: str) -> retrieval.Passage:
    return retrieval.Passage(1, document_id, "d.txt", 1, text, "", 0.5, 1, None, None, 1.0, 1)


def test_it_finds_an_answer_only_in_a_passage_of_a_relevant_document():
    passages = [passage(2, "Staff get 25 days."), passage(1, "Leave: 25 days a year.")]
    assert evaluation.answer_inside(passages, ["25 days"], relevant={1}) == (False, True)
    assert evaluation.answer_inside(passages, ["25 days"], relevant={2}) == (True, True)
    assert evaluation.answer_inside(passages, ["thirty"], relevant={1, 2}) == (False, False)
    assert evaluation.answer_inside([], ["25 days"], relevant={1}) == (False, False)


def test_it_reads_the_answers_when_the_data_set_has_them(dataset):
    assert evaluation.load_dataset(dataset).answers == ANSWERS


def test_it_keeps_relevant_documents_when_limiting_the_corpus(dataset):
    limited = evaluation.limit_dataset(evaluation.load_dataset(dataset), queries=2, corpus=1)
    assert list(limited.queries) == ["q1", "q2"]
    assert list(limited.corpus) == ["vacation", "parking", "expenses"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_it_prints_the_metrics_as_json_and_removes_its_knowledge_base(dataset, mode, capsys):
    call_command("eval_retrieval", str(dataset), mode=mode, json=True)
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert set(result) >= KEYS | SENT
    assert (result["queries"], result["documents"], result["mode"]) == (4, 11, mode)
    assert result["ndcg@10_widened"] == result["ndcg@10"] and result["answers"] == 2
    if mode != "dense":
        assert (result["ndcg@10"], result["recall@100"], result["mrr@10"]) == (1.0, 1.0, 1.0)
        assert result["answer_in_first"] == result["answer_in_first_widened"] == 1.0
    assert not KnowledgeBase.objects.exists() and not Document.objects.exists() and not Chunk.objects.exists()
    assert not any(Path(settings.INDEX_DIR).glob("kb-*"))
    assert not any(path.is_file() for path in Path(settings.MEDIA_ROOT).rglob("*"))


@pytest.mark.django_db(transaction=True)
def test_it_removes_its_knowledge_base_when_interrupted(dataset, monkeypatch):
    def interrupt(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation, "run_queries", interrupt)
    with pytest.raises(KeyboardInterrupt):
        call_command("eval_retrieval", str(dataset), mode="lexical")
    assert not KnowledgeBase.objects.exists() and not Chunk.objects.exists()
    assert not any(Path(settings.INDEX_DIR).glob("kb-*"))


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_knowledge_base_when_asked(dataset, capsys):
    call_command("eval_retrieval", str(dataset), mode="lexical", keep=True, limit_queries=1, limit_corpus=2)
    kb = KnowledgeBase.objects.get()
    assert kb.documents.count() == 3
    assert kb.slug in capsys.readouterr().out
    call_command("eval_retrieval", str(dataset), mode="lexical", reuse=kb.slug, limit_queries=1, json=True)
    reused = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert reused["knowledge_base"] == kb.slug and reused["documents"] == 3
    assert KnowledgeBase.objects.get() == kb  # nothing ingested again, nothing removed


def test_it_refuses_to_reuse_an_unknown_knowledge_base(dataset, db):
    with pytest.raises(CommandError, match="No knowledge base"):
        call_command("eval_retrieval", str(dataset), reuse="nope")


def test_it_refuses_a_folder_without_a_corpus(tmp_path):
    with pytest.raises(CommandError, match=r"no corpus\.jsonl"):
        call_command("eval_retrieval", str(tmp_path))


def test_it_refuses_an_unknown_split_naming_the_ones_there(dataset):
    with pytest.raises(CommandError, match=r"split 'dev' \(splits found: test\)"):
        call_command("eval_retrieval", str(dataset), split="dev")


OFF_TOPIC = Path(__file__).parent / "data" / "off-topic.txt"


def test_it_reads_off_topic_questions_as_lines_or_json_lines(tmp_path):
    assert len(evaluation.read_questions(OFF_TOPIC)) == 8  # the comment lines are skipped
    jsonl = tmp_path / "questions.jsonl"
    jsonl.write_text('{"_id": "a", "text": "Will it snow?"}\n\n{"text": "明天下雨吗？"}\n')
    assert evaluation.read_questions(jsonl) == ["Will it snow?", "明天下雨吗？"]


def test_it_refuses_an_off_topic_file_without_questions(dataset, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    with pytest.raises(CommandError, match=r"empty\.txt: no questions"):
        call_command("eval_retrieval", str(dataset), off_topic=str(empty))
    with pytest.raises(CommandError, match="not a readable question list"):
        call_command("eval_retrieval", str(dataset), off_topic=str(tmp_path / "missing.txt"))


def test_it_chooses_the_floor_with_fewest_off_topic_passages_that_loses_under_2_percent():
    # 1 % of judged questions find nothing at all, 1 % more have nothing above 0.25.
    judged = [0.5] * 98 + [0.25, None]
    sweep = evaluation.sweep_floors(script="latin", judged=judged, off_topic=[0.05, 0.2, 0.3, None])
    assert sweep.rows[0] == evaluation.FloorRow(floor=0.0, lost=0.01, off_topic_found=0.75)
    assert sweep.chosen == evaluation.FloorRow(floor=0.22, lost=0.01, off_topic_found=0.25)
    assert next(row for row in sweep.rows if row.floor == 0.26).lost == 0.02
    assert (sweep.questions, sweep.off_topic, len(sweep.rows)) == (100, 4, 31)


def test_it_chooses_no_floor_when_every_one_loses_too_many():
    sweep = evaluation.sweep_floors(script="han", judged=[0.5] * 49 + [None], off_topic=[0.1])
    assert sweep.chosen is None and sweep.rows[0].lost == 0.02


@pytest.mark.django_db(transaction=True)
def test_it_reports_both_rates_per_script_without_applying_a_floor(dataset, settings, capsys):
    settings.RELEVANCE_FLOOR_LATIN = settings.RELEVANCE_FLOOR_HAN = 0.99  # automatic floors do not count
    call_command("eval_retrieval", str(dataset), off_topic=str(OFF_TOPIC), json=True)
    out = capsys.readouterr().out
    result = json.loads(out.splitlines()[-1])
    assert (result["ndcg@10"], result["recall@100"]) == (1.0, 1.0)
    sweeps = {sweep["script"]: sweep for sweep in result["floors"]}
    assert {script: (s["questions"], s["off_topic"]) for script, s in sweeps.items()} == {
        "han": (1, 4),
        "latin": (3, 4),
    }
    for sweep in sweeps.values():
        assert sweep["rows"][0]["lost"] == 0.0 and sweep["rows"][-1]["floor"] == 0.6
        assert sweep["chosen"]["lost"] < 0.02
        # Judged questions find their passages well above the off-topic ones here.
        assert sweep["chosen"]["off_topic_found"] < sweep["rows"][0]["off_topic_found"], out
    assert "Floors for latin questions (3 judged, 4 off-topic)" in out and "<- chosen" in out
    assert not KnowledgeBase.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_says_when_no_off_topic_question_shares_a_script_with_the_judged_ones(dataset, tmp_path, capsys):
    chinese = tmp_path / "zh.txt"
    chinese.write_text("明天下雨吗？\n")
    call_command("eval_retrieval", str(dataset), mode="lexical", limit_queries=1, off_topic=str(chinese))
    assert "No off-topic question is in the script of a judged one" in capsys.readouterr().out
