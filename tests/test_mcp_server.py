"""The MCP server at /mcp, through the official MCP client over HTTP against the app under uvicorn:
tools, resources, who may see what, keys and limits."""

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx2
import pytest
from django.contrib.auth.models import User
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from api.models import ApiKey
from api.services import api_key_revoke
from audit.models import Event
from chat.answering import MAX_QUESTION_CHARS
from knowledge.models import Document, KnowledgeBase
from knowledge.views import MAX_QUERY_CHARS
from tests.api_fixtures import key_for
from tests.conftest import CORPUS, ingest
from tests.processes import use_data_dir
from tests.usage_data import recorded_answer
from usage.models import QuotaLimit

pytestmark = pytest.mark.django_db(transaction=True)
QUESTION = "DeepSeek-V3 有多少参数？"
TOOL_CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def served(live_app, settings, kb) -> str:
    """The MCP server's URL, with the guide ingested where the server reads its indexes."""
    use_data_dir(settings, live_app[1])
    ingest(kb, CORPUS)
    return f"{live_app[0]}/mcp"


T = TypeVar("T")


def in_session(
    url: str, secret: str, work: Callable[[ClientSession], Awaitable[T]], language: str = "en"
) -> T:
    """What `work` gets done in an MCP session opened with the API key."""

    async def run() -> T:
        headers = {"Authorization": f"Bearer {secret}", "Accept-Language": language}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return asyncio.run(run())


def call(url: str, user: User, tool: str, **arguments) -> tuple[bool, dict | str]:
    """Whether the tool failed, and its result (or its error's message)."""
    result = in_session(url, key_for(user), lambda session: session.call_tool(tool, arguments))
    return bool(result.is_error), result.structured_content or result.content[0].text


def post(url: str, secret: str | None, **headers: str) -> httpx2.Response:
    sent = MCP_HEADERS | ({"Authorization": f"Bearer {secret}"} if secret else {}) | headers
    return httpx2.post(url, json=TOOL_CALL, headers=sent, timeout=30)


def test_it_lists_its_tools_with_their_input_schemas(served, user):
    tools = in_session(served, key_for(user), lambda session: session.list_tools()).tools
    schemas = {tool.name: tool.input_schema for tool in tools}
    assert set(schemas) == {"list_knowledge_bases", "search", "ask"}
    assert schemas["search"]["required"] == ["query"]
    assert schemas["search"]["properties"]["query"]["maxLength"] == MAX_QUERY_CHARS
    assert schemas["ask"]["properties"]["question"]["maxLength"] == MAX_QUESTION_CHARS
    assert {"knowledge_bases", "model", "include_reasoning"} <= set(schemas["ask"]["properties"])


def test_it_lists_the_knowledge_bases_the_key_may_read(served, user, outsider):
    KnowledgeBase.objects.create(name="公开手册", slug="public", is_public=True)
    failed, result = call(served, user, "list_knowledge_bases")
    assert not failed and [kb["slug"] for kb in result["knowledge_bases"]] == ["guide", "public"]
    failed, result = call(served, outsider, "list_knowledge_bases")
    assert [kb["slug"] for kb in result["knowledge_bases"]] == ["public"]


def test_it_searches_passages_with_document_location_and_relevance(served, user):
    failed, result = call(served, user, "search", query="DeepSeek-V3 参数量", knowledge_bases=["guide"])
    assert not failed
    best = result["passages"][0]
    assert best["document"] == CORPUS.name and best["knowledge_base"] == "guide"
    assert 0 < best["relevance"] <= 1 and best["rank"] == 1
    assert best["location"] and "671" in "".join(p["text"] for p in result["passages"])
    assert best["uri"].startswith("kbchat://passages/")
    assert best["original_uri"] == f"kbchat://documents/{best['document_id']}/original"


def test_it_answers_with_citations_and_reasoning_only_when_asked(served, user, fake_llm):
    fake_llm.script(reasoning="资料 [1] 写着 6710 亿。", content="DeepSeek-V3 共有 6710 亿参数 [1]。")
    failed, result = call(served, user, "ask", question=QUESTION)
    assert not failed and result["answer"] == "DeepSeek-V3 共有 6710 亿参数 [1]。"
    assert "reasoning" not in result
    cited = result["citations"][0]
    assert cited["n"] == 1 and cited["document"] == CORPUS.name and 0 < cited["relevance"] <= 1
    assert "location" in cited and cited["uri"].startswith("kbchat://passages/")
    failed, result = call(served, user, "ask", question=QUESTION, include_reasoning=True)
    assert result["reasoning"] == "资料 [1] 写着 6710 亿。"
    asked = Event.objects.filter(kind=Event.Kind.QUESTION, user=user)
    assert asked.count() == 2


