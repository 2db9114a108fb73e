"""The official openai client, configured as for DeepSeek's API, against the app under uvicorn."""

import openai
import pytest
from django.contrib.auth.models import User

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from knowledge.models import KnowledgeBase
from tests.api_fixtures import key_for
from tests.conftest import CORPUS, ingest
from tests.processes import use_data_dir

pytestmark = pytest.mark.django_db(transaction=True)
QUESTION = "DeepSeek-V3 有多少参数？"


@pytest.fixture
def served(live_app, settings, kb) -> str:
    """The app's base URL, with the guide ingested where the server reads its indexes."""
    use_data_dir(settings, live_app[1])
    ingest(kb, CORPUS)
    return live_app[0]


def client_for(served: str, user: User) -> openai.OpenAI:
    # Exactly as DeepSeek's documentation writes it, with our base URL and key.
    return openai.OpenAI(api_key=key_for(user), base_url=f"{served}/v1", max_retries=0)


def test_it_lists_a_model_per_readable_knowledge_base(served, user, outsider):
    KnowledgeBase.objects.create(name="公开手册", slug="公开手册", is_public=True)
    assert sorted(m.id for m in client_for(served, user).models.list()) == ["kb:guide", "kb:公开手册"]
    assert [m.id for m in client_for(served, outsider).models.list()] == ["kb:公开手册"]


def test_it_answers_with_reasoning_content_citations_and_usage(served, user, fake_llm):
    fake_llm.script(reasoning="资料 [1] 写着 6710 亿。", content="DeepSeek-V3 共有 6710 亿参数 [1]。")
    response = client_for(served, user).chat.completions.create(
        model="kb:guide", messages=[{"role": "user", "content": QUESTION}]
    )
    message = response.choices[0].message
    assert response.object == "chat.completion" and response.model == "kb:guide"
    assert message.reasoning_content == "资料 [1] 写着 6710 亿。"
    assert message.content == "DeepSeek-V3 共有 6710 亿参数 [1]。"
    assert response.choices[0].finish_reason == "stop"
    citations = response.model_extra["citations"]
    assert [c["n"] for c in citations] == [1] and message.model_extra["citations"] == citations
    assert citations[0]["document"] == CORPUS.name and "6710亿（671B）" in citations[0]["text"]
    assert "location" in citations[0]
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens_details.reasoning_tokens > 0


