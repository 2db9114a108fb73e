"""Originals on S3-compatible object storage (moto's server, started by the tests)."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from knowledge import services


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
