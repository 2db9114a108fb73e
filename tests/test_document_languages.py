"""Each document's languages (its script shares) are recorded at ingestion and shown in the admin."""

import re
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from knowledge import languages
from knowledge.models import Document
from tests.conftest import CORPUS, ingest, ingest_texts, signed_in

HANDBOOK = Path(__file__).resolve().parent / "data" / "staff-handbook.en.md"
MIXED = {
    "mixed.txt": "Annual leave is 25 days for every full-time employee. 全职员工每年享有二十五天带薪年假。"
}
CHANGELIST = reverse("admin:knowledge_document_changelist")


def test_it_records_the_scripts_of_each_document(kb, tmp_path):
    assert ingest(kb, HANDBOOK).scripts == {"latin": 1.0}
    guide = ingest(kb, CORPUS)
    assert list(guide.scripts) == ["han", "latin"] and guide.scripts["han"] > 0.9  # names like DeepSeek-R1
    ingest_texts(kb, tmp_path, MIXED)
    mixed = Document.objects.get(title="mixed.txt").scripts
    assert mixed == {"han": 0.64, "latin": 0.36}


def test_texts_weigh_by_their_length_in_words_and_chinese_characters():
    assert languages.text_scripts(["one two three", "四五六七八九十"]) == {"han": 0.7, "latin": 0.3}
    assert languages.text_scripts(["", "123"]) == {}


def test_a_knowledge_base_is_written_in_the_major_scripts_of_its_ready_documents(kb, other_kb, tmp_path):
    ingest(kb, CORPUS)
    assert languages.knowledge_base_scripts([kb, other_kb]) == {kb.id: {"han"}, other_kb.id: set()}
    Document.objects.create(knowledge_base=kb, title="queued.md", sha256="q", scripts={"latin": 1.0})
    assert languages.knowledge_base_scripts([kb]) == {kb.id: {"han"}}  # not ready: not searched
    ingest_texts(kb, tmp_path, MIXED)
    assert languages.knowledge_base_scripts([kb]) == {kb.id: {"han", "latin"}}


def test_the_admin_shows_each_document_s_languages_in_both_languages(manager, kb, tmp_path):
    ingest_texts(kb, tmp_path, MIXED)
    document = Document.objects.get()
    admin = signed_in(manager)
    detail = reverse("admin:knowledge_document_change", args=[document.id])
    assert "Chinese 64 %, English 36 %" in admin.get(detail).content.decode()
    admin.cookies["django_language"] = "zh-hans"
    assert "中文 64 %, 英文 36 %" in admin.get(detail).content.decode()


def test_a_document_not_yet_indexed_has_no_languages_shown(manager, kb):
    document = Document.objects.create(knowledge_base=kb, title="queued.md", sha256="q")
    page = signed_in(manager).get(reverse("admin:knowledge_document_change", args=[document.id]))
    field = re.search(r'field-languages.*?<div class="readonly">(.*?)</div>', page.content.decode(), re.S)
    assert field and field.group(1) == "-"


def test_another_group_s_manager_does_not_see_the_document(other_manager, kb):
    ingest(kb, HANDBOOK)
    client = signed_in(other_manager)
    assert "staff-handbook.en.md" not in client.get(CHANGELIST).content.decode()
    detail = client.get(reverse("admin:knowledge_document_change", args=[Document.objects.get().id]))
    assert detail.status_code == 302 and "English 100 %" not in detail.content.decode()


BEFORE = [("knowledge", "0010_knowledge_base_embedder")]
AFTER = [("knowledge", "0011_document_languages")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_records_the_languages_of_documents_indexed_before(kb):
    document = ingest(kb, HANDBOOK)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # every app back at its latest
    new = executor.loader.project_state(AFTER).apps.get_model("knowledge", "Document")
    assert new.objects.get(id=document.id).scripts == {"latin": 1.0}
