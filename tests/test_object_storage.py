"""Originals on S3-compatible object storage (moto's server, started by the tests)."""

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from fpdf import FPDF

from chatsite import object_storage
from knowledge import originals, services
from knowledge.models import Document
from tests.conftest import ingest


def test_it_keeps_uploaded_originals_in_the_bucket(kb, s3_storage):
    report = services.upload_files(
        knowledge_base=kb,
        files=[("notes.txt", ContentFile(b"Parking is free.", name="notes.txt"))],
        enqueue=False,
    )
    name = report.created[0].file.name
    assert s3_storage.keys() == {name}
    with default_storage.open(name) as stored:
        assert stored.read() == b"Parking is free."


def pdf_of(pages: int) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for page in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 8, f"Page {page}: staff get 25 days of vacation, and parking is free. " * 20)
    return bytes(pdf.output())


async def _parts(content) -> list[bytes]:
    return [part async for part in content]


@pytest.fixture
def small_blocks(monkeypatch) -> int:
    """Blocks smaller than the test's files, so that sending them takes several."""
    monkeypatch.setattr(originals, "STREAM_BLOCK_BYTES", 1024)
    return 1024


def test_it_ingests_an_original_from_the_bucket_and_streams_it_back(
    client, user, kb, s3_storage, tmp_path, small_blocks
):
    path = tmp_path / "handbook.pdf"
    path.write_bytes(pdf_of(pages=8))
    document = ingest(kb, path)
    assert document.status == Document.Status.READY and document.chunk_count > 0
    assert s3_storage.keys() == {document.file.name}
    client.force_login(user)
    response = client.get(reverse("knowledge:download", args=[document.id]))
    assert response.status_code == 200 and response.is_async  # sent as read, not collected first
    assert response["Content-Length"] == str(path.stat().st_size)
    parts = async_to_sync(_parts)(response.streaming_content)
    assert b"".join(parts) == path.read_bytes()
    assert path.stat().st_size > 2 * small_blocks
    assert [len(part) for part in parts[:-1]] == [small_blocks] * (len(parts) - 1)


def test_it_streams_an_original_on_disk_too(client, user, kb, tmp_path, small_blocks):
    path = tmp_path / "handbook.pdf"
    path.write_bytes(pdf_of(pages=8))
    document = ingest(kb, path)
    client.force_login(user)
    response = client.get(reverse("knowledge:download", args=[document.id]))
    assert response.is_async and response["Content-Length"] == str(path.stat().st_size)
    parts = async_to_sync(_parts)(response.streaming_content)
    assert b"".join(parts) == path.read_bytes() and len(parts) > 2


@pytest.fixture
def s3_from_env(s3_storage, monkeypatch, settings) -> dict:
    """Django's default storage as STORAGE_S3_* configures it, on the test bucket."""
    options = s3_storage.storage_options()
    for name, value in {
        "STORAGE_S3_BUCKET": options["bucket_name"],
        "STORAGE_S3_ENDPOINT_URL": options["endpoint_url"],
        "STORAGE_S3_REGION": options["region_name"],
        "STORAGE_S3_ACCESS_KEY_ID": options["access_key"],
        "STORAGE_S3_SECRET_ACCESS_KEY": options["secret_key"],
        "STORAGE_S3_ADDRESSING_STYLE": "path",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FILE_STORAGE_BACKEND", raising=False)
    monkeypatch.delenv("FILE_STORAGE_OPTIONS", raising=False)
    configured = object_storage.default_storage_from_env()
    settings.STORAGES = {**settings.STORAGES, "default": configured}
    return configured


def test_the_bucket_setting_chooses_s3_without_overwriting(s3_from_env):
    assert s3_from_env["BACKEND"] == object_storage.S3_STORAGE
    assert s3_from_env["OPTIONS"]["file_overwrite"] is False


def test_it_never_overwrites_an_object_of_the_same_name(s3_from_env, s3_storage):
    first = default_storage.save("documents/notes.txt", ContentFile(b"first"))
    second = default_storage.save("documents/notes.txt", ContentFile(b"second"))
    assert first != second and s3_storage.keys() == {first, second}
    with default_storage.open(first) as one, default_storage.open(second) as other:
        assert (one.read(), other.read()) == (b"first", b"second")


def test_two_uploads_of_one_name_keep_their_own_originals(client, user, kb, s3_from_env):
    created = [
        services.upload_files(
            knowledge_base=kb, files=[("notes.txt", ContentFile(text, name="notes.txt"))], enqueue=False
        ).created[0]
        for text in (b"Parking is free.", b"Lunch is at noon.")
    ]
    client.force_login(user)
    bodies = [
        b"".join(client.get(reverse("knowledge:download", args=[document.id])).streaming_content)
        for document in created
    ]
    assert bodies == [b"Parking is free.", b"Lunch is at noon."]


def test_originals_stay_on_disk_without_a_bucket(monkeypatch):
    for name in ("STORAGE_S3_BUCKET", "FILE_STORAGE_BACKEND", "FILE_STORAGE_OPTIONS"):
        monkeypatch.delenv(name, raising=False)
    assert object_storage.default_storage_from_env() == {
        "BACKEND": object_storage.FILE_SYSTEM_STORAGE,
        "OPTIONS": {},
    }


def test_it_refuses_an_unknown_addressing_style(monkeypatch):
    monkeypatch.setenv("STORAGE_S3_BUCKET", "originals")
    monkeypatch.setenv("STORAGE_S3_ADDRESSING_STYLE", "sideways")
    with pytest.raises(ImproperlyConfigured, match="STORAGE_S3_ADDRESSING_STYLE"):
        object_storage.default_storage_from_env()
