"""FAQ pairs over the REST API: managers list, create, change, delete and import them; readers and
outsiders cannot; bad input is a 400."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import Event
from faq import matching
from faq.models import FaqPair
from tests.api_fixtures import ApiClient, key_for
from tests.faq_fixtures import LEAVE_EN, LEAVE_ZH, VPN_EN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
PAIRS = "/api/v1/knowledge-bases/guide/faq/"
IMPORT = "/api/v1/knowledge-bases/guide/faq/import/"
DATA = Path(__file__).resolve().parent / "data"


def pair_url(pair: FaqPair) -> str:
    return f"/api/v1/faq/{pair.id}/"


def test_managers_list_the_pairs(as_manager, faq):
    results = as_manager.get(PAIRS).json()["results"]
    assert {r["question"] for r in results} == {LEAVE_ZH, LEAVE_EN, VPN_EN}
    leave = next(r for r in results if r["question"] == LEAVE_EN)
    assert leave["alternatives"] == ["How much annual leave do we have?"] and leave["created_by"] == "carol"


def test_readers_outsiders_and_other_managers_cannot_see_or_change_pairs(
    as_owner, as_outsider, other_manager, faq
):
    pair = faq[VPN_EN]
    for client in (as_owner, as_outsider, ApiClient(key_for(other_manager))):
        assert client.get(PAIRS).status_code in (403, 404)
        assert client.post(PAIRS, {"question": "Q?", "answer": "A."}).status_code in (403, 404)
        assert client.get(pair_url(pair)).status_code in (403, 404)
        assert client.patch(pair_url(pair), {"answer": "Hacked."}).status_code in (403, 404)
        assert client.delete(pair_url(pair)).status_code in (403, 404)
    pair.refresh_from_db()
    assert pair.answer.startswith("Reset it")


def test_a_manager_creates_a_pair_that_answers_at_once(as_manager, kb, manager):
    new = {"question": "报销多久到账？", "answer": "五个工作日。", "alternatives": ["报销什么时候到账"]}
    response = as_manager.post(PAIRS, new)
    assert response.status_code == 201, response.json()
    assert response.json()["knowledge_base"] == "guide"
    pair = FaqPair.objects.get(question="报销多久到账？")
    assert Event.objects.filter(kind="faq", target=f"faq_pair:{pair.id}", detail__action="created").exists()
    assert matching.match(question="报销什么时候到账", knowledge_bases=[kb])[0].score == 1.0


def test_a_manager_changes_and_deletes_a_pair(as_manager, faq):
    pair = faq[VPN_EN]
    change = {"answer": "Ask the IT desk.", "alternatives": ["VPN broken"]}
    response = as_manager.patch(pair_url(pair), change)
    assert response.status_code == 200 and response.json()["answer"] == "Ask the IT desk."
    pair.refresh_from_db()
    assert pair.alternatives == ["VPN broken"] and len(pair.terms) == 2
    assert as_manager.delete(pair_url(pair)).status_code == 204
    assert not FaqPair.objects.filter(id=pair.id).exists()
    assert Event.objects.filter(kind="faq", detail__action="deleted").count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"question": "", "answer": "A."}, "question"),
        ({"question": "Q?"}, "answer"),
        ({"question": "Q" * 501, "answer": "A."}, "question"),
        ({"question": "Q?", "answer": "A" * 10_001}, "answer"),
        ({"question": "Q?", "answer": "A.", "alternatives": ["x"] * 21}, "alternatives"),
        ({"question": "Q?", "answer": "A.", "alternatives": "not a list"}, "alternatives"),
        ({"question": VPN_EN, "answer": "A duplicate."}, "question"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(as_manager, faq, body, field):
    response = as_manager.post(PAIRS, body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_the_pairs_per_knowledge_base_are_bounded(as_manager, faq, settings):
    settings.FAQ_MAX_PAIRS = 3
    response = as_manager.post(PAIRS, {"question": "One more?", "answer": "No."})
    assert response.status_code == 400 and "FAQ_MAX_PAIRS" in str(response.json()["error"])


def test_a_manager_imports_a_file_and_gets_the_skipped_rows(as_manager, kb):
    upload = SimpleUploadedFile("faq-en.xlsx", (DATA / "faq-en.xlsx").read_bytes())
    response = as_manager.client.post(IMPORT, {"file": upload}, headers=as_manager.headers)
    assert response.status_code == 201, response.json()
    assert response.json() == {
        "created": 3,
        "updated": 0,
        "skipped": [{"row": 4, "message": "The same question as row 3."}],
    }


def test_an_unreadable_import_is_a_400_and_imports_nothing(as_manager, as_owner, kb):
    upload = SimpleUploadedFile("faq.csv", b"title,text\nA,B\n")
    response = as_manager.client.post(IMPORT, {"file": upload}, headers=as_manager.headers)
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]
    refused = as_owner.client.post(IMPORT, {"file": upload}, headers=as_owner.headers)
    assert refused.status_code == 403 and not FaqPair.objects.exists()


def test_the_faq_endpoints_are_rate_limited_per_user(as_manager, faq, settings):
    settings.API_RATE_PER_USER = "2/min"
    assert [as_manager.get(PAIRS).status_code for _ in range(3)] == [200, 200, 429]


def test_the_faq_threshold_is_a_knowledge_base_setting(as_manager, as_owner, kb):
    assert as_owner.get("/api/v1/knowledge-bases/guide/").json()["faq_threshold"] == 0.9
    assert as_manager.patch("/api/v1/knowledge-bases/guide/", {"faq_threshold": 1.5}).status_code == 400
    assert as_manager.patch("/api/v1/knowledge-bases/guide/", {"faq_threshold": 0.8}).status_code == 200
    kb.refresh_from_db()
    assert kb.faq_threshold == 0.8


def test_search_shows_the_faq_matches_with_their_scores(as_owner, faq):
    body = as_owner.post("/api/v1/knowledge-bases/guide/search/", {"query": "年假有几天?"}).json()
    assert body["faq"][0]["question"] == LEAVE_ZH and body["faq"][0]["score"] == 1.0


def test_v1_answers_a_curated_question_as_a_normal_completion_without_the_model(as_owner, kb, faq, llm):
    question = {"model": "kb:guide", "messages": [{"role": "user", "content": "年假有几天?"}]}
    body = as_owner.post("/v1/chat/completions", question).json()
    message = body["choices"][0]["message"]
    assert message["content"] == "每年 15 天，入职满十年 20 天。" and message["reasoning_content"] is None
    assert body["choices"][0]["finish_reason"] == "stop" and llm.requests == []


def test_the_rest_ask_records_a_faq_answer(as_owner, kb, faq, llm, user):
    conversation = as_owner.post("/api/v1/conversations/", {"knowledge_bases": ["guide"]}).json()
    asked = as_owner.post(f"/api/v1/conversations/{conversation['id']}/ask/", {"question": "年假有几天？"})
    assert asked.status_code in (200, 201), asked.json()
    assert asked.json()["grounding"] == "faq" and llm.requests == []
