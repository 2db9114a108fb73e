"""Follow-up questions under an answer: what the short call is sent (never reasoning), how its reply
is read, when it is made at all, and how the chat page receives, saves and shows them."""

import asyncio
from dataclasses import replace

import pytest
from django.urls import reverse

from chat import answering, engine, suggestions
from chat.models import Conversation, Message
from policy.models import WordList
from tests.conftest import QUESTION, signed_in
from tests.faq_fixtures import LEAVE_ZH
from tests.policy_lists import word_list
from tests.sse import ask_on_chat_page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]

MARKER = "You suggest follow-up questions"  # in the instructions of the suggestion call only
REASONING = "SECRET-CHAIN: the user wants the parameter count; passage [1] has it."
ANSWER = "DeepSeek-V3 共有 6710 亿参数 [1]。"
SUGGESTED = "1. DeepSeek-V3 每个词元激活多少参数？\n2. DeepSeek-R1 是如何训练的？\n3. 上下文长度是多少？"


def _outcome(**changes) -> engine.Outcome:
    complete = engine.Outcome(
        content="It has 671B parameters [1].",
        reasoning="",
        citations=[{"n": 1, "text": "DeepSeek-V3 has 671B parameters."}],
        mode=Message.Mode.LLM,
        grounding=Message.Grounding.DOCUMENTS,
        status=Message.Status.COMPLETE,
        finish_reason="stop",
        timings={},
    )
    return replace(complete, **changes)


def test_it_reads_one_question_a_line_without_numbering_bullets_or_quotes():
    reply = (
        "Here are some follow-up questions:\n"
        "1. How many parameters are active per token?\n\n"
        '- "How was DeepSeek-R1 trained?"\n'
        "**3) What is the context length?**\n"
        "4. What about the licence?\n"
    )
    assert suggestions.parse_reply(reply, question="How big is it?") == [
        "How many parameters are active per token?",
        "How was DeepSeek-R1 trained?",
        "What is the context length?",
    ]


def test_it_drops_the_asked_question_duplicates_and_overlong_lines():
    reply = "\n".join(
        [
            "1、DeepSeek-V3 有多少参数？",  # the question asked, numbered the Chinese way
            "（2）“它是开源的吗？” [2]",
            "• 它是开源的吗",
            "Q3: " + "为什么" * 50,
            "   ",
            "3.5 版本有什么不同？",
        ]
    )
    assert suggestions.parse_reply(reply, question=QUESTION) == ["它是开源的吗？", "3.5 版本有什么不同？"]


@pytest.mark.parametrize(
    "changes",
    [
        {"mode": Message.Mode.RETRIEVAL_ONLY},
        {"grounding": Message.Grounding.FAQ},
        {"grounding": Message.Grounding.NOT_FOUND},
        {"grounding": Message.Grounding.GENERAL},
        {"status": Message.Status.FAILED},
        {"status": Message.Status.STOPPED},
        {"finish_reason": engine.CONTENT_FILTERED},  # withdrawn by the content policy
        {"citations": []},  # nothing cited: nothing to ground them in
    ],
)
def test_they_are_offered_only_for_a_finished_answer_from_the_documents(settings, changes):
    settings.FOLLOW_UP_SUGGESTIONS = True
    assert suggestions.offered_for(_outcome())
    assert not suggestions.offered_for(_outcome(**changes))
    settings.FOLLOW_UP_SUGGESTIONS = False
    assert not suggestions.offered_for(_outcome())


def test_it_sends_the_answer_without_markers_and_the_cited_passages_cut_to_a_bound():
    cited = [{"n": n, "text": f"passage {n} " + "长" * 5000} for n in range(1, 9)]
    answer = "It has 671B parameters [1][2] and [citation:3] more. " + "word " * 2000
    text = suggestions.request_text(question="How big? " * 500, answer=answer, cited=cited)
    assert "[1]" not in text.split("Passages:")[0] and "[citation:3]" not in text
    assert "It has 671B parameters and more." in text
    assert "passage 5 " in text and "passage 6 " not in text
    bound = (
        suggestions.MAX_QUESTION_CHARS
        + suggestions.MAX_ANSWER_CHARS
        + suggestions.MAX_PASSAGES * (suggestions.MAX_PASSAGE_CHARS + 10)
        + 100
    )
    assert len(text) <= bound


def test_a_chinese_question_asks_for_chinese_questions():
    assert "in Chinese" in suggestions.instructions_for("年假有多少天？")
    assert "in Chinese" not in suggestions.instructions_for("How many days of leave do I get?")


def _ask(user, kb, question: str = QUESTION) -> list[tuple[str, dict]]:
    conversation = Conversation.objects.create(user=user)
    conversation.knowledge_bases.set([kb])

    async def collect() -> list[tuple[str, dict]]:
        stream = answering.answer_question(
            user=user, conversation=conversation, question=question, suggest=True
        )
        return [event async for event in stream]

    return asyncio.run(collect())


def _suggestion_requests(fake_llm) -> list[dict]:
    return [r for r in fake_llm.requests if MARKER in str(r["messages"])]


@pytest.fixture
def suggesting(settings, llm):
    settings.FOLLOW_UP_SUGGESTIONS = True
    llm.script(reasoning=REASONING, content=ANSWER)
    llm.when(asks=MARKER, style="plain", content=SUGGESTED)
    return llm


