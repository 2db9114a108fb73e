"""The whole path with real processes: admin upload → Celery worker on Redis → FAISS → cited answer."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from knowledge.models import Document
from sources.models import Source, SyncRun
from tests.api_fixtures import ApiClient, key_for
from tests.conftest import CORPUS, ask
from tests.processes import celery_worker, use_data_dir, wait_for
from tests.test_api_sources import may_manage_sources

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until_done(document: Document, seconds: float = 120) -> Document:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        document.refresh_from_db()
        if document.status in (Document.Status.READY, Document.Status.FAILED):
            return document
        time.sleep(0.5)
    raise AssertionError(f"{document} still {document.status} after {seconds} s")


@pytest.fixture(scope="module")
def running_worker(django_db_setup, tmp_path_factory):
    """One worker for the module's tests, which all want it configured alike: a start loads Celery
    and the embedding model. Row ids are never reused here (transaction=True), so neither are
    index folders."""
    data_dir = tmp_path_factory.mktemp("worker")
    # Sources may reach the test site (tests/source_site.py) on 127.0.0.1.
    with celery_worker(data_dir, log=data_dir / "worker.log", SOURCE_ALLOWED_NETWORKS="127.0.0.1") as process:
        yield process, data_dir


@pytest.fixture
def worker(running_worker, settings):
    # The worker's DATA_DIR holds the same media and index folders this test process uses.
    process, data_dir = running_worker
    use_data_dir(settings, data_dir)
    return process


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="root-password-1")
    client.force_login(admin)
    return client


def test_it_ingests_an_admin_upload_in_the_worker_and_answers_with_a_citation(
    worker, admin_client, user, kb, llm, monkeypatch
):
    upload = SimpleUploadedFile(CORPUS.name, CORPUS.read_bytes(), content_type="text/markdown")
    response = admin_client.post(
        reverse("admin:knowledge_document_add"), {"knowledge_base": kb.id, "files": [upload]}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    document = wait_until_done(Document.objects.get())
    assert document.status == Document.Status.READY, document.error
    assert document.chunk_count > 20

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    llm.script(reasoning="The guide gives the count.", content="DeepSeek-V3 有 6710 亿参数 [1]。")
    done = dict(ask(user, kb))["done"]
    assert done["citations"][0]["n"] == 1
    assert "6710亿（671B）" in done["citations"][0]["text"]


def test_it_reports_a_failed_document_with_its_reason(worker, admin_client, kb, tmp_path):
    scanned = SimpleUploadedFile("scan.pdf", b"%PDF-1.4\n%broken beyond repair")
    admin_client.post(reverse("admin:knowledge_document_add"), {"knowledge_base": kb.id, "files": [scanned]})
    document = wait_until_done(Document.objects.get())
    assert document.status == Document.Status.FAILED
    assert "PDF" in document.error


def test_ingest_command_goes_through_the_running_worker(worker, tmp_path, capsys):
    (tmp_path / "leave.txt").write_text("Parental leave is 16 weeks at full pay.")
    call_command("ingest", str(tmp_path / "leave.txt"), kb="hr", create=True)
    assert "1 of 1 new documents ready" in capsys.readouterr().out
    assert Document.objects.get().chunk_count == 1


@pytest.mark.usefixtures("api_test")
def test_a_sync_now_from_the_rest_api_runs_in_the_worker(worker, manager, kb, site):
    may_manage_sources(manager)
    source = Source.objects.create(
        knowledge_base=kb, name="Handbook", url=f"{site.base}/docs/twins.html", max_depth=1, max_pages=3
    )
    response = ApiClient(key_for(manager)).post(f"/api/v1/sources/{source.id}/sync/")
    assert response.status_code == 202, response.content
    run = wait_for(lambda: source.runs.exclude(status=SyncRun.Status.RUNNING).first(), 60, "the sync")
    assert (run.trigger, run.status, run.added) == (SyncRun.Trigger.MANUAL, SyncRun.Status.DONE, 3), run.error
    documents = [wait_until_done(document, 60) for document in Document.objects.all()]
    assert [document.status for document in documents] == [Document.Status.READY] * 3
    source.refresh_from_db()
    assert source.syncing_since is None
