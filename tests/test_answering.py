import asyncio
import itertools
import threading
import time

import pytest
from django.core.cache import cache

from chat import answering, recording, stopping
from chat.models import Conversation, Message
from tests.conftest import PRODUCTS, QUESTION, ask, ingest_texts
from tests.settings import SHARED_CACHE

# The answer path runs the ORM from other threads: they must see committed rows.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]


def test_it_answers_with_passages_when_no_model_is_configured(user, kb, guide):
    events = ask(user, kb)
    names = [name for name, _ in events]
    assert names == ["meta", "searching", "passages", "content", "done"]
    assert events[0][1]["mode"] == "retrieval-only"
    assert "No language model is configured" in events[3][1]["text"]
    done = events[-1][1]
    assert "6710亿（671B）" in done["citations"][0]["text"]
    # Every passage shown is a citation, numbered in order, each with its anchor in the answer.
    assert [c["n"] for c in done["citations"]] == list(range(1, len(done["citations"]) + 1))
    for citation in done["citations"]:
        assert f'id="cite-{done["message_id"]}-{citation["n"]}"' in done["html"]
    assert "No language model is configured" in done["html"]


def test_it_streams_reasoning_then_a_cited_answer(user, kb, guide, llm):
    llm.script(reasoning="The passages say 671B.", content="DeepSeek-V3 有 6710 亿参数 [1]。")
    events = ask(user, kb)
    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-1] == "done"
    assert names.index("reasoning") < names.index("content")
    done = events[-1][1]
    assert [c["n"] for c in done["citations"]] == [1]
    assert "6710亿（671B）" in done["citations"][0]["text"]
    assert f'href="#cite-{done["message_id"]}-1"' in done["html"]


def test_it_saves_the_question_and_the_whole_answer(user, kb, guide, llm):
    llm.script(reasoning="Thinking about it.", content="It has 671B parameters [1].")
    ask(user, kb)
    question, answer = Message.objects.order_by("id")
    assert (question.role, question.content) == ("user", QUESTION)
    assert answer.reasoning == "Thinking about it."
    assert answer.content == "It has 671B parameters [1]."
    assert answer.status == Message.Status.COMPLETE
    assert answer.usage["prompt_tokens"] > 0
    timings = answer.timings
    assert isinstance(timings["retrieval_ms"], int) and timings["retrieval_ms"] > 0  # it embeds the question
    assert timings["retrieval_ms"] <= timings["first_reasoning_ms"] <= timings["first_content_ms"]
    assert timings["first_content_ms"] <= timings["total_ms"]
    assert answer.model == "deepseek-reasoner"


def test_it_sends_passages_as_numbered_system_messages(user, kb, guide, llm):
    ask(user, kb)
    messages = llm.requests[-1]["messages"]
    assert messages[0]["role"] == "system" and "[1]" in messages[0]["content"]
    assert messages[1]["role"] == "system"
    assert messages[1]["content"].startswith("[1] Source: deepseek-r1-guide")
    assert messages[-1] == {"role": "user", "content": QUESTION}


def test_it_never_sends_earlier_reasoning_back(user, kb, guide, llm):
    llm.script(reasoning="SECRET-CHAIN-OF-THOUGHT", content="671B [1].")
    ask(user, kb)
    conversation = Conversation.objects.get()
    ask(user, kb, "它是什么架构？", conversation=conversation)
    sent = llm.requests[-1]["messages"]
    assert all("SECRET-CHAIN-OF-THOUGHT" not in m["content"] for m in sent)
    assert {"role": "assistant", "content": "671B [1]."} in sent
    assert all(set(m) == {"role", "content"} for m in sent)


def test_it_keeps_the_question_and_reports_a_wrong_key(user, kb, guide, llm):
    llm.script(status=401)
    events = ask(user, kb)
    error = dict(events)["error"]
    assert error["code"] == "auth"
    assert "API key" in error["message"]
    answer = Message.objects.get(role="assistant")
    assert answer.status == Message.Status.FAILED and answer.error == error["message"]
    assert Message.objects.filter(role="user", content=QUESTION).exists()


