"""Headless Chromium against the app under its ASGI server (with the test upstream as its LLM)."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect, sync_playwright

from tests.fake_llm import _shared_fake_llm
from tests.processes import asgi_server, use_data_dir

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def live_app(django_db_setup, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("browser-app")
    fake = _shared_fake_llm()
    llm = {"LLM_BASE_URL": fake.base_url, "LLM_API_KEY": "sk-test"}
    with asgi_server(data_dir, log=data_dir / "server.log", **llm) as url:
        yield url, data_dir


@contextmanager
def chromium_page(request, base_url: str) -> Iterator[Page]:
    """A headless Chromium page on `base_url`; a screenshot is saved when the test fails."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860}, base_url=base_url)
        ARTIFACTS.mkdir(exist_ok=True)
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
        browser.close()


@pytest.fixture
def page(request, live_app, settings, sync_orm_in_async) -> Iterator[Page]:
    # Playwright runs an event loop in this thread; the test's own ORM calls are still synchronous.
    use_data_dir(settings, live_app[1])
    with chromium_page(request, live_app[0]) as page:
        yield page


def log_in(page: Page, user: User) -> None:
    """Log in through the login form with the password that conftest.person gave the user."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", f"{user.username}-password-1")
    page.click("button[type=submit]")
    expect(page.locator("textarea[name=question]")).to_be_visible()
    page.wait_for_load_state("load")  # the chat scripts have run and listen for Enter
