"""The answer decision tree, once, against the engine, with a scripted model."""

import asyncio
from unittest.mock import Mock

import pytest

from audit.models import Event
from chat import engine, fixed_replies
from chat.model_config import ModelConfig, Price
from chat.providers import Content, Done, Error, Reasoning, Usage
from policy.models import WordList
from tests.conftest import QUESTION
from tests.policy_lists import word_list
from tests.scripted_model import UNREACHABLE, ScriptedModel

# Retrieval runs the ORM from pool threads: they must see committed rows.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]

CONFIG = ModelConfig(name="R1", model="deepseek-reasoner", base_url="http://model.invalid/v1", api_key="")


def answer(kb, model: ScriptedModel | None = None, **question) -> list:
    """The engine's events for QUESTION on `kb` (the model CONFIG unless `config` is given)."""
    asked = engine.Question(**({"text": QUESTION, "knowledge_bases": [kb], "config": CONFIG} | question))
    return run(engine.Answer(asked, stream_chat=model))


def run(answer_: engine.Answer) -> list:
    async def collect() -> list:
        return [event async for event in answer_.events()]

    return asyncio.run(collect())


def kinds(events: list) -> list[str]:
    return [type(event).__name__ for event in events]


def test_it_says_retrieval_started_first_and_ends_with_the_outcome(kb, guide):
    model = ScriptedModel(Content("671B [1]."), Done("stop"))
    events = answer(kb, model)
    assert kinds(events) == ["Searching", "Passages", "Content", "Outcome"]


def test_without_a_model_the_passages_are_the_answer(kb, guide):
    events = answer(kb, config=None)
    assert kinds(events) == ["Searching", "Passages", "Content", "Outcome"]
    passages, outcome = events[1].passages, events[-1]
    assert events[2].text.startswith(fixed_replies.retrieval_only_notice(True))
    assert (outcome.mode, outcome.status) == ("retrieval-only", "complete")
    assert [c["chunk_id"] for c in outcome.citations] == [p.chunk_id for p in passages]


def test_with_nothing_relevant_the_knowledge_base_reply_is_given_without_the_model(kb, guide):
    kb.relevance_floor, kb.nothing_found_reply = 0.99, "这个问题请咨询 IT 服务台。"
    kb.save()
    model = ScriptedModel(Content("never"))
    events = answer(kb, model)
    assert events[1].passages == [] and events[2].text == "这个问题请咨询 IT 服务台。"
    assert (events[-1].grounding, events[-1].citations) == ("not-found", [])
    assert model.prompts == []


def test_with_nothing_relevant_the_model_answers_from_general_knowledge_where_allowed(kb, guide):
    kb.relevance_floor, kb.when_nothing_found = 0.99, "general"
    kb.save()
    model = ScriptedModel(Content("A large model [1]."), Done("stop"))
    outcome = answer(kb, model)[-1]
    assert "general knowledge" in model.prompts[0][0]["content"]
    assert "[passage begin]" not in str(model.prompts)
    assert (outcome.grounding, outcome.content, outcome.citations) == ("general", "A large model .", [])


def test_a_lost_knowledge_base_is_said_so_without_the_model(kb, guide):
    model = ScriptedModel(Content("never"))
    events = answer(kb, model, knowledge_bases=[], access_lost=True)
    assert "can no longer read" in events[2].text and events[-1].grounding == "not-found"
    assert model.prompts == []


def test_the_model_streams_reasoning_then_an_answer_whose_citations_are_resolved(kb, guide):
    usage = Usage(prompt_tokens=1000, completion_tokens=500)
    model = ScriptedModel(Reasoning("Passage 1."), Content("671B [1], invented [42]."), usage, Done("length"))
    priced = CONFIG.__class__(**vars(CONFIG) | {"price": Price(0.14, 0.55, 2.19)})
    events = answer(kb, model, config=priced)
    assert kinds(events) == ["Searching", "Passages", "Reasoning", "Content", "Usage", "Outcome"]
    outcome = events[-1]
    assert (outcome.reasoning, outcome.content) == ("Passage 1.", "671B [1], invented .")
    assert [c["n"] for c in outcome.citations] == [1] and outcome.finish_reason == "length"
    assert outcome.citations[0]["chunk_id"] == events[1].passages[0].chunk_id
    assert outcome.cost_usd == pytest.approx((1000 * 0.55 + 500 * 2.19) / 1e6)
    assert (outcome.mode, outcome.grounding, outcome.status) == ("llm", "documents", "complete")


def test_an_untagged_reply_replaces_what_streamed_as_reasoning(kb, guide):
    model = ScriptedModel(
        Reasoning("671B [1].", tentative=True), Content("671B [1].", replaces_reasoning=True)
    )
    outcome = answer(kb, model)[-1]
    assert (outcome.reasoning, outcome.content) == ("", "671B [1].")
    assert outcome.timings["first_reasoning_ms"] is None and outcome.citations


@pytest.mark.parametrize("code", ["unreachable", "timeout"])
def test_a_model_out_of_reach_is_answered_with_the_passages(kb, guide, code):
    error = Error(code, "The language model could not be reached.", retryable=True, detail="http://gpu:11434")
    events = answer(kb, ScriptedModel(error))
    assert kinds(events) == ["Searching", "Passages", "Content", "Outcome"]  # no error shown
    assert events[2].text.startswith(fixed_replies.model_unavailable_notice(True))
    outcome = events[-1]
    assert (outcome.mode, outcome.status, outcome.error) == ("retrieval-only", "complete", error)
    assert [c["chunk_id"] for c in outcome.citations] == [p.chunk_id for p in events[1].passages]


