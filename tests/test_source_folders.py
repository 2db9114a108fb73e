"""Syncing a folder source from a temporary folder: files of supported types become documents, a
link out of the folder is not followed, changes and removals follow the files."""

import os

import pytest

from knowledge import ingestion
from knowledge.models import Document
from sources import syncing
from sources.models import Source, SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def share(tmp_path, settings):
    root = tmp_path / "share"
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "travel.md").write_text(
        "# Travel\n\nTrain tickets are booked by the office manager."
    )
    (root / "leave.txt").write_text("Every employee has twenty-five days of leave a year.")
    (root / "drawing.dwg").write_bytes(b"AC1032 not a document type")
    (root / ".hidden.txt").write_text("hidden")
    (tmp_path / "outside.txt").write_text("Salaries of the board.")
    os.symlink(tmp_path / "outside.txt", root / "board.txt")
    settings.SOURCE_FOLDER_ROOTS = [str(root)]
    return root


@pytest.fixture
def source(kb, share) -> Source:
    return Source.objects.create(knowledge_base=kb, name="Share", kind=Source.Kind.FOLDER, path=str(share))


def sync(source: Source, sent, capture) -> SyncRun:
    with capture(execute=True):
        run = syncing.source_sync(source_id=source.id, trigger=SyncRun.Trigger.MANUAL)
    ingestion.ingest_documents(document_ids=list(sent))
    sent.clear()
    assert run is not None
    return run


def test_it_makes_documents_of_the_files_and_not_of_a_link_out(
    source, share, sent, django_capture_on_commit_callbacks
):
    run = sync(source, sent, django_capture_on_commit_callbacks)
    titles = set(Document.objects.values_list("title", flat=True))
    assert titles == {"leave.txt", "policies/travel.md"}
    assert run.problems == [
        {"location": str(share / "board.txt"), "reason": "a link to a file outside the folder; not read."}
    ]
    travel = Document.objects.get(title="policies/travel.md")
    assert travel.source_location == str(share / "policies" / "travel.md")
    assert "office manager" in travel.chunks.get().text


def test_it_follows_changes_and_removals(source, share, sent, django_capture_on_commit_callbacks):
    sync(source, sent, django_capture_on_commit_callbacks)
    (share / "leave.txt").write_text("Every employee has thirty days of leave a year.")
    os.utime(share / "leave.txt", ns=(1, 1))
    (share / "policies" / "travel.md").unlink()
    run = sync(source, sent, django_capture_on_commit_callbacks)
    assert (run.added, run.changed, run.removed) == (0, 1, 1)
    assert "thirty" in Document.objects.get(title="leave.txt").chunks.get().text


def test_it_refuses_a_folder_outside_the_allowed_roots(
    kb, tmp_path, sent, django_capture_on_commit_callbacks
):
    source = Source.objects.create(knowledge_base=kb, name="Etc", kind=Source.Kind.FOLDER, path="/etc")
    run = sync(source, sent, django_capture_on_commit_callbacks)
    assert run.status == SyncRun.Status.FAILED and "SOURCE_FOLDER_ROOTS" in run.error
    assert not Document.objects.exists()
