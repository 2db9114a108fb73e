"""Syncing a web source from a local site: pages become documents, unchanged ones are skipped,
changed ones re-indexed, gone ones removed, and refused ones recorded with their reason."""

import pytest

from knowledge import ingestion, retrieval
from knowledge.models import Document
from sources import syncing, web
from sources.models import Source, SyncRun
from tests.source_site import Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(kb, site: Site) -> Source:
    return Source.objects.create(
        knowledge_base=kb, name="Handbook", url=f"{site.base}/docs/index.html", max_depth=2, max_pages=20
    )


@pytest.fixture
def sync(sent, django_capture_on_commit_callbacks):
    """Sync the source, and index what it queued, in this process."""

    def run(source: Source) -> SyncRun:
        with django_capture_on_commit_callbacks(execute=True):
            result = syncing.source_sync(source_id=source.id, trigger=SyncRun.Trigger.MANUAL)
        ingestion.ingest_documents(document_ids=list(sent))
        sent.clear()
        assert result is not None
        return result

    return run


def locations(source: Source) -> set[str]:
    return {path.removeprefix(source.scope) for path in source.items.values_list("location", flat=True)}


def test_it_makes_a_document_of_each_page_under_the_prefix(source, sync):
    run = sync(source)
    assert locations(source) == {"index.html", "about.html", "changing.html", "gone.html", "orphan.html"}
    assert (run.status, run.added, run.failed) == (SyncRun.Status.PARTIAL, 5, 2)
    about = Document.objects.get(title="About us")
    assert about.source_location == f"{source.scope}about.html"
    assert about.status == Document.Status.READY, about.error
    assert "eight o'clock" in about.chunks.get().text


def test_it_honours_robots_txt_and_stays_under_the_prefix(source, sync, site):
    sync(source)
    asked = {path for path, _status in site.requests}
    assert "/docs/private/secret.html" not in asked
    assert "/elsewhere.html" not in asked


def test_it_refuses_a_redirect_off_site_and_a_page_too_big_with_reasons(source, sync):
    run = sync(source)
    reasons = {problem["location"].removeprefix(source.scope): problem["reason"] for problem in run.problems}
    assert "127.0.0.2" in reasons["offsite.html"] and "SOURCE_ALLOWED_NETWORKS" in reasons["offsite.html"]
    assert "SOURCE_PAGE_MAX_MB" in reasons["big.html"]


def test_it_skips_unchanged_pages_and_reindexes_a_changed_one(source, sync, site):
    sync(source)
    site.requests.clear()
    again = sync(source)
    assert (again.added, again.changed, again.unchanged, again.removed) == (0, 0, 5, 0)
    assert ("/docs/changing.html", "304") in site.requests
    site.changes["notice"] = "The fire drill moved to Tuesday."
    changed = sync(source)
    assert (changed.changed, changed.unchanged) == (1, 4)
    notices = Document.objects.get(title="Notices")
    assert "Tuesday" in notices.chunks.get().text
    passages = retrieval.search(
        query="When is the fire drill?", knowledge_bases=[source.knowledge_base]
    ).passages
    assert "Tuesday" in passages[0].text


def test_it_removes_a_page_that_is_gone(source, sync, site):
    sync(source)
    site.changes["gone"] = True
    run = sync(source)
    assert run.removed == 1
    assert not Document.objects.filter(title="Old policy").exists()
    assert "gone.html" not in locations(source)


def test_it_keeps_every_document_when_the_site_cannot_be_reached(source, sync, settings):
    sync(source)
    settings.SOURCE_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    run = sync(source)
    assert run.status == SyncRun.Status.FAILED
    assert "SOURCE_ALLOWED_NETWORKS" in run.error
    assert Document.objects.count() == 5 and run.removed == 0


def test_the_task_runs_a_sync(source, sent):
    from sources import tasks

    tasks.sync_source(source.id, SyncRun.Trigger.SCHEDULE)
    run = source.runs.get()
    assert (run.trigger, run.added) == (SyncRun.Trigger.SCHEDULE, 5)
    assert source.items.count() == 5


def test_it_runs_one_sync_at_a_time_per_source(source, sync):
    Source.objects.filter(id=source.id).update(syncing_since=syncing.timezone.now())
    assert syncing.source_sync(source_id=source.id, trigger=SyncRun.Trigger.MANUAL) is None
    assert not SyncRun.objects.exists()


def test_its_citations_lead_to_the_page(source, sync, user):
    from chat.answering import citation_cards
    from chat.citations import passage_citation
    from tests.conftest import signed_in

    sync(source)
    passage = retrieval.search(
        query="When does the office open?", knowledge_bases=[source.knowledge_base]
    ).passages[0]
    card = citation_cards([passage_citation(1, passage)])[0]
    assert card["document_url"] == f"{source.scope}about.html"
    page = signed_in(user).get(f"/documents/{passage.document_id}/view/?passage={passage.chunk_id}")
    assert (
        f'href="{source.scope}about.html" target="_blank" rel="noopener noreferrer"' in page.content.decode()
    )


def test_it_follows_sitemap_indexes_each_sitemap_once_and_a_bounded_number(source, sync, site):
    sync(source)
    assert "orphan.html" in locations(source)  # listed only in a sitemap the index lists
    sitemaps = [path for path, _status in site.requests if "sitemap" in path]
    assert sitemaps.count("/sitemap.xml") == 1
    assert len(sitemaps) == web.MAX_SITEMAPS  # the endless chain of indexes is cut


def test_it_stops_at_the_time_limit_keeping_what_it_did_and_removing_nothing(
    source, sync, site, settings, monkeypatch
):
    sync(source)
    site.changes.update(notice="The fire drill moved to Tuesday.", gone=True)
    settings.SOURCE_SYNC_MAX_MINUTES = 1
    clock = iter(range(0, 10_000, 40))  # 40 s pass with every page
    monkeypatch.setattr(syncing, "monotonic", lambda: next(clock))
    run = sync(source)
    assert run.status == SyncRun.Status.STOPPED
    assert "time limit" in run.error and "SOURCE_SYNC_MAX_MINUTES" in run.error
    assert run.unchanged + run.changed == 2 and run.removed == 0
    assert Document.objects.filter(title="Old policy").exists()  # gone, but not reached: kept


def test_it_counts_a_page_with_the_content_of_another_as_a_duplicate_not_a_failure(kb, site, sync):
    twins = Source.objects.create(
        knowledge_base=kb, name="Twins", url=f"{site.base}/docs/twins.html", max_depth=1, max_pages=20
    )
    first = sync(twins)
    again = sync(twins)
    for run in (first, again):
        assert run.failed == 0 and run.problems == []
        assert run.duplicates == [
            {"location": f"{twins.scope}about-copy.html", "same_as": f"{twins.scope}about.html"}
        ]
    assert (first.added, first.unchanged) == (4, 1)
    assert (again.added, again.unchanged, again.status) == (0, 5, SyncRun.Status.DONE)
    assert Document.objects.filter(title="About us").count() == 1
