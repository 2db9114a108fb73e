"""Uploads that attack the server: broken or crafted .zip members, hostile names, archive bombs.

Each file and each archive member is its own result with a reason; what was stored is never lost from
the report; limits are checked from the archive's table of contents before anything is unpacked.
"""

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from knowledge import archives, services
from knowledge.models import Document
from tests.hostile_files import (
    encrypted,
    renamed,
    with_bad_checksum,
    with_corrupt_data,
    with_declared_size,
    with_method,
    zip_of,
)

CHINESE_NAME = ("关于二零二五年度全体员工带薪年休假与调休安排及加班补偿办法的补充通知" * 3)[
    :100
] + ".txt"  # 304 bytes
LONG_NAME = "notes-" + "x" * 300 + ".txt"  # 310 bytes: over the 255 file systems allow
LONG_TITLE = "notes-" + "x" * 289 + "….txt"  # cut to the title's 300 characters, keeping the extension


def upload(kb, *files: tuple[str, bytes], max_files: int | None = None) -> services.UploadReport:
    named = [(name, ContentFile(data, name="upload")) for name, data in files]
    limit = {} if max_files is None else {"max_files": max_files}
    return services.upload_files(knowledge_base=kb, files=named, enqueue=False, **limit)


def reasons(report: services.UploadReport) -> dict[str, str]:
    return {rejected.name: rejected.reason for rejected in report.rejected}


def mixed_zip() -> bytes:
    """Good members before, between and after every kind of bad one."""
    data = zip_of(
        {
            "first.txt": "Parental leave is 16 weeks.",
            "crc.txt": "A stored member whose bytes were changed.",
            "locked.txt": "Secret.",
            "aes.txt": "Compressed with a method zipfile does not know.",
            "corrupt.txt": "A deflated member whose data was changed." * 20,
            LONG_NAME: "A member whose name is over 255 bytes.",
            "a\\..\\..\\escape.txt": "A member whose name climbs out with backslashes.",
            "../../etc/cron.txt": "A member whose name climbs out with slashes.",
            f"policies/{CHINESE_NAME}": "年假十五天。",
            "last.md": "# Travel\n\nBook trains under 500 km.",
        },
        stored=("crc.txt",),
    )
    data = with_bad_checksum(data, "crc.txt")
    data = encrypted(data, "locked.txt")
    data = with_method(data, "aes.txt", 99)
    return with_corrupt_data(data, "corrupt.txt")


def test_it_reports_each_bad_member_and_keeps_every_good_one(kb):
    report = upload(kb, ("bundle.zip", mixed_zip()))
    assert sorted(d.title for d in report.created) == sorted(
        [
            "first.txt",
            LONG_TITLE,
            "a\\..\\..\\escape.txt",
            "../../etc/cron.txt",
            f"policies/{CHINESE_NAME}",
            "last.md",
        ]
    )
    why = reasons(report)
    assert set(why) == {"crc.txt", "locked.txt", "aes.txt", "corrupt.txt"}
    assert "checksum" in why["crc.txt"]
    assert "encrypted" in why["locked.txt"]
    assert "method 99" in why["aes.txt"]
    assert "damaged" in why["corrupt.txt"]


def test_it_stores_hostile_names_safely_under_their_knowledge_base(kb, settings):
    upload(kb, ("bundle.zip", mixed_zip()))
    root = (Path(settings.MEDIA_ROOT) / "documents" / str(kb.id)).resolve()
    for document in Document.objects.all():
        stored = Path(document.file.path).resolve()
        assert stored.is_relative_to(root) and stored.is_file()
        assert len(stored.name.encode()) <= 255
        assert stored.read_bytes() == document.file.read()


def test_it_reads_chinese_member_names_written_in_the_windows_code_page(kb):
    data = renamed(zip_of({"xxxxxxxx.txt": "年假十五天。"}), "xxxxxxxx.txt", "年假制度.txt".encode("gb18030"))
    assert [d.title for d in upload(kb, ("windows.zip", data)).created] == ["年假制度.txt"]


def test_a_member_that_unpacks_past_its_declared_size_is_rejected_alone(kb):
    data = zip_of({"liar.txt": "a" * 1_000_000, "honest.txt": "Badges are renewed every January."})
    report = upload(kb, ("bundle.zip", with_declared_size(data, "liar.txt", 10)))
    assert [d.title for d in report.created] == ["honest.txt"]
    assert "damaged" in reasons(report)["liar.txt"]


def test_unpacking_stops_at_the_limit_it_is_given(tmp_path):
    path = tmp_path / "big.zip"
    path.write_bytes(zip_of({"big.txt": "a" * 1_000_000}))
    with zipfile.ZipFile(path) as archive, pytest.raises(archives.MemberTooLarge):
        archives.unpack(archive, archive.getinfo("big.txt"), io.BytesIO(), limit=100_000)


