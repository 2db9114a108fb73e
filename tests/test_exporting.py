"""Exporting a conversation as Markdown (citations as footnotes) and JSON, from its page: the owner
only, as a download named for its title."""

import json
from urllib.parse import quote

from django.utils import translation

from audit.models import Event
from chat import exporting
from chat.models import Message
from tests.conftest import signed_in
from tests.share_fixtures import REASONING


def test_it_turns_an_answers_citations_into_footnotes(answered):
    markdown = exporting.conversation_markdown(conversation=answered)
    assert markdown.startswith("# 模型参数 / parameters\n")
    assert "## Question\n\nDeepSeek-V3 有多少参数？" in markdown
    assert "DeepSeek-V3 共有 671B 参数 [^1]，and a context of 128K tokens [^2]." in markdown
    assert "[^1]: DeepSeek 指南.pdf, p. 3 — “DeepSeek-V3 总参数量为 671B。”" in markdown
    assert "[^2]: Price list.docx, Limits — “Context length: 128K tokens.”" in markdown
    assert REASONING not in markdown
    assert "Knowledge bases: Guide" in markdown and "Model: DeepSeek-R1" in markdown


def test_it_quotes_the_reasoning_when_asked(answered):
    markdown = exporting.conversation_markdown(conversation=answered, reasoning=True)
    assert f"> **Reasoning**\n>\n> {REASONING}\n\nDeepSeek-V3 共有" in markdown


def test_footnotes_stay_unique_across_answers_and_markers_to_nothing_stay_text(answered):
    first = Message.objects.get(role="assistant")
    question = Message.objects.create(conversation=answered, role="user", content="Sources again?")
    Message.objects.create(
        conversation=answered,
        role="assistant",
        reply_to=question,
        content="See [2, 1] and [7].",
        citations=first.citations,
    )
    markdown = exporting.conversation_markdown(conversation=answered)
    assert "See [^4][^3] and [7]." in markdown
    assert "[^3]: DeepSeek 指南.pdf" in markdown and "[^4]: Price list.docx" in markdown


def test_it_leaves_a_long_passage_out_of_its_footnote_and_lists_unmarked_sources(answered):
    answer = Message.objects.get(role="assistant")
    answer.content = "Retrieval only."
    answer.citations[0]["text"] = "很长的段落。" * 100
    answer.save()
    markdown = exporting.conversation_markdown(conversation=answered)
    assert "[^1]: DeepSeek 指南.pdf, p. 3\n" in markdown
    assert "Retrieval only.\n\nSources: [^1] [^2]" in markdown


def test_it_writes_the_markdown_in_the_owners_language(answered):
    with translation.override("zh-hans"):
        markdown = exporting.conversation_markdown(conversation=answered)
    assert "## 问题" in markdown and "## 回答" in markdown and "[^1]: DeepSeek 指南.pdf, 第 3 页" in markdown


def test_the_json_holds_the_conversation_and_its_messages(answered):
    data = exporting.conversation_json(conversation=answered)
    assert data["conversation"] | {"created_at": "", "updated_at": ""} == {
        "id": answered.id,
        "title": "模型参数 / parameters",
        "knowledge_bases": [{"slug": "guide", "name": "Guide"}],
        "model": "DeepSeek-R1",
        "created_at": "",
        "updated_at": "",
    }
    question, answer = data["messages"]
    assert (question["role"], question["citations"], question["rating"]) == ("user", [], None)
    assert answer["reasoning"] == REASONING and answer["model"] == "deepseek-reasoner"
    assert answer["citations"][1] == {
        "n": 2,
        "document": "Price list.docx",
        "document_id": answer["citations"][1]["document_id"],
        "faq_pair_id": None,
        "location": "Limits",
        "page": None,
        "heading": "Limits",
        "text": "Context length: 128K tokens.",
        "relevance": 0.7,
    }
    assert "error_detail" not in json.dumps(data) and "10.0.0.7" not in json.dumps(data)


def test_it_downloads_both_formats_named_for_the_title(user, answered):
    owner = signed_in(user)
    markdown = owner.get(f"/c/{answered.id}/export.md")
    assert markdown["Content-Type"] == "text/markdown; charset=utf-8"
    assert markdown["Content-Disposition"].startswith("attachment; filename*=utf-8''")
    assert quote("模型参数 parameters.md") in markdown["Content-Disposition"]
    assert "[^1]: DeepSeek 指南.pdf" in markdown.content.decode()
    assert REASONING in owner.get(f"/c/{answered.id}/export.md?reasoning=1").content.decode()
    data = owner.get(f"/c/{answered.id}/export.json")
    assert data["Content-Type"] == "application/json"
    assert json.loads(data.content)["conversation"]["id"] == answered.id


def test_an_ascii_title_is_a_plain_filename(user, answered):
    answered.title = 'Q3 "plan": draft'
    answered.save()
    response = signed_in(user).get(f"/c/{answered.id}/export.json")
    assert response["Content-Disposition"] == 'attachment; filename="Q3 plan draft.json"'


def test_only_the_owner_exports(other, outsider, answered, client):
    for path in (f"/c/{answered.id}/export.md", f"/c/{answered.id}/export.json"):
        assert signed_in(other).get(path).status_code == 404
        assert signed_in(outsider).get(path).status_code == 404
        assert client.get(path)["Location"].startswith("/accounts/login/")
    assert not Event.objects.filter(kind=Event.Kind.EXPORT).exists()


def test_it_audits_and_limits_exports(user, answered, settings):
    settings.EXPORT_RATE_PER_USER = "2/min"
    owner = signed_in(user)
    codes = [owner.get(f"/c/{answered.id}/export.md").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    events = Event.objects.filter(kind=Event.Kind.EXPORT)
    assert events.count() == 2
    assert events[0].target == f"conversation:{answered.id}" and events[0].detail["format"] == "markdown"
