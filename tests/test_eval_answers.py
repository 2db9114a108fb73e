"""`manage.py eval_answers`: the shipped question set for the Chinese guide, answered through the real
engine by the test upstream scripted per question, and the figures that behaviour must give."""

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from chat import answer_evaluation, answer_scoring
from knowledge.models import KnowledgeBase
from tests.conftest import CORPUS

pytestmark = pytest.mark.django_db(transaction=True)

DATASET = CORPUS.with_name("deepseek-r1-guide.zh.answers.jsonl")
USAGE = {
    "prompt_tokens": 1000,
    "completion_tokens": 100,
    "total_tokens": 1100,
    "prompt_cache_hit_tokens": 0,
    "prompt_cache_miss_tokens": 1000,
    "completion_tokens_details": {"reasoning_tokens": 40},
}
# What the model says to each question of the data set (by line): exact references, one citing a
# passage that does not hold the answer as well, partly and wholly wrong answers, refusals, a
# made-up answer to a question the guide does not answer, and an upstream failure.
REPLIES = {
    "DeepSeek-V3 有多少参数？": "6710亿 [1]",
    "DeepSeek-R1 正式版是哪天上线的？": "2025年1月20号 [1]",
    "DeepSeek 的蒸馏模型是用多少条推理数据样本微调出来的？": "80w [1]",
    "DeepSeek-R1-Distill-Qwen 系列有哪几种尺寸？": "1.5B、7B、14B、32B [1][2]",
    "DeepSeek 开放平台的新用户注册送多少额度？": "10元 [1]",
    "部署 DeepSeek R1 满血版大约需要多少显存？": "大约需要 1200G 显存 [1]。",
    "半精度运行 DeepSeek R1 满血版要占用多少显存？": "580G [1]",
    "OpenAI 是什么时候推出 GPT-3 的？": "文档中没有提到这一点。",
    "DeepSeek 在技术架构上采用了什么架构？": "DeepSeek 采用混合专家（MoE）架构 [1]。",
    "DeepSeek R1 的价格大约是 OpenAI o1 正式版的几分之一？": "1/50 [1]",
    "公司员工每年有多少天年假？": "资料中未提及年假天数。",
    "DeepSeek-R1 的上下文窗口有多少个 token？": "DeepSeek-R1 的上下文窗口是 64K token [1]。",
}
FAILING = "出差报销需要提交哪些材料？"


@pytest.fixture
def models(settings, fake_llm):
    settings.LLM_MODELS = [
        {
            "name": "DeepSeek-R1",
            "model": "deepseek-reasoner",
            "base_url": fake_llm.base_url,
            "price": [0.14, 0.55, 2.19],
        },
        {"name": "DeepSeek-V3", "model": "deepseek-chat", "base_url": fake_llm.base_url, "reasoning": False},
    ]
    for question, reply in REPLIES.items():
        fake_llm.when(asks=question, content=reply, usage=USAGE)
    fake_llm.when(asks=FAILING, status=400)
    return fake_llm


@pytest.fixture
def floor_zero(kb):
    """Every passage found is sent, as the guide's knowledge base is set up for these figures."""
    kb.relevance_floor = 0.0
    kb.save()
    return kb


def run(*args, **options) -> None:
    call_command("eval_answers", *args, json=True, **options)


def evaluated(capsys, dataset: Path = DATASET, **options) -> dict:
    call_command("eval_answers", str(dataset), json=True, **options)
    return json.loads(capsys.readouterr().out)


def test_it_scores_the_scripted_answers_exactly(floor_zero, guide, models, capsys):
    result = evaluated(capsys, knowledge_base="guide")
    summary = result["summary"]
    assert {key: summary[key] for key in ("model", "mode", "questions", "answerable", "unanswerable")} == {
        "model": "DeepSeek-R1",
        "mode": "llm",
        "questions": 13,
        "answerable": 10,
        "unanswerable": 3,
    }
    assert summary["contains_reference"] == 0.7
    # Seven exact 1.0, one "1200G" for "1200G-1400G" (2/9), one with three extra tokens (14/17).
    assert summary["token_f1"] == round((6 + 0.2222 + 0.8235) / 10, 4)
    assert summary["citation_precision"] == round(8.5 / 9, 4)  # [1][2] counts half; the refusal cites none
    assert summary["cites_supporting"] == 0.9  # all but the refusal
    assert (summary["uncited"], summary["false_refusals"], summary["failed"]) == (0, 1, 1)
    assert summary["refusal_accuracy"] == round(1 / 3, 4)
    assert (summary["prompt_tokens"], summary["completion_tokens"], summary["reasoning_tokens"]) == (
        12000,
        1200,
        480,
    )
    assert summary["cost_usd"] == round(12 * (1000 * 0.55 + 100 * 2.19) / 1e6, 6)
    assert all(isinstance(summary[key]["p50"], int) for key in ("first_token_ms", "total_ms"))