def test_it_searches_only_knowledge_bases_the_user_may_read(outsider, kb, guide):
    events = ask(outsider, kb)
    assert dict(events)["done"]["citations"] == []


def test_a_conversation_whose_knowledge_bases_the_user_may_no_longer_read_says_so(user, kb, guide, llm):
    conversation = Conversation.objects.create(user=user)
    conversation.knowledge_bases.set([kb])
    user.groups.clear()  # removed from the group that reads the knowledge base
    events = ask(user, kb, conversation=conversation)
    assert [name for name, _ in events] == ["meta", "searching", "passages", "content", "done"]
    assert "can no longer read the knowledge bases" in events[3][1]["text"]
    assert llm.requests == []  # not answered from general knowledge either
    assert events[-1][1]["grounding"] == "not-found" and events[-1][1]["citations"] == []


def test_a_follow_up_is_retrieved_with_the_previous_turn_but_not_its_reasoning(user, kb, llm, tmp_path):
    ingest_texts(kb, tmp_path, PRODUCTS)
    conversation = Conversation.objects.create(user=user)
    conversation.knowledge_bases.set([kb])
    llm.script(reasoning="Atlas server, maybe?", content="The Boreal laptop is a light machine [1].")
    ask(user, kb, "Tell me about the Boreal laptop.", conversation)
    llm.script(content="16 GB [1].")
    events = ask(user, kb, "How much memory does it need?", conversation)
    assert events[-1][1]["citations"][0]["document"] == "boreal.txt"
    # Without the conversation, the same words point at the other product.
    fresh = ask(user, kb, "How much memory does it need?")
    assert fresh[-1][1]["citations"][0]["document"] == "atlas.txt"


class _StreamedElsewhere(set):
    def add(self, message_id: int) -> None:
        pass


@pytest.mark.parametrize("where", ["this process", "another process"])
def test_a_stop_request_ends_the_stream_and_keeps_the_partial_answer(
    user, kb, guide, llm, monkeypatch, settings, where
):
    monkeypatch.setattr(stopping, "STOP_CHECK_SECONDS", 0)
    if where == "another process":
        # The answer streams here; the stop arrives through the shared cache, as it does when another
        # web process took the stop request.
        settings.CACHES = {"default": SHARED_CACHE}
        monkeypatch.setattr(stopping, "_streaming", _StreamedElsewhere())
        cache.clear()  # message ids repeat from one test run to the next
    llm.script(reasoning="Let me think about this for a while. " * 20, content="Never reached.", delay=0.01)
    conversation = Conversation.objects.create(user=user)
    conversation.knowledge_bases.set([kb])

    async def collect() -> list[tuple[str, dict]]:
        events = []
        async for event in answering.answer_question(user=user, conversation=conversation, question=QUESTION):
            events.append(event)
            if event[0] == "reasoning" and len(events) == 5:
                await answering.request_stop(await Message.objects.aget(id=events[0][1]["message_id"]))
        return events

    events = asyncio.run(collect())
    names = [name for name, _ in events]
    assert "content" not in names and names[-1] == "done"
    assert events[-1][1]["status"] == "stopped"
    answer = Message.objects.get(role=Message.Role.ASSISTANT)
    assert answer.status == Message.Status.STOPPED
    assert answer.reasoning and len(answer.reasoning) < len("Let me think about this for a while. " * 20)


