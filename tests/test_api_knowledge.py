"""Knowledge bases, documents and search over the REST API, for readers, managers and outsiders."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge.models import Chunk, Document, KnowledgeBase
from tests.conftest import CORPUS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
KBS = "/api/v1/knowledge-bases/"


def test_it_lists_only_readable_knowledge_bases(as_owner, as_outsider, kb):
    KnowledgeBase.objects.create(name="公开手册", slug="public-handbook", is_public=True)
    assert [k["slug"] for k in as_owner.get(KBS).json()["results"]] == ["guide", "public-handbook"]
    assert [k["name"] for k in as_outsider.get(KBS).json()["results"]] == ["公开手册"]


def test_it_shows_a_knowledge_base_to_readers_only(as_owner, as_outsider, kb):
    assert as_owner.get(f"{KBS}guide/").json()["name"] == "Guide"
    response = as_outsider.get(f"{KBS}guide/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_only_managers_create_knowledge_bases(as_owner, as_manager, readers):
    new = {"name": "人事制度", "slug": "hr", "groups": ["readers"], "top_k": 3}
    refused = as_owner.post(KBS, new)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    created = as_manager.post(KBS, new)
    assert created.status_code == 201, created.json()
    assert KnowledgeBase.objects.get(slug="hr").groups.get() == readers
    assert as_owner.get(f"{KBS}hr/").json()["top_k"] == 3


def test_it_reports_invalid_fields(as_manager):
    response = as_manager.post(KBS, {"name": "", "slug": "not a slug", "top_k": 99})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"name", "slug", "top_k"}


def test_only_managers_update_knowledge_bases(as_owner, as_manager, as_outsider, kb):
    assert as_owner.patch(f"{KBS}guide/", {"top_k": 7}).status_code == 403
    assert as_outsider.patch(f"{KBS}guide/", {"top_k": 7}).status_code in (403, 404)
    assert as_manager.patch(f"{KBS}guide/", {"top_k": 7, "relevance_floor": 0.2}).status_code == 200
    kb.refresh_from_db()
    assert (kb.top_k, kb.relevance_floor) == (7, 0.2)


def test_a_null_floor_is_automatic(as_manager, kb):
    assert as_manager.get(f"{KBS}guide/").json()["relevance_floor"] is None  # a new knowledge base's
    assert as_manager.patch(f"{KBS}guide/", {"relevance_floor": 0.3}).status_code == 200
    assert as_manager.patch(f"{KBS}guide/", {"relevance_floor": None}).status_code == 200
    kb.refresh_from_db()
    assert kb.relevance_floor is None
    assert as_manager.patch(f"{KBS}guide/", {"relevance_floor": 1.5}).status_code == 400


def upload(client, *files):
    return client.upload(f"{KBS}guide/documents/", [SimpleUploadedFile(n, c) for n, c in files])


def test_managers_upload_many_files_and_duplicates_are_reported(as_manager, kb):
    files = [("假期.txt", "员工每年有25天年假。".encode()), ("travel.md", b"# Travel\n\nBook trains.")]
    response = upload(as_manager, *files, ("notes.exe", b"MZ"))
    assert response.status_code == 201
    body = response.json()
    assert sorted(d["title"] for d in body["created"]) == ["travel.md", "假期.txt"]
    assert body["created"][0]["status"] == "queued"
    assert "unsupported file type" in body["rejected"][0]["message"]
    again = upload(as_manager, files[0])
    assert again.status_code == 200
    assert again.json()["duplicates"][0]["existing_document_id"] == Document.objects.get(title="假期.txt").id


def test_an_upload_with_only_rejected_files_is_an_error(as_manager, kb):
    response = upload(as_manager, ("empty.txt", b""))
    assert response.status_code == 400
    assert "empty" in response.json()["rejected"][0]["message"]


def test_an_empty_file_is_named_and_the_others_are_stored(as_manager, kb):
    response = upload(as_manager, ("a.txt", b"Leave is 16 weeks."), ("empty.md", b""), ("b.md", b"# B\nx"))
    assert response.status_code == 201
    body = response.json()
    assert [d["title"] for d in body["created"]] == ["a.txt", "b.md"]
    assert body["rejected"] == [{"name": "empty.md", "message": "empty.md: the file is empty."}]


def test_readers_and_outsiders_may_not_upload_or_list_documents(as_owner, as_outsider, kb, guide):
    for client in (as_owner, as_outsider):
        assert upload(client, ("a.txt", b"text")).status_code in (403, 404)
        response = client.get(f"{KBS}guide/documents/")
        assert response.status_code in (403, 404) and "results" not in response.json()
        assert client.get(f"/api/v1/documents/{guide.id}/").status_code in (403, 404)
        assert client.delete(f"/api/v1/documents/{guide.id}/").status_code in (403, 404)
        assert client.post(f"/api/v1/documents/{guide.id}/reindex/").status_code in (403, 404)
    assert Document.objects.filter(id=guide.id, status="ready").exists()


def test_managers_list_documents_with_status_and_progress(as_manager, guide):
    results = as_manager.get(f"{KBS}guide/documents/").json()["results"]
    assert [(d["id"], d["status"], d["progress_percent"]) for d in results] == [(guide.id, "ready", 100)]
    assert results[0]["chunk_count"] > 0
    assert as_manager.get(f"/api/v1/documents/{guide.id}/").json()["title"] == CORPUS.name


def test_a_manager_who_cannot_read_the_knowledge_base_sees_nothing(as_manager, manager, kb, guide, readers):
    manager.groups.remove(readers)
    assert as_manager.get(f"{KBS}guide/documents/").status_code == 404
    assert as_manager.get(f"/api/v1/documents/{guide.id}/").status_code == 404


def test_managers_reindex_and_delete_documents(as_manager, guide):
    response = as_manager.post(f"/api/v1/documents/{guide.id}/reindex/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert as_manager.delete(f"/api/v1/documents/{guide.id}/").status_code == 204
    assert not Document.objects.filter(id=guide.id).exists()
    assert as_manager.get(f"/api/v1/documents/{guide.id}/").status_code == 404


def test_readers_search_with_scores(as_owner, guide):
    response = as_owner.post(f"{KBS}guide/search/", {"query": "DeepSeek-V3 有多少参数？", "top_k": 3})
    assert response.status_code == 200
    body = response.json()
    assert len(body["passages"]) == 3
    best = body["passages"][0]
    assert best["rank"] == 1 and 0 < best["score"] <= 1
    assert "6710亿（671B）" in best["text"] and best["document_id"] == guide.id
    start, end = best["matched"][0]
    assert best["text"][start:end] == Chunk.objects.get(id=best["chunk_id"]).text
    assert body["timings_ms"]["total"] > 0


def test_search_is_refused_outside_the_readable_knowledge_bases(as_outsider, guide):
    response = as_outsider.post(f"{KBS}guide/search/", {"query": "DeepSeek-V3 有多少参数？"})
    assert response.status_code == 404 and "passages" not in response.json()


def test_search_validates_its_input(as_owner, kb):
    response = as_owner.post(f"{KBS}guide/search/", {"query": " ", "mode": "psychic"})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"query", "mode"}
