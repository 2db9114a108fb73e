"""The content policy through the API: `/v1` refuses a blocked question with an OpenAI-style 400
(streamed or not) and ends a withdrawn answer with finish_reason "content_filter"; the REST ask
refuses with a 400 too."""

import openai
import pytest

from audit.models import Event
from chat.models import Conversation
from policy.models import WordList
from tests.api_fixtures import key_for
from tests.conftest import CORPUS, ingest
from tests.policy_lists import word_list
from tests.processes import use_data_dir

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
COMPLETIONS = "/v1/chat/completions"
BLOCKED = "Where can I buy CONTRABAND?"


def completion(client, question: str, **extra):
    body = {"model": "kb:guide", "messages": [{"role": "user", "content": question}], **extra}
    return client.post(COMPLETIONS, body)


@pytest.mark.parametrize("stream", [False, True])
def test_v1_refuses_a_blocked_question_with_a_400(as_owner, kb, stream):
    word_list("banned", WordList.Action.BLOCK, "contraband")
    response = completion(as_owner, BLOCKED, stream=stream)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["type"]) == ("content_policy", "invalid_request_error")
    assert "content policy" in error["message"]
    assert Event.objects.get(kind=Event.Kind.POLICY).detail["where"] == "question"


def test_v1_answers_a_masked_question(as_owner, kb):
    word_list("hidden", WordList.Action.MASK, "contraband")
    assert completion(as_owner, BLOCKED).status_code == 200


def test_the_rest_ask_refuses_a_blocked_question_with_a_400(as_owner, user, kb):
    word_list("banned", WordList.Action.BLOCK, "contraband")
    conversation = Conversation.objects.create(user=user)
    conversation.knowledge_bases.set([kb])
    response = as_owner.post(f"/api/v1/conversations/{conversation.id}/ask/", {"question": BLOCKED})
    assert response.status_code == 400 and response.json()["error"]["code"] == "content_policy"


@pytest.fixture
def served(live_app, settings, kb) -> str:
    use_data_dir(settings, live_app[1])
    ingest(kb, CORPUS)
    return live_app[0]


def test_a_withdrawn_answer_stream_ends_with_content_filter_and_never_the_term(served, user, fake_llm):
    word_list("禁止", WordList.Action.BLOCK, "违禁品")
    fake_llm.script(reasoning="想一想。", content="DeepSeek-V3 有 6710 亿参数，另外违禁品在这里。")
    client = openai.OpenAI(api_key=key_for(user), base_url=f"{served}/v1", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="kb:guide", messages=[{"role": "user", "content": "DeepSeek-V3 有多少参数？"}], stream=True
        )
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "违" not in content and content.startswith("DeepSeek-V3")
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    response = client.chat.completions.create(
        model="kb:guide", messages=[{"role": "user", "content": "DeepSeek-V3 有多少参数？"}]
    )
    assert response.choices[0].finish_reason == "content_filter"
    assert "withdrawn" in response.choices[0].message.content