def test_the_answer_records_usage_and_its_cost_at_the_configured_prices(user, kb, guide, llm, settings):
    settings.LLM_MODELS = [
        {"model": "deepseek-reasoner", "base_url": llm.base_url, "price": [0.14, 0.55, 2.19]}
    ]
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "prompt_cache_hit_tokens": 800,
        "prompt_cache_miss_tokens": 200,
        "completion_tokens_details": {"reasoning_tokens": 300},
    }
    llm.script(usage=usage)
    ask(user, kb)
    answer = Message.objects.get(role=Message.Role.ASSISTANT)
    assert answer.usage["reasoning_tokens"] == 300 and answer.usage["cache_hit_tokens"] == 800
    assert answer.cost_usd == pytest.approx((800 * 0.14 + 200 * 0.55 + 500 * 2.19) / 1e6)
    assert answer.model == "deepseek-reasoner"


def _nothing_relevant(kb) -> None:
    kb.relevance_floor = 0.99  # nothing clears it
    kb.save()


def test_without_relevant_passages_the_knowledge_base_reply_is_given_without_a_model_call(
    user, kb, guide, llm
):
    _nothing_relevant(kb)
    kb.nothing_found_reply = "这个问题请咨询 IT 服务台。"
    kb.save()
    events = ask(user, kb)
    assert [name for name, _ in events] == ["meta", "searching", "passages", "content", "done"]
    assert events[3][1]["text"] == "这个问题请咨询 IT 服务台。"
    assert events[-1][1]["grounding"] == "not-found" and events[-1][1]["citations"] == []
    assert llm.requests == []
    assert Message.objects.get(role=Message.Role.ASSISTANT).grounding == Message.Grounding.NOT_FOUND


def test_a_distill_reply_without_a_closing_tag_streams_as_reasoning_then_becomes_the_answer(
    user, kb, guide, llm
):
    llm.script(style="plain", content="DeepSeek-V3 有 6710 亿参数 [1]。")
    events = ask(user, kb)
    streamed = "".join(data["text"] for name, data in events if name == "reasoning")
    assert streamed == "DeepSeek-V3 有 6710 亿参数 [1]。"
    [replacement] = [data for name, data in events if name == "content"]
    assert replacement == {"text": "DeepSeek-V3 有 6710 亿参数 [1]。", "replaces_reasoning": True}
    answer = Message.objects.get(role=Message.Role.ASSISTANT)
    assert (answer.reasoning, answer.content) == ("", "DeepSeek-V3 有 6710 亿参数 [1]。")
    assert answer.timings["first_reasoning_ms"] is None and answer.citations


def test_answers_write_to_sqlite_in_turn_on_one_thread(user, kb, guide, monkeypatch):
    from django.db import connection

    threads: list[str] = []
    for name in ("start_turn", "save_answer"):
        real = getattr(recording, name)

        def noting(real=real, **kwargs):
            threads.append(threading.current_thread().name)
            return real(**kwargs)

        monkeypatch.setattr(recording, name, noting)
    ask(user, kb)
    if connection.vendor == "sqlite":
        assert len(threads) == 2 and all(name.startswith("sqlite-writer") for name in threads)
    else:
        assert len(threads) == 2 and not any(name.startswith("sqlite-writer") for name in threads)


def test_the_finished_answer_is_rendered_off_the_event_loop(user, kb, guide, llm, monkeypatch):
    """Rendering may take a second of CPU and wait for the highlighter: other streams keep going."""

    def slow_render(content, **kwargs) -> str:
        time.sleep(0.6)
        return "<p>rendered</p>"

    monkeypatch.setattr(answering.rendering, "render_html", slow_render)
    conversation = Conversation.objects.create(user=user)
    conversation.knowledge_bases.set([kb])
    ticks: list[float] = []

    async def answer_beside_another_stream() -> list:
        async def other_stream() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        other = asyncio.create_task(other_stream())
        events = [
            e
            async for e in answering.answer_question(user=user, conversation=conversation, question=QUESTION)
        ]
        await asyncio.sleep(0.05)  # a tick after the answer, had the loop been held
        other.cancel()
        return events

    events = asyncio.run(answer_beside_another_stream())
    assert events[-1][1]["html"] == "<p>rendered</p>"
    assert max(later - earlier for earlier, later in itertools.pairwise(ticks)) < 0.4