@pytest.mark.anyio
async def test_the_chat_page_gets_them_after_the_answer_and_they_are_saved(
    async_client, user, kb, guide, suggesting
):
    await async_client.aforce_login(user)
    events = await ask_on_chat_page(async_client, question=QUESTION, knowledge_base=kb.id)
    names = [name for name, _ in events]
    assert names[-2:] == ["done", "suggestions"]
    offered = events[-1][1]
    expected = ["DeepSeek-V3 每个词元激活多少参数？", "DeepSeek-R1 是如何训练的？", "上下文长度是多少？"]
    assert offered["questions"] == expected
    answer = await Message.objects.aget(id=offered["message_id"])
    assert answer.suggestions == expected and answer.content == ANSWER

    [sent] = _suggestion_requests(suggesting)
    said = "\n".join(m["content"] for m in sent["messages"])
    assert REASONING not in said and "SECRET-CHAIN" not in said  # never the reasoning
    assert all("reasoning_content" not in m for m in sent["messages"])
    assert "DeepSeek-V3 共有 6710 亿参数。" in said  # the answer, without its marker
    assert answer.citations[0]["text"][:40] in said  # the passage it cites
    assert "in Chinese" in said


def test_the_answer_is_done_before_the_suggestion_call_is_made(user, kb, guide, suggesting):
    events = _ask(user, kb)
    assert [name for name, _ in events][-2:] == ["done", "suggestions"]
    answer = Message.objects.get(role=Message.Role.ASSISTANT)
    assert answer.status == Message.Status.COMPLETE and len(answer.suggestions) == 3
    assert MARKER not in str(suggesting.requests[0]["messages"])  # the answer's own request came first


def test_the_setting_off_makes_no_call(settings, user, kb, guide, suggesting):
    settings.FOLLOW_UP_SUGGESTIONS = False
    events = _ask(user, kb)
    assert "suggestions" not in [name for name, _ in events]
    assert _suggestion_requests(suggesting) == [] and len(suggesting.requests) == 1


def test_a_failed_call_leaves_the_answer_whole_and_offers_nothing(user, kb, guide, suggesting):
    suggesting.reset()
    suggesting.script(reasoning=REASONING, content=ANSWER)
    suggesting.when(asks=MARKER, status=503)
    events = _ask(user, kb)
    names = [name for name, _ in events]
    assert names[-1] == "done" and "error" not in names
    assert len(_suggestion_requests(suggesting)) == 1
    answer = Message.objects.get(role=Message.Role.ASSISTANT)
    assert answer.status == Message.Status.COMPLETE and answer.content == ANSWER and answer.suggestions == []


def test_retrieval_only_answers_make_no_call(settings, user, kb, guide, fake_llm):
    """The model cannot be reached, so the passages answer: the task model, which could, is not asked."""
    settings.FOLLOW_UP_SUGGESTIONS = True
    settings.LLM_MODELS = [
        {"name": "Down", "model": "deepseek-reasoner", "base_url": "http://127.0.0.1:9/v1", "retries": 0},
        {"name": "Tasks", "model": "deepseek-chat", "base_url": fake_llm.base_url, "reasoning": False},
    ]
    settings.LLM_TASK_MODEL = "Tasks"
    fake_llm.script(style="plain", content=SUGGESTED)
    events = _ask(user, kb)
    assert events[-1][1]["mode"] == Message.Mode.RETRIEVAL_ONLY
    assert "suggestions" not in [name for name, _ in events] and fake_llm.requests == []


def test_curated_and_nothing_found_answers_make_no_call(user, kb, guide, faq, suggesting):
    events = _ask(user, kb, LEAVE_ZH)
    assert events[-1][1]["grounding"] == Message.Grounding.FAQ
    kb.relevance_floor = 0.99
    kb.save()
    events = _ask(user, kb, "What is the capital of France?")
    assert events[-1][1]["grounding"] == Message.Grounding.NOT_FOUND
    assert _suggestion_requests(suggesting) == []  # the English question's translation is the only one
    assert len(suggesting.requests) == 1


def test_a_suggestion_with_a_masked_term_is_dropped(user, kb, guide, suggesting):
    word_list("Codenames", WordList.Action.MASK, "上下文")
    events = _ask(user, kb)
    assert events[-1][1]["questions"] == ["DeepSeek-V3 每个词元激活多少参数？", "DeepSeek-R1 是如何训练的？"]


def test_the_page_offers_those_of_the_last_answer_only_as_text(user, other):
    conversation = Conversation.objects.create(user=user, title="Leave")
    for asked, offered in (("First?", "Earlier follow-up?"), ("Second?", "<b>Later</b> follow-up?")):
        question = Message.objects.create(conversation=conversation, role=Message.Role.USER, content=asked)
        Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            reply_to=question,
            content="An answer.",
            mode=Message.Mode.LLM,
            suggestions=[offered],
        )
    page = signed_in(user).get(conversation.get_absolute_url()).content.decode()
    assert "Earlier follow-up?" not in page
    assert page.count('class="follow-up"') == 1 and "&lt;b&gt;Later&lt;/b&gt; follow-up?" in page
    assert signed_in(other).get(conversation.get_absolute_url()).status_code == 404
    assert reverse("chat:home") in page
