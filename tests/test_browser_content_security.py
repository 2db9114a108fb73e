"""Every page in headless Chromium under the site's CSP: nothing refused, nothing broken; and an
uploaded page with a script never runs on our origin."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import ConsoleMessage, Frame, Page, expect

from api.models import ApiKey
from knowledge.models import Document
from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest, person
from tests.test_browser_chat import RICH_ANSWER, ask
from tests.test_document_download import pdf_bytes, upload

pytestmark = pytest.mark.django_db(transaction=True)

# Reports each refusal of the CSP to the test, from every document the page opens.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(`${location.pathname}: ${event.violatedDirective} ${event.blockedURI} ` +
                         `${event.sourceFile}:${event.lineNumber}`);
});
"""
# What an attacker's upload would do on our origin: keep the reader's cookies and mint a key.
STEAL = """<!DOCTYPE html><html><body><p>Quarterly report</p><script>
localStorage.setItem("stolen", document.cookie);
const form = {name: "stolen", csrfmiddlewaretoken: document.cookie.match(/csrftoken=([^;]+)/)[1]};
fetch("/account/api-keys/", {method: "POST", body: new URLSearchParams(form)});
</script></body></html>"""


def console_line(message: ConsoleMessage) -> str:
    return f"{message.location['url']}: {message.text}"


@pytest.fixture
def watched(page: Page) -> list[str]:
    """Every CSP violation and console error of every document the page shows."""
    problems: list[str] = []
    page.expose_function("reportViolation", lambda violation: problems.append(violation))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: message.type == "error" and problems.append(console_line(message)))
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def is_pdf_viewer(frame: Frame) -> bool:
    """Chromium's PDF viewer: an extension's frame inside the page."""
    return frame.url.startswith("chrome-extension://")


@pytest.fixture
def root(db) -> User:
    someone = person("root")
    someone.is_staff = someone.is_superuser = True
    someone.save()
    return someone


def test_every_page_works_under_the_policy(page, watched, root, kb, fake_llm):
    guide = ingest(kb, CORPUS)
    busy = Document.objects.create(
        knowledge_base=kb, title="big.pdf", sha256="busy", status="processing", chunks_done=3, chunks_total=10
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/accounts/login/")
    expect(page.locator(".auth-logo")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "csp-login.png"))
    log_in(page, root)

    fake_llm.script(
        reasoning="先查资料 [1]。" * 5, content=RICH_ANSWER + "\n\n" + "更多说明。" * 80, delay=0.03
    )
    ask(page, "DeepSeek-V3 和 R1 的参数量？怎么调用？")
    # The server loads its embedding model for the first question: slow on a busy machine.
    expect(page.locator(".msg-assistant details.reasoning")).to_be_attached(timeout=90_000)
    streaming = page.locator(".msg-assistant .answer.is-streaming")
    expect(streaming.locator("table td").first).to_have_text("DeepSeek-V3", timeout=30_000)  # preview
    expect(page.locator(".msg-assistant .msg-actions")).to_be_visible(timeout=30_000)
    answer = page.locator(".msg-assistant .answer").last
    answer.locator(".code-copy").click()
    expect(answer.locator(".code-copy")).to_contain_text("Copied")
    page.locator("details.reasoning summary").click()
    answer.locator("a.cite").first.click()
    opener = page.locator("li.source a[href*='/view/?passage=']").first
    expect(opener).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "csp-chat-answer.png"))
    with page.context.expect_page() as opened:
        opener.click()
    expect(opened.value.locator("mark#cited")).to_be_in_viewport()
    opened.value.close()
    page.reload()
    expect(page.locator(".msg-assistant .highlight span.kn").first).to_have_text("from")

    page.goto(f"/kb/{kb.slug}/hit-testing/?q=DeepSeek-V3+有多少参数？")
    expect(page.locator("li.hit").first).to_contain_text("671B")
    page.goto("/account/api-keys/")
    page.fill("input[name=name]", "机器人")
    page.click("button[type=submit]:has-text('Create key')")
    secret = page.locator("input.keys-secret")
    secret.focus()
    assert secret.evaluate("input => input.selectionEnd - input.selectionStart === input.value.length")
    page.screenshot(path=str(ARTIFACTS / "csp-api-keys.png"), full_page=True)

    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .title")).to_contain_text("Knowledge Chat API", timeout=30_000)
    page.locator(".opblock-summary-path", has_text="/v1/chat/completions").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "csp-api-docs.png"))

    page.goto("/admin/")
    page.goto("/admin/knowledge/knowledgebase/")
    expect(page.locator("a.kb-hit-testing").first).to_have_css("white-space", "nowrap")
    page.screenshot(path=str(ARTIFACTS / "csp-admin-knowledge-bases.png"))
    page.goto(f"/admin/knowledge/knowledgebase/{kb.id}/change/")
    page.goto("/admin/knowledge/knowledgebase/add/")
    page.locator("#id_name").press_sequentially("Staff Handbook")
    expect(page.locator("#id_slug")).to_have_value("staff-handbook")
    page.select_option("#id_groups_from", label="readers")
    page.click("#id_groups_add")
    expect(page.locator("#id_groups_to option")).to_have_text(["readers"])
    page.goto("/admin/knowledge/document/")
    bar = page.locator(f'.doc-state[data-document-id="{busy.id}"] .doc-progress-bar')
    expect(bar).to_have_attribute("style", "width: 30%;")
    page.screenshot(path=str(ARTIFACTS / "csp-admin-documents.png"))
    page.goto("/admin/knowledge/document/add/")
    page.goto(f"/admin/knowledge/document/{guide.id}/change/")
    assert watched == [], "\n".join(watched)


def test_an_uploaded_page_with_a_script_never_runs_on_our_origin(page, watched, root, kb):
    report = upload(kb, "report.html", STEAL.encode())
    renamed = upload(kb, "notes.txt", b"Plain notes. " + STEAL.encode())
    Document.objects.filter(id=renamed.id).update(title="notes.html")
    handbook = upload(kb, "handbook.pdf", pdf_bytes())
    log_in(page, root)

    page.goto(f"/admin/knowledge/document/{report.id}/change/")
    with page.expect_download() as download:
        page.click(".field-file_link a")
    assert download.value.suggested_filename == "report.html"
    page.goto(f"/admin/knowledge/document/{renamed.id}/change/")
    page.click(".field-file_link a")
    expect(page.locator("body")).to_contain_text("<script>")  # shown as text
    page.goto(f"/admin/knowledge/document/{handbook.id}/change/")
    with page.expect_event("framenavigated", predicate=is_pdf_viewer) as viewer:
        page.click(".field-file_link a")  # shown in the tab, in spite of the sandbox
    expect(viewer.value.locator("#pageSelector")).to_have_value("1")
    page.screenshot(path=str(ARTIFACTS / "csp-original-pdf.png"))

    page.goto("/account/api-keys/")
    assert page.evaluate("localStorage.getItem('stolen')") is None
    expect(page.locator(".keys-empty")).to_be_visible()
    assert not ApiKey.objects.exists()
    assert watched == [], "\n".join(watched)
