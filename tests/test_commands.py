import json

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import Document, KnowledgeBase
from tests.conftest import CORPUS

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_ingests_a_folder_inline_creating_the_knowledge_base(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("Expense reports are due on the fifth working day of each month.")
    (tmp_path / "b.md").write_text("# Travel\n\nBook trains, not planes, for trips under 500 km.")
    call_command("ingest", str(tmp_path), kb="policies", create=True, inline=True)
    kb = KnowledgeBase.objects.get(slug="policies")
    assert sorted(kb.documents.values_list("status", flat=True)) == ["ready", "ready"]
    assert "2 of 2 new documents ready" in capsys.readouterr().out


def test_it_exits_non_zero_naming_the_file_that_failed(tmp_path, capsys):
    (tmp_path / "good.txt").write_text("Parking is free for staff.")
    (tmp_path / "empty.txt").write_text("   \n")
    with pytest.raises(CommandError, match=r"1 file\(s\) failed"):
        call_command("ingest", str(tmp_path), kb="policies", create=True, inline=True)
    assert "empty.txt" in capsys.readouterr().err


def test_it_refuses_an_unknown_knowledge_base_without_create(tmp_path):
    with pytest.raises(CommandError, match="--create"):
        call_command("ingest", str(CORPUS), kb="nope", inline=True)


def test_it_refuses_to_wait_for_a_worker_that_is_not_there(tmp_path, monkeypatch):
    monkeypatch.setattr("knowledge.management.commands.ingest.worker_running", lambda: False)
    with pytest.raises(CommandError, match="--inline"):
        call_command("ingest", str(CORPUS), kb="guide", create=True)
    assert not Document.objects.exists()


def test_ask_prints_json_with_reasoning_answer_and_citations(admin_user, kb, guide, llm, capsys):
    llm.script(reasoning="Looking at passage 1.", content="671B [1].")
    call_command("ask", "DeepSeek-V3 有多少参数？", kb="guide", json=True)
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "llm"
    assert result["reasoning"] == "Looking at passage 1."
    assert result["answer"] == "671B [1]."
    assert set(result["citations"][0]) == {"n", "document", "chunk_id", "text"}
    assert "6710亿（671B）" in result["citations"][0]["text"]


def test_ask_works_without_a_model_in_retrieval_only_mode(admin_user, kb, guide, capsys):
    call_command("ask", "DeepSeek-V3 有多少参数？", kb="guide", json=True)
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "retrieval-only"
    assert "6710亿（671B）" in result["citations"][0]["text"]


def test_ask_exits_non_zero_on_an_upstream_error(admin_user, kb, guide, llm):
    llm.script(status=402)
    with pytest.raises(CommandError, match="balance"):
        call_command("ask", "DeepSeek-V3 有多少参数？", kb="guide")


def test_ask_gives_a_curated_faq_answer_without_the_model(admin_user, kb, faq, llm, capsys):
    call_command("ask", "年假有几天?", kb="guide", json=True)
    result = json.loads(capsys.readouterr().out)
    assert (result["grounding"], result["answer"]) == ("faq", "每年 15 天，入职满十年 20 天。")
    assert llm.requests == []