def test_it_reads_a_passage_and_an_original(served, user):
    document = Document.objects.get(title=CORPUS.name)
    chunk = document.chunks.order_by("position").first()

    async def read(session: ClientSession):
        passage = await session.read_resource(f"kbchat://passages/{chunk.id}")
        original = await session.read_resource(f"kbchat://documents/{document.id}/original")
        listed = await session.list_resources()
        return passage.contents[0], original.contents[0], listed.resources

    passage, original, listed = in_session(served, key_for(user), read)
    assert json.loads(passage.text)["text"] == chunk.text
    assert json.loads(passage.text)["document"] == CORPUS.name
    assert base64.b64decode(original.blob) == CORPUS.read_bytes()
    assert original.mime_type == document.mime
    assert [str(resource.uri) for resource in listed] == [f"kbchat://documents/{document.id}/original"]


def test_it_shows_an_outsider_none_of_another_groups_knowledge_bases(served, outsider):
    document = Document.objects.get(title=CORPUS.name)
    chunk = document.chunks.first()
    for tool, arguments in [("search", {"query": "DeepSeek"}), ("ask", {"question": QUESTION})]:
        failed, message = call(served, outsider, tool, knowledge_bases=["guide"], **arguments)
        assert failed and "guide" in message and "not read" in message
    failed, result = call(served, outsider, "search", query="DeepSeek")
    assert not failed and result["passages"] == []

    async def read(session: ClientSession):
        with pytest.raises(MCPError, match="no such resource"):
            await session.read_resource(f"kbchat://documents/{document.id}/original")
        with pytest.raises(MCPError, match="no such resource"):
            await session.read_resource(f"kbchat://passages/{chunk.id}")
        return (await session.list_resources()).resources

    assert in_session(served, key_for(outsider), read) == []


def test_it_refuses_no_key_a_bad_key_and_a_revoked_key(served, user):
    secret = key_for(user)
    assert post(served, secret).status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get(user=user))
    for refused in (None, "kb-not-a-key", secret):
        response = post(served, refused)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == 'Bearer realm="mcp"'


def test_it_refuses_requests_over_the_keys_rate(served, user, settings):
    secret = key_for(user)
    statuses = [post(served, secret).status_code for _ in range(121)]  # API_RATE_PER_KEY: 120/min
    assert statuses[:120] == [200] * 120 and statuses[120] == 429
    response = post(served, secret)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "Try again in" in response.json()["error"]


def test_it_says_what_is_wrong_with_an_over_long_query(served, user):
    failed, message = call(served, user, "search", query="x" * (MAX_QUERY_CHARS + 1))
    assert failed and "query" in message and str(MAX_QUERY_CHARS) in message
    failed, message = call(served, user, "search", query="DeepSeek", top_k=10_000)
    assert failed and "top_k" in message


def test_it_refuses_an_ask_over_the_users_quota(served, user):
    QuotaLimit.objects.create(user=user, questions_per_day=1)
    recorded_answer(user)
    failed, message = call(served, user, "ask", question=QUESTION)
    assert failed and message.startswith("You have reached your limit of 1 questions a day.")


def test_it_draws_asks_on_the_answer_budget(served, user):
    async def ask_31_times(session: ClientSession) -> list[str]:
        arguments = {"question": QUESTION, "knowledge_bases": ["nowhere"]}
        results = [await session.call_tool("ask", arguments) for _ in range(31)]  # 30/min per user
        return [result.content[0].text for result in results]

    messages = in_session(served, key_for(user), ask_31_times)
    assert all("nowhere" in message for message in messages[:30])
    assert messages[30].startswith("Too many questions in a short time. Try again in")


def test_it_speaks_chinese_when_asked(served, user):
    response = post(served, "kb-not-a-key", **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 401 and "有效的 API 密钥" in response.json()["error"]

    async def search_elsewhere(session: ClientSession):
        return await session.call_tool("search", {"query": "参数", "knowledge_bases": ["别处"]})

    result = in_session(served, key_for(user), search_elsewhere, language="zh-CN,zh;q=0.9")
    assert result.is_error and result.content[0].text == "知识库“别处”不存在，或您无权阅读。"


def test_it_refuses_a_host_it_does_not_serve(served, user):
    response = post(served, key_for(user), Host="attacker.example")
    assert response.status_code == 400


def test_it_returns_a_model_failure_as_a_tool_error(served, user, fake_llm):
    fake_llm.script(mid_stream_error="Model crashed")
    failed, message = call(served, user, "ask", question=QUESTION)
    # The plain message; the upstream's own words are detail for administrators.
    assert failed and "failed part-way through the answer" in message and "Model crashed" not in message
