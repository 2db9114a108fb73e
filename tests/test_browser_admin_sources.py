"""A manager adds a web source in the admin, asks it to sync now, and reads the sync's record."""

import pytest
from playwright.sync_api import expect

from chatsite.celery import app as celery_app
from sources import syncing
from sources.models import Source, SyncRun
from tests.browser import ARTIFACTS, log_in
from tests.conftest import person

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_source_is_added_synced_and_its_record_shown(page, kb, site, sent):
    root = person("root")
    root.is_staff = root.is_superuser = True
    root.save()
    log_in(page, root)
    page.goto("/admin/sources/source/add/")
    page.select_option("select[name=knowledge_base]", str(kb.id))
    page.fill("input[name=name]", "Harbour handbook")
    page.fill("input[name=url]", f"{site.base}/docs/index.html")
    page.select_option("select[name=auth]", "header")
    page.fill("input[name=auth_header_name]", "Authorization")
    page.fill("input[name=secret]", "Bearer browser-secret")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.locator("input[name=secret]")).to_have_value("")
    assert "browser-secret" not in page.content()

    page.click("input[name=_sync_now]")
    expect(page.locator(".messagelist")).to_contain_text("1 source queued to sync.")
    page.click("input[name=_sync_now]")
    expect(page.locator(".messagelist")).to_contain_text("A sync is already running (or queued) for")
    page.screenshot(path=str(ARTIFACTS / "admin-source-sync-running.png"), full_page=True)
    celery_app.control.purge()  # no worker here: the test does the worker's part, as the task does
    source = Source.objects.get()
    syncing.source_sync(source_id=source.id, trigger=SyncRun.Trigger.MANUAL, claimed=True)

    page.reload()
    runs = page.locator("#runs-group")
    expect(runs).to_contain_text("Done, with failures")
    page.screenshot(path=str(ARTIFACTS / "admin-source-synced.png"), full_page=True)
    page.goto("/admin/sources/syncrun/")
    page.click("#result_list tbody tr th a")
    expect(page.locator("body")).to_contain_text("SOURCE_PAGE_MAX_MB")
    expect(page.locator("body")).to_contain_text("127.0.0.2")
    page.screenshot(path=str(ARTIFACTS / "admin-sync-record.png"), full_page=True)
