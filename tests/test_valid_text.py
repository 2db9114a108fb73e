"""Text the database or the embedding model cannot take (NUL, lone surrogates) is a 400 naming the
field, on every endpoint; and a text the model fails on fails only the search it came with."""

from concurrent.futures import Future

import pytest
from django.urls import reverse

from chat.models import Conversation, Message
from knowledge import embedding
from tests.api_fixtures import ApiClient, key_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]


def test_the_chat_pages_endpoints_refuse_nul_naming_the_field(client, user, kb, exchange):
    answer = exchange.messages.get(role=Message.Role.ASSISTANT)
    client.force_login(user)
    refused = {
        "title": client.post(reverse("chat:rename", args=[exchange.id]), {"title": "Leave\x00"}),
        "feedback": client.post(
            reverse("chat:feedback", args=[answer.id]), {"rating": "up", "feedback": "\x00"}
        ),
        "q": client.get(reverse("chat:conversations"), {"q": "leave\x00"}),
        "question": client.post(reverse("chat:ask"), {"question": "Leave?\x00", "knowledge_base": kb.id}),
    }
    for field, response in refused.items():
        assert response.status_code == 400, field
        error = response.json()["error"]
        assert (
            error["param"] == field
            and error["message"] == f"“{field}” contains a NUL character, which is not allowed."
        )
    hit_testing = client.get(reverse("knowledge:hit_testing", args=[kb.slug]), {"q": "\x00"})
    assert hit_testing.status_code == 400
    exchange.refresh_from_db()
    answer.refresh_from_db()
    assert (exchange.title, answer.rating, answer.feedback) == ("Leave", "", "")
    assert exchange.messages.count() == 2


def test_the_apis_refuse_lone_surrogates_and_nul_in_json_each_in_its_error_shape(user, exchange):
    api = ApiClient(key_for(user))
    ask = api.post_json_text(f"/api/v1/conversations/{exchange.id}/ask/", '{"question": "Leave\\ud800?"}')
    assert ask.status_code == 400
    assert ask.json()["error"]["code"] == "invalid_text" and "“question”" in ask.json()["error"]["message"]
    parts = '[{"type": "text", "text": "\\udfff"}]'
    body = f'{{"model": "kb:guide", "messages": [{{"role": "user", "content": {parts}}}]}}'
    completion = api.post_json_text("/v1/chat/completions", body)
    assert completion.status_code == 400
    error = completion.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_text"
    assert (
        error["message"]
        == "“messages.0.content.0.text” is not valid Unicode: it contains half of a character (U+DFFF)."
    )
    messages = [{"role": "user", "content": "How much leave?"}]  # the model was a 500 on PostgreSQL
    nul = api.post("/v1/chat/completions", {"model": "kb:guide\x00", "messages": messages})
    assert nul.status_code == 400 and nul.json()["error"]["code"] == "invalid_text"
    assert exchange.messages.count() == 2


def test_the_apis_refuse_nul_in_the_address_in_their_error_shape(user, kb):
    api = ApiClient(key_for(user))
    response = api.get("/api/v1/knowledge-bases/guide%00/")  # a 500 on PostgreSQL
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_text"
    assert api.get("/api/v1/conversations/", page="\x00").json()["error"]["param"] == "page"


def test_characters_written_as_surrogate_pairs_are_kept(user, kb):
    api = ApiClient(key_for(user))
    body = '{"knowledge_bases": ["guide"], "title": "\\ud83d\\ude00"}'
    created = api.post_json_text("/api/v1/conversations/", body)
    assert created.status_code == 201
    assert Conversation.objects.get().title == "😀"


def test_a_text_the_model_cannot_take_fails_only_the_search_it_came_with():
    batcher = embedding._QueryBatcher()
    bad, good = Future(), Future()
    # Both queued before the worker starts, so they are embedded as one batch, as questions
    # arriving at the same moment are.
    batcher._requests.put((["\ud800"], bad))
    batcher._requests.put((["How many parameters does DeepSeek-V3 have?"], good))
    batcher._ensure_worker()
    assert good.result(timeout=60).shape == (1, embedding.dimension())
    assert bad.exception(timeout=60) is not None
