"""The chat widget in headless Chromium, on pages served by the test from another origin than the
app's: an allowed page gets the button, and its panel streams an answer with its reasoning pane and
citations, in the page's language; a page of another origin gets no button, nor the panel framed."""

import json
import threading
import urllib.request
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from audit.models import Event
from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest, person
from widgets import tokens
from widgets.models import Widget

pytestmark = pytest.mark.django_db(transaction=True)

HOST_PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>Intranet</title></head>
<body><h1>Company intranet</h1><p>News of the week.</p>
<script src="{app}/widget/{key}/loader.js" async></script></body></html>
"""
FRAMING_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Elsewhere</title></head>
<body><iframe src="{app}/widget/{key}/" title="panel"></iframe></body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture
def host(tmp_path) -> Iterator[tuple[Path, int]]:
    """A tiny web server of the test's own for the host pages: its folder, and its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def widget(kb, host) -> Widget:
    """Allowed on http://127.0.0.1:<host port> (and so not on http://localhost:<host port>)."""
    made = Widget.objects.create(name="Intranet help", allowed_origins=f"http://127.0.0.1:{host[1]}")
    made.access = Widget.Access.ANONYMOUS
    made.save()
    made.knowledge_bases.set([kb])
    return made


def host_page(host, live_app, widget: Widget, name: str, lang: str = "en", template: str = HOST_PAGE) -> str:
    folder, _port = host
    (folder / name).write_text(template.format(app=live_app[0], key=widget.key, lang=lang))
    return name


def ask_in_panel(page: Page, question: str):
    button = page.locator(".knowledge-chat-button")
    expect(button).to_be_visible(timeout=20_000)
    button.click()
    frame = page.locator(".knowledge-chat-panel iframe").element_handle().content_frame()
    assert frame is not None
    # The iframe starts as about:blank, whose load has long happened: wait for the panel's own page,
    # whose deferred scripts have run (and listen for Enter) once it has loaded.
    frame.wait_for_url("**/widget/**")
    frame.wait_for_load_state("load")
    panel = page.frame_locator(".knowledge-chat-panel iframe")
    panel.locator("textarea[name=question]").fill(question)
    panel.locator("textarea[name=question]").press("Enter")
    return panel


def test_an_allowed_page_gets_the_button_and_a_streamed_answer(
    page: Page, live_app, host, widget, kb, fake_llm
):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="资料 [1] 说 671B。", content="DeepSeek-V3 has **671B** parameters in all [1].")
    page.goto(f"http://127.0.0.1:{host[1]}/" + host_page(host, live_app, widget, "en.html"))
    panel = ask_in_panel(page, "How many parameters does DeepSeek-V3 have?")

    expect(panel.locator(".msg-assistant .answer strong")).to_have_text("671B", timeout=30_000)
    expect(panel.locator(".reasoning summary")).to_contain_text("Thought for")
    expect(panel.locator(".source")).to_have_count(1)
    expect(panel.locator(".sources-title")).to_have_text("Sources")
    expect(panel.locator(".source-open")).to_have_count(0)  # anonymous: no link to the document
    panel.locator(".reasoning summary").click()
    page.screenshot(path=str(ARTIFACTS / "widget-panel.png"))

    # A follow-up question carries the earlier turn as history.
    fake_llm.script(content="It has 37B active parameters per token [1].")
    panel.locator("textarea[name=question]").fill("And how many are active?")
    panel.locator("textarea[name=question]").press("Enter")
    expect(panel.locator(".msg-assistant")).to_have_count(2)
    expect(panel.locator(".msg-assistant").last.locator(".answer")).to_contain_text("37B", timeout=30_000)
    assert "How many parameters does DeepSeek-V3 have?" in str(fake_llm.requests[-1]["messages"])


def test_a_chinese_page_gets_the_panel_in_chinese(page: Page, live_app, host, widget, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="资料 [1] 写着 6710 亿。", content="DeepSeek-V3 共有 **6710 亿** 参数 [1]。")
    page.goto(f"http://127.0.0.1:{host[1]}/" + host_page(host, live_app, widget, "zh.html", lang="zh-CN"))
    expect(page.locator(".knowledge-chat-button")).to_have_attribute("aria-label", "打开聊天", timeout=20_000)
    panel = ask_in_panel(page, "DeepSeek-V3 有多少参数？")
    expect(panel.locator(".msg-assistant .answer strong")).to_have_text("6710 亿", timeout=30_000)
    expect(panel.locator(".sources-title")).to_have_text("来源")
    expect(panel.locator(".reasoning summary")).to_contain_text("秒")
    page.screenshot(path=str(ARTIFACTS / "widget-panel-zh.png"))