def test_it_reports_each_question(floor_zero, guide, models, capsys):
    questions = {q["line"]: q for q in evaluated(capsys, knowledge_base="guide")["questions"]}
    partly = questions[6]
    assert (partly["contains_reference"], partly["token_f1"], partly["citation_precision"]) == (
        False,
        0.2222,
        1.0,
    )
    assert (questions[4]["supporting_citations"], questions[4]["citations"]) == (1, 2)
    assert (
        questions[8]["refused"]
        and questions[8]["citations"] == 0
        and questions[8]["citation_precision"] is None
    )
    made_up = questions[12]
    assert (made_up["refused"], made_up["contains_reference"], made_up["supporting_citations"]) == (
        False,
        None,
        None,
    )
    failed = questions[13]
    assert (failed["status"], failed["refused"], failed["prompt_tokens"]) == ("failed", False, None)
    assert failed["error"]
    assert questions[1]["answer"] == "6710亿 [1]" and questions[1]["first_token_ms"] is not None


def test_it_asks_the_model_named(floor_zero, guide, models, capsys):
    summary = evaluated(capsys, knowledge_base="guide", model="DeepSeek-V3", limit=2)["summary"]
    assert (summary["model"], summary["questions"], summary["contains_reference"]) == ("DeepSeek-V3", 2, 1.0)
    assert summary["cost_usd"] is None  # no price configured for it
    assert [request["model"] for request in models.requests] == ["deepseek-chat", "deepseek-chat"]


def test_passages_shown_because_the_model_is_unreachable_score_as_no_answer(
    floor_zero, guide, settings, capsys
):
    settings.LLM_MODELS = [{"name": "Down", "model": "r1", "base_url": "http://127.0.0.1:9", "retries": 0}]
    result = evaluated(capsys, knowledge_base="guide", limit=2)
    assert [(q["mode"], q["error"], q["citations"]) for q in result["questions"]] == [
        ("retrieval-only", "unreachable", 0)
    ] * 2
    summary = result["summary"]
    assert (summary["contains_reference"], summary["cites_supporting"], summary["failed"]) == (0.0, 0.0, 2)
    assert summary["false_refusals"] == 0


def test_the_nothing_found_reply_is_a_refusal(kb, guide, models, capsys):
    kb.relevance_floor = 0.99
    kb.save()
    summary = evaluated(capsys, knowledge_base="guide")["summary"]
    assert (summary["refusal_accuracy"], summary["false_refusals"], summary["contains_reference"]) == (
        1.0,
        10,
        0.0,
    )
    assert summary["citation_precision"] is None and summary["cost_usd"] is None
    assert models.requests == []


def test_without_a_model_it_scores_the_passages_shown(floor_zero, guide, capsys):
    result = evaluated(capsys, knowledge_base="guide")
    summary = result["summary"]
    assert (summary["mode"], summary["model"]) == ("retrieval-only", None)
    assert summary["contains_reference"] is None and summary["token_f1"] is None
    # The guide's knowledge base shows up to five passages (fewer where widening joined neighbours),
    # one of them the supporting one, for every question.
    answerable = [q for q in result["questions"] if q["reference"] is not None]
    assert all(q["supporting_citations"] == 1 and 1 < q["citations"] <= 5 for q in answerable)
    precision = round(sum(1 / q["citations"] for q in answerable) / len(answerable), 4)
    assert (summary["citation_precision"], summary["cites_supporting"]) == (precision, 1.0)
    assert summary["refusal_accuracy"] == 0.0  # with the floor at 0 something is always shown
    assert summary["first_token_ms"] == {"p50": None, "p95": None}


def test_it_prints_a_table(floor_zero, guide, models, capsys):
    call_command("eval_answers", str(DATASET), knowledge_base="guide", limit=1)
    out = capsys.readouterr().out
    assert "1 questions (1 answerable, 0 unanswerable), knowledge base guide, model DeepSeek-R1" in out
    assert "contains reference  1.0000" in out and "cost                $0.000769" in out
    assert "1     yes       1.0000  1/1    no       DeepSeek-V3 有多少参数？" in out


def test_it_answers_from_documents_in_a_throw_away_knowledge_base(tmp_path, models, capsys):
    shutil.copy(CORPUS, tmp_path / CORPUS.name)
    summary = evaluated(capsys, documents=str(tmp_path), limit=2)["summary"]
    assert summary["knowledge_base"].startswith("eval-answers-")
    assert (summary["contains_reference"], summary["citation_precision"]) == (1.0, 1.0)
    assert not KnowledgeBase.objects.exists()


def test_it_removes_the_throw_away_knowledge_base_on_error(tmp_path, models, monkeypatch):
    shutil.copy(CORPUS, tmp_path / CORPUS.name)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(answer_evaluation, "evaluate", interrupt)
    with pytest.raises(KeyboardInterrupt):
        call_command("eval_answers", str(DATASET), documents=str(tmp_path))
    assert not KnowledgeBase.objects.exists()


