"""Headless Chromium against the app under its ASGI server (with the test upstream as its LLM)."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.fake_llm import _shared_fake_llm
from tests.processes import asgi_server, use_data_dir

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="session")
def live_app(django_db_setup, tmp_path_factory):
    """One server for every module that uses the app as configured here (a module that needs it
    configured otherwise defines its own `live_app`): each start loads the embedding model.
    Sharing it is safe as tests of real processes share the database, with transaction=True, where
    row ids are never reused, so neither are index folders or per-user counts."""
    data_dir = tmp_path_factory.mktemp("browser-app")
    fake = _shared_fake_llm()
    llm = {"LLM_BASE_URL": fake.base_url, "LLM_API_KEY": "sk-test"}
    with asgi_server(data_dir, log=data_dir / "server.log", **llm) as url:
        yield url, data_dir


@pytest.fixture(scope="module")
def chromium() -> Browser:
    """One Chromium for a module's tests, each of which gets a context of its own (cookies, storage
    and cache apart): starting Playwright's driver and the browser takes seconds.

    Playwright marks an event loop as running in this thread while it lives, so Django's ORM must
    be let run here (as `sync_orm_in_async` does for one test) from the first test to the module's
    last database flush; and it lives for one module only, not to disturb the modules after it."""
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield browser
        browser.close()


@contextmanager
def browser_page(request, chromium: Browser, base_url: str) -> Iterator[Page]:
    """A page in a context of its own on `base_url`; a screenshot is saved when the test fails."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860}, base_url=base_url)
    page = context.new_page()
    ARTIFACTS.mkdir(exist_ok=True)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def page(request, chromium, live_app, settings, sync_orm_in_async) -> Iterator[Page]:
    # Playwright runs an event loop in this thread; the test's own ORM calls are still synchronous.
    use_data_dir(settings, live_app[1])
    with browser_page(request, chromium, live_app[0]) as page:
        yield page


def log_in(page: Page, user: User) -> None:
    """Log in through the login form with the password that conftest.person gave the user."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", f"{user.username}-password-1")
    page.click("button[type=submit]")
    expect(page.locator("textarea[name=question]")).to_be_visible()
    page.wait_for_load_state("load")  # the chat scripts have run and listen for Enter
