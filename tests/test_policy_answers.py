"""The content policy on questions and answers, in the answer engine every caller goes through:
block, mask and log, for Chinese and English terms, with every hit audited."""

import asyncio

import pytest

from audit.models import Event
from chat import engine
from chat.model_config import ModelConfig
from chat.models import Message
from chat.providers import Content, Done, Reasoning
from policy.models import WordList
from tests.conftest import QUESTION, ask
from tests.policy_lists import word_list
from tests.scripted_model import ScriptedModel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]
BLOCK, MASK, LOG = WordList.Action.BLOCK, WordList.Action.MASK, WordList.Action.LOG
CONFIG = ModelConfig(name="R1", model="deepseek-reasoner", base_url="http://model.invalid/v1", api_key="")


def answer(kb, user, model: ScriptedModel, text: str = QUESTION, **question) -> list:
    asked = engine.Question(
        **({"text": text, "knowledge_bases": [kb], "config": CONFIG, "asker": user} | question)
    )

    async def collect() -> list:
        return [event async for event in engine.Answer(asked, stream_chat=model).events()]

    return asyncio.run(collect())


def audited() -> list[tuple[str, str, str, str]]:
    events = Event.objects.filter(kind=Event.Kind.POLICY).order_by("id")
    return [(e.username, e.detail["where"], e.detail["list"], e.detail["term"]) for e in events]


def sent_question(model: ScriptedModel) -> str:
    return model.prompts[0][-1]["content"]


def test_a_blocked_question_is_refused_before_retrieval_and_the_model(kb, user):
    word_list("禁止", BLOCK, "违禁品")
    model = ScriptedModel(Content("never"))
    events = answer(kb, user, model, text="哪里能买到违禁品？")
    assert [type(e).__name__ for e in events] == ["Searching", "Passages", "Error", "Outcome"]
    assert events[2].code == "content_policy" and "content policy" in events[2].message
    assert (events[-1].status, events[-1].content) == ("failed", "")
    assert model.prompts == []
    assert audited() == [("alice", "question", "禁止", "违禁品")]


def test_an_english_term_is_blocked_whatever_its_case_or_width(kb, user):
    word_list("codes", BLOCK, "Project Falcon")
    model = ScriptedModel(Content("never"))
    events = answer(kb, user, model, text="What is ＰＲＯＪＥＣＴ falcon?")
    assert events[2].code == "content_policy" and model.prompts == []


def test_a_masked_question_reaches_the_model_with_asterisks(kb, user, guide):
    word_list("内部", MASK, "内部代号", "Falcon")
    model = ScriptedModel(Content("好的。"), Done("stop"))
    answer(kb, user, model, text="DeepSeek-V3 的内部代号 falcon 有多少参数？")
    assert sent_question(model).endswith("DeepSeek-V3 的**** ****** 有多少参数？")
    assert audited() == [("alice", "question", "内部", "内部代号"), ("alice", "question", "内部", "Falcon")]


def test_a_logged_question_passes_unchanged_and_is_audited(kb, user, guide):
    word_list("watch", LOG, "参数")
    model = ScriptedModel(Content("好的。"), Done("stop"))
    answer(kb, user, model)
    assert sent_question(model).endswith(QUESTION)
    assert audited() == [("alice", "question", "watch", "参数")]


def test_terms_in_earlier_turns_never_reach_the_model(kb, user, guide):
    word_list("禁止", BLOCK, "违禁品")
    model = ScriptedModel(Content("好的。"), Done("stop"))
    history = [{"role": "user", "content": "违禁品？"}, {"role": "assistant", "content": "不能回答。"}]
    answer(kb, user, model, history=history)
    assert "违禁品" not in str(model.prompts) and "***？" in str(model.prompts)


def test_a_blocked_term_in_the_answer_withdraws_it_even_cut_across_chunks(kb, user, guide):
    word_list("禁止", BLOCK, "违禁品")
    model = ScriptedModel(Reasoning("想一想。"), Content("可以买到违"), Content("禁品，地址是"), Done("stop"))
    events = answer(kb, user, model)
    shown = "".join(e.text for e in events if isinstance(e, Content | Reasoning))
    assert "违" not in shown and isinstance(events[-2], engine.Withdrawn)
    outcome = events[-1]
    assert outcome.content == events[-2].notice and "withdrawn" in outcome.content
    assert (outcome.reasoning, outcome.finish_reason) == ("", "content_filter")
    assert model.closed
    assert audited() == [("alice", "answer", "禁止", "违禁品")]


def test_a_masked_term_in_the_answer_is_masked_even_cut_across_chunks(kb, user, guide):
    word_list("内部", MASK, "内部价格", "falcon")
    model = ScriptedModel(Content("内部价"), Content("格是 3 元，FAL"), Content("CON 项目。"), Done("stop"))
    events = answer(kb, user, model)
    shown = "".join(e.text for e in events if isinstance(e, Content))
    assert shown == events[-1].content == "****是 3 元，****** 项目。"
    assert audited() == [("alice", "answer", "内部", "内部价格"), ("alice", "answer", "内部", "falcon")]


def test_a_logged_term_in_the_answer_passes_and_is_audited_once(kb, user, guide):
    word_list("watch", LOG, "亿")
    model = ScriptedModel(Content("6710 亿参数。"), Content("一亿很多。"), Done("stop"))
    assert answer(kb, user, model)[-1].content == "6710 亿参数。一亿很多。"
    assert audited() == [("alice", "answer", "watch", "亿")]


def test_the_chat_page_gives_a_clear_notice_for_a_blocked_question(user, kb):
    word_list("禁止", BLOCK, "违禁品")
    events = ask(user, kb, "违禁品在哪里买？")
    error = dict(events)["error"]
    assert error["code"] == "content_policy" and "content policy" in error["message"]
    answer_ = Message.objects.get(role="assistant")
    assert (answer_.status, answer_.error_code) == ("failed", "content_policy")


def test_the_chat_page_replaces_a_withdrawn_answer_and_saves_the_notice(user, kb, guide, llm):
    word_list("禁止", BLOCK, "违禁品")
    llm.script(reasoning="资料里有违禁品。", content="答案是违禁品。")
    events = ask(user, kb)
    names = [name for name, _data in events]
    assert "withdrawn" in names and "违禁品" not in str(events)
    saved = Message.objects.get(role="assistant")
    assert saved.content == dict(events)["withdrawn"]["text"] and saved.reasoning == ""
    assert "withdrawn" in dict(events)["done"]["html"]


def test_passages_are_masked_before_the_model_and_in_the_sources(kb, user, guide):
    word_list("内部", MASK, "6710亿")
    model = ScriptedModel(Content("好的 [1]。"), Done("stop"))
    outcome = answer(kb, user, model)[-1]
    assert "6710亿" not in str(model.prompts) and "*****（671B）" in str(model.prompts)
    assert "6710亿" not in str(outcome.citations)
    passages_only = answer(kb, user, model, config=None)[-1]
    assert "6710亿" not in str(passages_only.citations) + passages_only.content
