"""Changing a knowledge base's embedder: re-embedded in the background while the old vectors keep
answering, then switched at once; a failure keeps the old embedder with the reason shown."""

import numpy as np
import pytest
from django.urls import reverse

from knowledge import embedding, index_log, ingestion, probe, reembedding, retrieval, tasks
from knowledge.embedder_config import DEFAULT_NAME
from knowledge.models import Chunk, Document, IndexChange, KnowledgeBase
from tests.conftest import PRODUCTS, ingest, ingest_texts, signed_in
from tests.test_knowledge_base_grants import kb_form

NAME = "bge-m3 (test)"
CHINESE_QUESTION = "哪台笔记本电脑适合出差？"
# A passage of the probe's, which the test server embeds as its English translation.
LEAVE_ZH, LEAVE_EN = probe._PAIRS["han"][0][1], probe._PAIRS["latin"][0][1]


@pytest.fixture
def started(multilingual, kb, tmp_path, monkeypatch, django_capture_on_commit_callbacks) -> list[tuple]:
    """`kb` holding the two products and a Chinese passage, moving to the test server's embedder;
    returns the task messages sent."""
    ingest_texts(kb, tmp_path, PRODUCTS | {"leave.txt": LEAVE_ZH})
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.reembed_knowledge_base, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        assert reembedding.knowledge_base_change_embedder(knowledge_base=kb, embedder=NAME)
    return sent


def vector_of(text_start: str) -> np.ndarray:
    chunk = Chunk.objects.get(text__startswith=text_start)
    return np.frombuffer(bytes(chunk.vector), dtype=np.float32)


def test_it_answers_from_the_old_vectors_until_every_passage_is_re_embedded(
    started, kb, settings, monkeypatch
):
    assert started == [(kb.id, 1)]
    settings.INGEST_EMBED_BATCH = 1
    seen: list[tuple[str, int, list]] = []
    real_store = reembedding._store

    def store_then_search(*args) -> bool:
        stored = real_store(*args)
        kb.refresh_from_db()
        found = retrieval.search(query=CHINESE_QUESTION, knowledge_bases=[kb]).passages
        seen.append((kb.embedder, kb.reembed_done, found))
        return stored

    monkeypatch.setattr(reembedding, "_store", store_then_search)
    tasks.reembed_knowledge_base(kb.id, 1)
    assert [(name, done) for name, done, _found in seen] == [
        (DEFAULT_NAME, 1),
        (DEFAULT_NAME, 2),
        (DEFAULT_NAME, 3),
    ]
    assert all(found == [] for *_rest, found in seen)  # the built-in model: Chinese by words alone
    kb.refresh_from_db()
    assert (kb.embedder, kb.next_embedder, kb.reembed_done, kb.reembed_total) == (NAME, "", 3, 3)
    assert IndexChange.objects.last().operation == IndexChange.Operation.REBUILD
    assert np.allclose(vector_of(LEAVE_ZH), embedding.embed([LEAVE_EN])[0], atol=1e-5)
    assert not Chunk.objects.exclude(next_vector=None).exists()
    found = retrieval.search(query=CHINESE_QUESTION, knowledge_bases=[kb]).passages
    assert found[0].text.startswith("The Boreal laptop") and found[0].dense_score > 0.5


def test_chunks_stored_during_the_change_are_re_embedded_too(started, kb, tmp_path, monkeypatch):
    real_store = reembedding._store
    late = tmp_path / "late.txt"
    late.write_text(LEAVE_ZH + " 年假可以结转到下一年。")

    def store_then_ingest(*args) -> bool:
        if not Document.objects.filter(title="late.txt").exists():
            ingest(kb, late)  # by the built-in embedder, which is still current
        return real_store(*args)

    monkeypatch.setattr(reembedding, "_store", store_then_ingest)
    tasks.reembed_knowledge_base(kb.id, 1)
    kb.refresh_from_db()
    assert kb.embedder == NAME and Chunk.objects.filter(knowledge_base=kb).count() == 4
    translated = LEAVE_EN + " 年假可以结转到下一年。"
    assert np.allclose(vector_of(LEAVE_ZH + " "), embedding.embed([translated])[0], atol=1e-5)


def test_a_failed_change_keeps_the_old_embedder_and_says_why(started, kb, multilingual, admin_client):
    before = vector_of("The Boreal laptop").copy()
    multilingual.fail(503)
    tasks.reembed_knowledge_base(kb.id, 1)
    kb.refresh_from_db()
    assert (kb.embedder, kb.next_embedder) == (DEFAULT_NAME, "")
    assert "HTTP 503: The engine is currently overloaded" in kb.reembed_error
    assert np.array_equal(vector_of("The Boreal laptop"), before)
    assert not Chunk.objects.exclude(next_vector=None).exists()
    assert retrieval.search(query="laptop for travel", knowledge_bases=[kb]).passages[0].dense_score > 0.3
    page = admin_client.get(reverse("admin:knowledge_knowledgebase_change", args=[kb.id])).content.decode()
    assert "The last change of embedder failed" in page and "HTTP 503" in page