def test_an_archive_with_too_many_entries_is_rejected_before_unpacking(kb):
    data = zip_of({f"notes/{i}.txt": f"Note {i}." for i in range(3000)})
    report = upload(kb, ("many.zip", data))
    assert report.created == []
    assert reasons(report) == {
        "many.zip": "the archive has 3,000 entries; the limit is 2,000 (setting MAX_ZIP_MEMBERS)."
    }


def test_an_archive_whose_end_record_understates_its_entries_is_still_counted(kb, settings):
    settings.MAX_ZIP_MEMBERS = 3
    data = bytearray(zip_of({f"{i}.txt": f"Note {i}." for i in range(5)}))
    data[-12:-10] = (1).to_bytes(2, "little")  # the end record's "total entries"
    assert "5 entries" in reasons(upload(kb, ("liar.zip", bytes(data))))["liar.zip"]


def test_a_zip_bomb_is_rejected_before_unpacking(kb, settings):
    settings.MAX_ZIP_UNPACKED_MB = 5
    data = zip_of({f"zeros-{i}.txt": "0" * (1024 * 1024) for i in range(6)})
    assert len(data) < 100_000
    report = upload(kb, ("bomb.zip", data))
    assert report.created == [] and not Document.objects.exists()
    assert reasons(report)["bomb.zip"] == (
        "the archive unpacks to 6.0 MB; the limit is 5 MB (setting MAX_ZIP_UNPACKED_MB)."
    )


def test_a_member_over_the_file_limit_is_rejected_from_its_declared_size(kb, settings):
    settings.MAX_UPLOAD_MB = 1
    report = upload(kb, ("bundle.zip", zip_of({"big.txt": "a" * (2 * 1024 * 1024), "small.txt": "Hi."})))
    assert [d.title for d in report.created] == ["small.txt"]
    assert "2.0 MB is over the 1 MB limit (setting MAX_UPLOAD_MB)" in reasons(report)["big.txt"]


def test_one_upload_takes_at_most_max_files_archive_members_included(kb):
    first = zip_of({"a.txt": "One.", "b.txt": "Two."})
    second = zip_of({"c.txt": "Three.", "d.txt": "Four."})
    report = upload(kb, ("first.zip", first), ("second.zip", second), ("e.txt", b"Five."), max_files=3)
    assert sorted(d.title for d in report.created) == ["a.txt", "b.txt", "e.txt"]
    why = reasons(report)
    assert "holds 2 files, more than the 1 this upload can still take" in why["second.zip"]
    assert "MAX_UPLOAD_FILES" in why["second.zip"]


def test_files_past_the_upload_limit_are_each_reported(kb):
    report = upload(kb, ("a.txt", b"One."), ("b.txt", b"Two."), ("c.txt", b"Three."), max_files=2)
    assert [d.title for d in report.created] == ["a.txt", "b.txt"]
    assert "at most 2 files (setting MAX_UPLOAD_FILES)" in reasons(report)["c.txt"]


@pytest.mark.django_db(transaction=True)
def test_a_long_chinese_file_name_uploads_through_the_api(as_manager, kb, api_test):
    response = as_manager.upload(
        f"/api/v1/knowledge-bases/{kb.slug}/documents/",
        [SimpleUploadedFile(CHINESE_NAME, "年假十五天。".encode())],
    )
    assert response.status_code == 201, response.content
    assert response.json()["created"][0]["title"] == CHINESE_NAME


@pytest.mark.django_db(transaction=True)
def test_the_api_reports_each_member_of_a_mixed_zip(as_manager, kb, api_test):
    response = as_manager.upload(
        f"/api/v1/knowledge-bases/{kb.slug}/documents/", [SimpleUploadedFile("bundle.zip", mixed_zip())]
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["created"]) == 6
    assert {r["name"] for r in body["rejected"]} == {"crc.txt", "locked.txt", "aes.txt", "corrupt.txt"}
    assert all(r["message"].startswith(r["name"] + ": ") for r in body["rejected"])


def test_the_admin_reports_each_member_of_a_mixed_zip(admin_client, kb, monkeypatch):
    monkeypatch.setattr("knowledge.tasks.ingest_documents.apply_async", lambda *a, **k: None)
    response = admin_client.post(
        reverse("admin:knowledge_document_add"),
        {"knowledge_base": kb.id, "files": [SimpleUploadedFile("bundle.zip", mixed_zip())]},
        follow=True,
    )
    text = response.content.decode()
    assert "6 documents queued for indexing: " in text
    for name in ("crc.txt", "locked.txt", "aes.txt", "corrupt.txt"):
        assert f"Not uploaded: {name}: " in text
    assert Document.objects.filter(title=f"policies/{CHINESE_NAME}").exists()