def test_a_model_out_of_reach_is_an_error_where_the_caller_wants_no_passages_instead(kb, guide):
    events = answer(kb, ScriptedModel(UNREACHABLE), fall_back_to_passages=False)
    assert kinds(events) == ["Searching", "Passages", "Error", "Outcome"]
    assert (events[-1].status, events[-1].error) == ("failed", UNREACHABLE)


def test_a_timeout_after_the_answer_started_is_an_error_not_passages(kb, guide):
    timeout = Error("timeout", "No answer in time.", retryable=True)
    events = answer(kb, ScriptedModel(Reasoning("Let me see"), timeout))
    assert kinds(events)[-2:] == ["Error", "Outcome"]
    assert (events[-1].mode, events[-1].status, events[-1].reasoning) == ("llm", "failed", "Let me see")


def test_a_stop_ends_the_model_stream_and_keeps_what_arrived(kb, guide):
    model = ScriptedModel(*[Reasoning(f"step {n}. ") for n in range(10)], Content("never"))
    checks = iter([False, False, False, True])  # after the passages, then one per model event
    asked = engine.Question(text=QUESTION, knowledge_bases=[kb], config=CONFIG)

    async def stopped() -> bool:
        return next(checks)

    events = run(engine.Answer(asked, stopped=stopped, stream_chat=model))
    assert kinds(events) == ["Searching", "Passages", "Reasoning", "Reasoning", "Outcome"]
    assert (events[-1].status, events[-1].reasoning) == ("stopped", "step 0. step 1. ")
    assert model.closed


def test_a_revoked_key_ends_the_answer_with_an_error(kb, guide):
    model = ScriptedModel(Reasoning("a"), Reasoning("b"), Content("never"))
    revocations = iter([False, True])
    asked = engine.Question(text=QUESTION, knowledge_bases=[kb], config=CONFIG)

    async def revoked() -> bool:
        return next(revocations)

    events = run(engine.Answer(asked, revoked=revoked, stream_chat=model))
    assert kinds(events) == ["Searching", "Passages", "Reasoning", "Error", "Outcome"]
    assert events[-2].code == engine.KEY_REVOKED and events[-1].status == "failed" and model.closed


def test_a_failure_of_ours_is_an_internal_error_that_tells_no_detail(kb, guide, monkeypatch):
    monkeypatch.setattr(engine, "retrieve_passages", Mock(side_effect=RuntimeError("a bug at /srv/app")))
    events = answer(kb, ScriptedModel(Content("never")))
    assert kinds(events) == ["Searching", "Error", "Outcome"]
    assert events[1].code == "internal" and "/srv/app" not in events[1].message
    assert events[-1].status == "failed"


def test_a_curated_faq_question_gets_its_answer_without_the_model(kb, guide, faq):
    model = ScriptedModel(Content("never"))
    events = answer(kb, model, text="年假有几天?")
    assert kinds(events) == ["Searching", "Passages", "Content", "Outcome"]
    assert events[2].text == "每年 15 天，入职满十年 20 天。" and model.prompts == []
    outcome = events[-1]
    assert (outcome.grounding, outcome.mode, outcome.reasoning, outcome.citations) == ("faq", "llm", "", [])


def test_a_faq_hit_answers_without_a_model_configured_too(kb, guide, faq):
    outcome = answer(kb, config=None, text="how many vacation days do i get")[-1]
    assert (outcome.grounding, outcome.content) == ("faq", "25 days a year, 30 after ten years.")


def test_a_close_faq_pair_goes_to_the_model_first_and_is_cited(kb, guide, faq):
    model = ScriptedModel(Content("15 days [1]."), Done("stop"))
    events = answer(kb, model, text="公司的年假是多少天？")
    passages, outcome = events[1].passages, events[-1]
    assert passages[0].faq_pair_id == faq["年假有几天？"].id
    assert "A: 每年 15 天" in model.prompts[0][1]["content"]  # the first passage, after the instructions
    assert outcome.grounding == "documents" and outcome.citations[0]["faq_pair_id"] == passages[0].faq_pair_id


def test_a_faq_hit_still_counts_against_the_quota_and_is_audited(kb, guide, faq, user, settings):
    settings.QUOTA_QUESTIONS_PER_DAY = 1
    first = answer(kb, ScriptedModel(Content("never")), text="年假有几天?", asker=user)
    assert first[-1].grounding == "faq"
    assert Event.objects.filter(kind="question", user=user, detail__grounding="faq").count() == 1
    refused = answer(kb, ScriptedModel(Content("never")), text="年假有几天?", asker=user)
    assert kinds(refused) == ["Error", "Outcome"] and refused[0].code == "insufficient_quota"


def test_a_faq_answer_is_masked_by_the_content_policy_like_a_passage(kb, guide, faq):
    word_list("内部", WordList.Action.MASK, "入职满十年")
    outcome = answer(kb, ScriptedModel(Content("never")), text="年假有几天?")[-1]
    assert (outcome.grounding, outcome.content) == ("faq", "每年 15 天，***** 20 天。")