def write(tmp_path, *lines: str) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"question": "DeepSeek-V3 有多少参数？", "answer": "6710亿", "supporting": "6710亿"})


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ((GOOD, "{not json"), r"line 2: not JSON \(Expecting property name"),
        ((GOOD, "", "[1]"), "line 3: expected a JSON object"),
        (('{"question": "Q?", "answer": "A", "suporting": "x"}',), r"line 1: unknown field\(s\) suporting"),
        (('{"answer": "A", "supporting": "x"}',), "line 1: question must be a string"),
        (
            ('{"question": "？？", "answer": null}',),
            "line 1: question must be a string with letters or digits",
        ),
        (('{"question": "Q?", "answer": "A"}',), "line 1: an answerable question needs a supporting text"),
        (('{"question": "Q?", "answer": null, "document": "a.md"}',), "line 1: a question without an answer"),
        (('{"question": "Q?", "answer": 42, "supporting": "x"}',), "line 1: answer must be a string"),
        ((json.dumps({"question": "Q" * 8001, "answer": None}),), "line 1: question is longer than 8000"),
        (("", "  "), "no questions"),
    ],
)
def test_it_refuses_a_bad_data_set_naming_the_line(tmp_path, lines, problem):
    with pytest.raises(CommandError, match=problem):
        run(str(write(tmp_path, *lines)), knowledge_base="guide")


def test_it_refuses_too_many_questions_and_too_large_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(answer_evaluation, "MAX_QUESTIONS", 2)
    with pytest.raises(CommandError, match="more than 2 questions"):
        run(str(write(tmp_path, GOOD, GOOD, GOOD)), knowledge_base="guide")
    monkeypatch.setattr(answer_evaluation, "MAX_DATASET_BYTES", 100)
    with pytest.raises(CommandError, match="larger than 100 bytes"):
        run(str(write(tmp_path, GOOD, GOOD)), knowledge_base="guide")


def test_it_refuses_a_file_that_is_not_utf8_or_not_there(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_bytes('{"question": "年假有几天？", "answer": null}'.encode("gbk"))
    with pytest.raises(CommandError, match="not UTF-8"):
        run(str(path), knowledge_base="guide")
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.jsonl"), knowledge_base="guide")


def test_it_refuses_an_unknown_model_naming_the_configured_ones(kb, models):
    with pytest.raises(
        CommandError, match=r"No model named 'GPT-5'; configured: 'DeepSeek-R1', 'DeepSeek-V3'"
    ):
        run(str(DATASET), knowledge_base="guide", model="GPT-5")


def test_it_refuses_a_model_name_when_none_is_configured(kb):
    with pytest.raises(CommandError, match="No language model is configured"):
        run(str(DATASET), knowledge_base="guide", model="DeepSeek-R1")


def test_it_refuses_an_unknown_knowledge_base_or_none(db):
    with pytest.raises(CommandError, match="No knowledge base with the slug 'nope'"):
        run(str(DATASET), knowledge_base="nope")
    with pytest.raises(CommandError, match="--knowledge-base --documents is required"):
        run(str(DATASET))


def test_it_refuses_a_document_the_knowledge_base_lacks(kb):
    with pytest.raises(CommandError, match=r"Line 1: no ready document 'deepseek-r1-guide\.zh\.md'"):
        run(str(DATASET), knowledge_base="guide")


def test_it_refuses_a_folder_without_documents(tmp_path, db):
    with pytest.raises(CommandError, match="no documents"):
        run(str(DATASET), documents=str(tmp_path))
    assert not KnowledgeBase.objects.exists()


def test_tokens_ignore_width_case_punctuation_and_citations():
    assert answer_scoring.tokens("ＤｅｅｐＳｅｅｋ-V3 有 6710 亿[1]。") == [
        "deepseek",
        "v3",
        "有",
        "6710",
        "亿",
    ]
    assert answer_scoring.contains_reference("参数是6710亿（671B）[2]", "6710 亿")
    assert not answer_scoring.contains_reference("1200G 或 1400G", "1200G-1400G 左右")
    assert answer_scoring.token_f1("大约需要 1200G 显存", "1200G-1400G") == pytest.approx(2 / 9)


@pytest.mark.parametrize(
    ("content", "refused"),
    [
        ("The documents don’t cover the context length.", True),
        ("资料中未提及年假天数。", True),
        ("The passages give no informational detail beyond [1].", False),
        ("DeepSeek-R1 的上下文窗口是 64K token [1]。", False),
    ],
)
def test_a_refusal_is_one_of_the_phrases_in_whole_tokens(content, refused):
    assert answer_scoring.refuses(content=content, grounding="documents", mode="llm", cited=1) is refused


def test_a_cited_passage_supports_with_the_text_and_from_the_document_named():
    cited = {"document": "guide.md", "text": "DeepSeek-V3的6710亿（671B）参数，能够理解"}
    assert answer_scoring.supports(cited, supporting="6710亿 (671B)", document="guide.md")
    assert answer_scoring.supports(cited, supporting="", document="guide.md")
    assert not answer_scoring.supports(cited, supporting="6710亿", document="other.md")
    assert not answer_scoring.supports(cited, supporting="1750多亿参数", document="")
