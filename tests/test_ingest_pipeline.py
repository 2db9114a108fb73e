from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from knowledge import embedding, index, services
from knowledge.models import Chunk, Document
from tests.conftest import CORPUS, ingest


def test_it_ingests_the_chinese_guide_into_chunks_and_vectors(guide):
    assert guide.status == Document.Status.READY
    assert guide.chunk_count == guide.chunks.count() > 20
    ids = index.vector_ids(guide.knowledge_base_id, dim=embedding.dimension())
    assert ids == set(guide.chunks.values_list("id", flat=True))


def test_it_keeps_chunks_within_the_model_limit(guide):
    longest = max(embedding.count_tokens(text) for text in guide.chunks.values_list("text", flat=True))
    assert longest <= embedding.max_chunk_tokens()


def test_it_records_headings_for_markdown(guide):
    assert guide.chunks.exclude(heading="").count() == guide.chunk_count


def test_it_is_idempotent_when_run_twice(guide):
    services.document_ingest(document_id=guide.id)
    assert guide.chunks.count() == guide.chunk_count
    ids = index.vector_ids(guide.knowledge_base_id, dim=embedding.dimension())
    assert ids == set(guide.chunks.values_list("id", flat=True))


def test_it_rejects_the_same_content_twice(kb, guide):
    with pytest.raises(services.DuplicateDocument):
        ingest(kb, CORPUS, name="copy.md")


def test_it_rejects_unsupported_and_empty_files(kb):
    with pytest.raises(services.UploadRejected, match="unsupported"):
        services.document_create(knowledge_base=kb, file=ContentFile(b"x", name="a.exe"), name="a.exe")
    with pytest.raises(services.UploadRejected, match="empty"):
        services.document_create(knowledge_base=kb, file=ContentFile(b"", name="a.txt"), name="a.txt")


def test_it_rejects_files_over_the_size_limit(kb, settings):
    settings.MAX_UPLOAD_MB = 1
    big = ContentFile(b"a" * (1024 * 1024 + 1), name="big.txt")
    with pytest.raises(services.UploadRejected, match="limit"):
        services.document_create(knowledge_base=kb, file=big, name="big.txt")


def test_it_fails_a_corrupt_pdf_with_a_reason(kb, tmp_path: Path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not really a pdf")
    document = ingest(kb, broken)
    assert document.status == Document.Status.FAILED
    assert "PDF" in document.error
    assert document.chunks.count() == 0


def test_it_removes_chunks_and_vectors_on_delete(guide):
    kb_id = guide.knowledge_base_id
    services.document_delete(document=guide)
    assert Chunk.objects.filter(knowledge_base_id=kb_id).count() == 0
    assert index.vector_ids(kb_id, dim=embedding.dimension()) == set()


def test_it_rebuilds_the_index_from_the_database(guide, settings, tmp_path):
    settings.INDEX_DIR = tmp_path / "lost-indexes"
    assert index.vector_ids(guide.knowledge_base_id, dim=embedding.dimension()) == set()
    count = services.knowledge_base_rebuild_index(knowledge_base=guide.knowledge_base)
    assert count == guide.chunk_count
    assert index.vector_ids(guide.knowledge_base_id, dim=embedding.dimension()) == set(
        guide.chunks.values_list("id", flat=True)
    )