def test_it_streams_deepseek_chunks_with_citations_and_a_usage_chunk(served, user, fake_llm):
    fake_llm.script(reasoning="想一想参数量。", content="6710 亿 [1]。")
    stream = client_for(served, user).chat.completions.create(
        model="kb:guide",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    reasoning = "".join(c.choices[0].delta.reasoning_content or "" for c in chunks if c.choices)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (reasoning, content) == ("想一想参数量。", "6710 亿 [1]。")
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    last_choice = [c for c in chunks if c.choices][-1]
    assert last_choice.choices[0].finish_reason == "stop"
    assert "6710亿（671B）" in last_choice.model_extra["citations"][0]["text"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


def test_a_stream_without_include_usage_has_no_usage_chunk(served, user, fake_llm):
    chunks = list(
        client_for(served, user).chat.completions.create(
            model="kb:guide", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)


def test_it_keeps_client_system_messages_and_history_without_reasoning(served, user, fake_llm):
    client_for(served, user).chat.completions.create(
        model="kb:guide",
        messages=[
            {"role": "system", "content": "Answer in one short sentence."},
            {"role": "user", "content": "What is DeepSeek-V3?"},
            {"role": "assistant", "content": "A model [1].", "reasoning_content": "SECRET-THOUGHTS"},
            {"role": "user", "content": "How many parameters does it have?"},
        ],
    )
    sent = fake_llm.requests[-1]["messages"]
    assert "[1]" in sent[0]["content"]  # our instructions come first
    assert sent[1] == {"role": "system", "content": "Answer in one short sentence."}
    assert sent[2]["content"].startswith("[1] Source:")
    assert sent[-3:] == [
        {"role": "user", "content": "What is DeepSeek-V3?"},
        {"role": "assistant", "content": "A model [1]."},
        {"role": "user", "content": "How many parameters does it have?"},
    ]
    assert "SECRET-THOUGHTS" not in str(sent)


def test_an_outsider_gets_model_not_found(served, outsider, fake_llm):
    with pytest.raises(openai.NotFoundError) as caught:
        client_for(served, outsider).chat.completions.create(
            model="kb:guide", messages=[{"role": "user", "content": QUESTION}]
        )
    assert caught.value.code == "model_not_found"
    assert fake_llm.requests == []


def test_a_revoked_key_is_refused(served, user):
    key, secret = api_key_create(user=user, name="old")
    api_key_revoke(api_key=key)
    client = openai.OpenAI(api_key=secret, base_url=f"{served}/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.code == "invalid_api_key"


def test_an_upstream_failure_is_an_openai_error(served, user, fake_llm):
    fake_llm.script(status=503)
    with pytest.raises(openai.InternalServerError) as caught:
        client_for(served, user).chat.completions.create(
            model="kb:guide", messages=[{"role": "user", "content": QUESTION}]
        )
    assert caught.value.status_code == 503 and caught.value.code == "overloaded"


def test_a_failure_mid_stream_reaches_the_client_as_an_error(served, user, fake_llm):
    fake_llm.script(mid_stream_error="Model crashed")
    stream = client_for(served, user).chat.completions.create(
        model="kb:guide", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    # The client gets the plain message; the upstream's own words are detail for administrators.
    with pytest.raises(openai.APIError, match="failed part-way through the answer") as caught:
        list(stream)
    assert "Model crashed" not in str(caught.value)


def revoke(key: ApiKey) -> None:
    api_key_revoke(api_key=key)


def deactivate_its_user(key: ApiKey) -> None:
    key.user.is_active = False
    key.user.save(update_fields=["is_active"])


@pytest.mark.parametrize("withdraw", [revoke, deactivate_its_user])
def test_withdrawing_the_key_ends_its_open_stream_and_the_upstream_request(served, user, fake_llm, withdraw):
    fake_llm.script(reasoning="想" * 200, chunk_chars=1, delay=0.05)  # ten seconds of reasoning
    key, secret = api_key_create(user=user, name="wiki bot")
    client = openai.OpenAI(api_key=secret, base_url=f"{served}/v1", max_retries=0)
    stream = client.chat.completions.create(
        model="kb:guide", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    received = 0
    with pytest.raises(openai.APIError) as caught:
        for _chunk in stream:
            received += 1
            if received == 5:
                withdraw(key)  # in this process: the server learns it from the database
    assert caught.value.code == "invalid_api_key" and "revoked" in caught.value.message
    assert received < 100  # of the 200 pieces of reasoning, and the answer
    assert fake_llm.hangs_up()


@pytest.mark.parametrize(
    ("param", "value"), [("max_tokens", 0), ("n", 2), ("temperature", 2.5), ("top_p", 1.1)]
)
def test_a_parameter_out_of_range_is_a_bad_request_naming_it(live_app, user, kb, fake_llm, param, value):
    with pytest.raises(openai.BadRequestError) as caught:
        client_for(live_app[0], user).chat.completions.create(
            model="kb:guide", messages=[{"role": "user", "content": QUESTION}], **{param: value}
        )
    assert caught.value.param == param and caught.value.type == "invalid_request_error"
    assert fake_llm.requests == []


@pytest.mark.parametrize("name", ["kb:guide", "kb:guide@deepseek-reasoner"])
def test_it_retrieves_a_readable_knowledge_base_as_a_model(live_app, user, kb, name):
    model = client_for(live_app[0], user).models.retrieve(name)
    assert (model.id, model.object, model.owned_by) == (name, "model", "knowledge-chat")
    assert model.model_extra["name"] == "Guide" and model.created == int(kb.created_at.timestamp())


def test_it_retrieves_a_model_named_in_chinese(live_app, outsider):
    KnowledgeBase.objects.create(name="公开手册", slug="公开手册", is_public=True)
    assert client_for(live_app[0], outsider).models.retrieve("kb:公开手册").id == "kb:公开手册"


@pytest.mark.parametrize(
    "name",
    ["kb:sales-prices", "kb:nope", "kb:guide@gpt-9", "kb:guide@org/model", "guide", "deepseek-reasoner"],
)
def test_a_model_it_may_not_read_is_not_found(live_app, user, kb, other_kb, name):
    with pytest.raises(openai.NotFoundError) as caught:
        client_for(live_app[0], user).models.retrieve(name)
    assert caught.value.code == "model_not_found" and name in caught.value.message


def test_an_outsider_may_not_retrieve_the_knowledge_base(live_app, outsider, kb):
    with pytest.raises(openai.NotFoundError):
        client_for(live_app[0], outsider).models.retrieve("kb:guide")


def test_retrieving_a_model_needs_a_key(live_app, kb):
    client = openai.OpenAI(api_key="kb-not-a-key", base_url=f"{live_app[0]}/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.retrieve("kb:guide")
    assert caught.value.code == "invalid_api_key"


def streamed(served: str, user: User) -> tuple[str, str]:
    """The reasoning_content and content deltas of a streamed answer, each joined."""
    stream = client_for(served, user).chat.completions.create(
        model="kb:guide", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    deltas = [chunk.choices[0].delta for chunk in stream if chunk.choices]
    return "".join(d.reasoning_content or "" for d in deltas), "".join(d.content or "" for d in deltas)


def completed(served: str, user: User) -> tuple[str | None, str | None]:
    message = (
        client_for(served, user)
        .chat.completions.create(model="kb:guide", messages=[{"role": "user", "content": QUESTION}])
        .choices[0]
        .message
    )
    return message.reasoning_content, message.content


def test_a_distill_reply_that_never_closes_its_reasoning_streams_once_as_the_answer(served, user, fake_llm):
    fake_llm.script(style="plain", content="DeepSeek-V3 有 6710 亿参数 [1]。", chunk_chars=2)
    assert streamed(served, user) == ("", "DeepSeek-V3 有 6710 亿参数 [1]。")
    assert completed(served, user) == (None, "DeepSeek-V3 有 6710 亿参数 [1]。")


def test_a_distill_reply_whose_reasoning_closes_streams_it_as_reasoning(served, user, fake_llm):
    fake_llm.script(style="think_close_only", reasoning="资料 [1] 说 671B。", content="6710 亿参数 [1]。")
    assert streamed(served, user) == ("资料 [1] 说 671B。", "6710 亿参数 [1]。")
    assert completed(served, user) == ("资料 [1] 说 671B。", "6710 亿参数 [1]。")