def test_a_page_of_another_origin_gets_no_button_nor_the_panel(page: Page, live_app, host, widget):
    name = host_page(host, live_app, widget, "elsewhere.html")
    with page.expect_console_message(
        lambda message: "may not show the chat widget" in message.text
    ) as warned:
        page.goto(f"http://localhost:{host[1]}/{name}")  # another origin than 127.0.0.1's
    assert warned.value.type == "warning"
    expect(page.locator(".knowledge-chat-button")).to_have_count(0)

    framing = host_page(host, live_app, widget, "framing.html", template=FRAMING_PAGE)
    with page.expect_response(lambda response: f"/widget/{widget.key}/" in response.url) as refused:
        page.goto(f"http://localhost:{host[1]}/{framing}")
    assert refused.value.status == 403
    page.screenshot(path=str(ARTIFACTS / "widget-refused.png"))


def test_a_token_from_the_host_backend_reaches_the_panel_by_post_message(
    page: Page, live_app, host, widget, kb, user, fake_llm
):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="看资料 [1]。", content="DeepSeek-V3 has **671B** parameters [1].")
    widget.access = Widget.Access.TOKEN
    widget.save()
    secret = tokens.widget_new_secret(widget=widget)
    asked = urllib.request.Request(
        f"{live_app[0]}/api/v1/widgets/{widget.key}/tokens/",
        data=json.dumps({"username": user.username}).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(asked, timeout=30) as response:  # as the host's backend does
        token = json.load(response)["token"]
    page_with_token = HOST_PAGE.replace("async>", f'data-token="{token}" async>')
    name = host_page(host, live_app, widget, "token.html", template=page_with_token)
    page.goto(f"http://127.0.0.1:{host[1]}/{name}")
    panel = ask_in_panel(page, "How many parameters does DeepSeek-V3 have?")
    expect(panel.locator(".msg-assistant .answer strong")).to_have_text("671B", timeout=30_000)
    expect(panel.locator(".source-open")).to_have_count(1)  # the user may read the document
    assert Event.objects.get(kind=Event.Kind.QUESTION).user == user

    bogus = HOST_PAGE.replace("async>", 'data-token="not-a-token" async>')
    name = host_page(host, live_app, widget, "bogus.html", template=bogus)
    page.goto(f"http://127.0.0.1:{host[1]}/{name}")
    panel = ask_in_panel(page, "How many parameters does DeepSeek-V3 have?")
    expect(panel.locator(".error-box")).to_contain_text("has expired", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "widget-token-expired.png"))


def test_the_admin_shows_the_widget_and_its_snippet(page: Page, live_app, widget):
    root = person("root")
    root.is_staff = root.is_superuser = True
    root.save()
    log_in(page, root)
    page.goto(f"/admin/widgets/widget/{widget.pk}/change/")
    expect(page.locator(".widget-snippet")).to_contain_text(f"/widget/{widget.key}/loader.js")
    page.screenshot(path=str(ARTIFACTS / "widget-admin.png"), full_page=True)
    page.context.set_extra_http_headers({"Accept-Language": "zh-CN,zh;q=0.9"})
    page.reload()
    expect(page.locator("h2", has_text="代码片段")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "widget-admin-zh.png"), full_page=True)


def test_a_session_widget_asks_a_signed_out_visitor_to_sign_in(page: Page, live_app, host, widget):
    widget.access = Widget.Access.SESSION
    widget.save()
    for lang, heading, shot in [
        ("en", "Sign in to ask", "widget-sign-in.png"),
        ("zh-CN", "登录后提问", "widget-sign-in-zh.png"),
    ]:
        page.goto(
            f"http://127.0.0.1:{host[1]}/" + host_page(host, live_app, widget, f"{lang}.html", lang=lang)
        )
        page.locator(".knowledge-chat-button").click()
        panel = page.frame_locator(".knowledge-chat-panel iframe")
        expect(panel.locator("h2")).to_have_text(heading)
        expect(panel.locator("a.button-primary")).to_have_attribute("target", "_blank")
        page.screenshot(path=str(ARTIFACTS / shot))