def test_choosing_the_current_embedder_again_cancels_the_change(started, kb, multilingual):
    assert not reembedding.knowledge_base_change_embedder(knowledge_base=kb, embedder=DEFAULT_NAME)
    tasks.reembed_knowledge_base(kb.id, 1)  # the superseded message
    kb.refresh_from_db()
    assert (kb.embedder, kb.next_embedder, kb.reembed_attempt) == (DEFAULT_NAME, "", 2)
    assert multilingual.requests == []


def test_a_document_embedded_before_a_switch_is_queued_again(
    multilingual, kb, tmp_path, sent, monkeypatch, django_capture_on_commit_callbacks
):
    real_embed = ingestion._embed

    def embed_then_switch(works) -> None:
        real_embed(works)
        KnowledgeBase.objects.filter(id=kb.id).update(embedder=NAME)  # as a switch committing now

    monkeypatch.setattr(ingestion, "_embed", embed_then_switch)
    leave = tmp_path / "leave.txt"
    leave.write_text(LEAVE_ZH)
    with django_capture_on_commit_callbacks(execute=True):
        document = ingest(kb, leave)
    assert document.status == Document.Status.QUEUED and sent == [document.id]
    assert not Chunk.objects.exists()
    monkeypatch.setattr(ingestion, "_embed", real_embed)
    ingestion.ingest_documents(document_ids=[document.id])
    assert np.allclose(vector_of(LEAVE_ZH), embedding.embed([LEAVE_EN])[0], atol=1e-5)  # the server's


def test_a_manager_changes_the_embedder_in_the_admin_and_sees_the_progress(
    multilingual, kb, manager, readers, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    ingest_texts(kb, tmp_path, PRODUCTS)
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.reembed_knowledge_base, "delay", lambda *args: sent.append(args))
    client = signed_in(manager)
    url = reverse("admin:knowledge_knowledgebase_change", args=[kb.id])
    choices = client.get(url).context["adminform"].form.fields["embedder"].choices
    assert [name for name, _label in choices] == [DEFAULT_NAME, NAME]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, kb_form(readers, embedder=NAME, top_k=7), follow=True)
    assert "being embedded by bge-m3 (test) in the background" in response.content.decode()
    kb.refresh_from_db()
    assert (kb.embedder, kb.next_embedder, kb.top_k, sent) == (DEFAULT_NAME, NAME, 7, [(kb.id, 1)])
    page = client.get(url).content.decode()
    assert "Embedding every passage with bge-m3 (test): 0 of 2 done" in page
    client.post(url, kb_form(readers, top_k=8))  # saving other settings leaves the change running
    kb.refresh_from_db()
    assert (kb.embedder, kb.next_embedder, kb.top_k) == (DEFAULT_NAME, NAME, 8)


def test_the_admin_refuses_an_embedder_that_is_not_configured(multilingual, kb, manager, readers):
    url = reverse("admin:knowledge_knowledgebase_change", args=[kb.id])
    response = signed_in(manager).post(url, kb_form(readers, embedder="made-up"))
    assert "embedder" in response.context["adminform"].form.errors


def test_a_search_that_meets_a_switch_of_dimension_goes_by_words(kb, tmp_path, caplog):
    ingest_texts(kb, tmp_path, PRODUCTS)
    read_before = KnowledgeBase.objects.get(id=kb.id)  # as a request read it, just before a switch
    unit = np.ones(8, dtype=np.float32) / np.sqrt(8)
    Chunk.objects.update(vector=unit.tobytes())  # an embedder of 8 dimensions, as a switch stores it
    index_log.record_rebuild(kb_id=kb.id)
    with caplog.at_level("WARNING", logger="knowledge.retrieval"):
        found = retrieval.search(query="Atlas server memory", knowledge_bases=[read_before]).passages
    assert found[0].text.startswith("How much memory") and found[0].dense_score is None
    assert "switched embedders mid-search" in caplog.text


def test_a_new_knowledge_base_starts_with_the_embedder_chosen(multilingual, admin_client, readers):
    fields = kb_form(readers, embedder=NAME) | {"name": "Products", "slug": "products"}
    admin_client.post(reverse("admin:knowledge_knowledgebase_add"), fields)
    assert KnowledgeBase.objects.get(slug="products").embedder == NAME
