"""The chat page in headless Chromium against the app under its ASGI server and the test upstream."""

import pytest
from playwright.sync_api import Page, expect

from chat.models import Conversation, Message
from knowledge.models import KnowledgeBase
from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest, ingest_texts
from tests.test_hit_testing import BADGES

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_streams_reasoning_then_collapses_it_and_shows_a_cited_answer(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    reasoning = "用户问的是 DeepSeek-V3 的参数量。资料 [1] 里写着 6710 亿（671B）参数，所以答案很明确。" * 3
    fake_llm.script(
        reasoning=reasoning, content="DeepSeek-V3 共有 **6710 亿（671B）** 参数 [1]。", delay=0.03
    )
    log_in(page, user)

    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")

    thinking = page.locator("details.reasoning.is-thinking")
    expect(thinking).to_be_visible(timeout=30_000)  # the server may still be loading its model
    expect(thinking).to_have_attribute("open", "")
    expect(thinking).to_contain_text("DeepSeek-V3")
    page.screenshot(path=str(ARTIFACTS / "chat-reasoning.png"))
    answer = page.locator(".msg-assistant .answer").last
    expect(answer).to_contain_text("6710 亿（671B）", timeout=30_000)
    pane = page.locator("details.reasoning").last
    expect(pane).not_to_have_attribute("open", "")
    expect(pane.locator(".reasoning-label")).to_contain_text("Thought for")
    page.screenshot(path=str(ARTIFACTS / "chat-answer.png"))

    pane.locator("summary").click()
    expect(pane).to_contain_text("6710 亿（671B）参数，所以答案很明确")
    answer.locator("a.cite").first.click()
    source = page.locator("li.source").first
    expect(source).to_contain_text("6710亿（671B）")
    expect(source.locator("a[href*='/view/?passage=']")).to_be_visible()


def test_it_shows_an_upstream_error_with_a_retry_button(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(status=401)
    log_in(page, user)
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")
    expect(page.locator(".error-box")).to_contain_text("API key", timeout=30_000)
    expect(page.locator(".retry-button")).to_be_visible()
    expect(page.locator(".msg-assistant .msg-actions")).to_have_count(0)  # Retry is the action
    page.screenshot(path=str(ARTIFACTS / "chat-upstream-error.png"))


def test_the_stop_button_stops_the_model_and_keeps_the_partial_answer(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="先看看资料。" * 10, content="DeepSeek-V3 共有 6710 亿参数。" * 40, delay=0.05)
    log_in(page, user)
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")
    answer = page.locator(".msg-assistant .answer").last
    expect(answer).to_contain_text("6710 亿参数", timeout=30_000)
    page.locator(".send-button").click()
    expect(page.locator(".msg-assistant .status-note").last).to_be_visible(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "chat-stopped.png"))
    saved = Message.objects.get(role=Message.Role.ASSISTANT)
    assert saved.status == Message.Status.STOPPED
    assert 0 < len(saved.content) < len("DeepSeek-V3 共有 6710 亿参数。" * 40)
    page.reload()  # the stopped answer is there after a reload, with its partial text
    expect(page.locator(".msg-assistant .answer").last).to_contain_text("6710 亿参数")


def test_an_answer_from_general_knowledge_is_marked(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    kb.relevance_floor, kb.when_nothing_found = 0.99, "general"
    kb.save()
    fake_llm.script(reasoning="Nothing in the documents.", content="This is not from your documents. Paris.")
    log_in(page, user)
    page.fill("textarea[name=question]", "What is the capital of France?")
    page.keyboard.press("Enter")
    note = page.locator(".msg-assistant .grounding-note.is-general")
    expect(note).to_contain_text("Not from your documents", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "chat-general-knowledge.png"))
    page.reload()
    expect(page.locator(".msg-assistant .grounding-note.is-general")).to_be_visible()


def test_the_hit_testing_page_shows_relevance_and_the_floor(page, user, kb):
    ingest(kb, CORPUS)
    kb.relevance_floor = 0.2
    kb.save()
    log_in(page, user)
    page.goto(f"/kb/{kb.slug}/hit-testing/?q=DeepSeek-V3+有多少参数？")
    expect(page.locator("li.hit").first).to_contain_text("6710亿（671B）")
    expect(page.locator(".score-fused").first).to_contain_text("Relevance")
    page.screenshot(path=str(ARTIFACTS / "hit-testing.png"), full_page=True)


def ask(page: Page, question: str) -> None:
    page.fill("textarea[name=question]", question)
    page.keyboard.press("Enter")


RICH_ANSWER = """## 参数对比

| 模型 | 参数量 | 激活参数 |
| --- | --- | --- |
| DeepSeek-V3 | 671B | 37B |
| DeepSeek-R1 | 671B | 37B |

调用方式 [1]：

```python
from openai import OpenAI

client = OpenAI(base_url="https://api.deepseek.com")
reply = client.chat.completions.create(model="deepseek-reasoner", messages=[])
```
"""


def test_it_renders_a_table_and_highlighted_code_with_a_copy_button(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="Compare the two models.", content=RICH_ANSWER)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, user)
    ask(page, "DeepSeek-V3 和 R1 的参数量？怎么调用？")
    answer = page.locator(".msg-assistant .answer").last
    expect(answer.locator("table td").first).to_have_text("DeepSeek-V3", timeout=30_000)
    expect(answer.locator(".highlight .code-lang")).to_have_text("python")
    expect(answer.locator(".highlight span.kn").first).to_have_text("from")  # a Pygments keyword
    page.screenshot(path=str(ARTIFACTS / "chat-rich-answer.png"))
    answer.locator(".code-copy").click()
    expect(answer.locator(".code-copy")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()").startswith("from openai import OpenAI")
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(400)  # colours change with a transition
    page.screenshot(path=str(ARTIFACTS / "chat-rich-answer-dark.png"))


def test_it_regenerates_an_answer_and_resends_an_edited_question(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="First try.", content="First answer [1].")
    log_in(page, user)
    ask(page, "DeepSeek-V3 有多少参数？")
    expect(page.locator(".msg-assistant .answer").last).to_contain_text("First answer", timeout=30_000)

    fake_llm.script(reasoning="Second try.", content="Second answer [1].")
    page.locator(".msg-assistant .action-regenerate").click()
    expect(page.locator(".msg-assistant:visible .answer")).to_contain_text("Second answer", timeout=30_000)
    expect(page.locator(".msg-assistant:visible")).to_have_count(1)

    fake_llm.script(reasoning="Edited.", content="Answer to the edited question.")
    page.locator(".msg-user .bubble").hover()
    page.locator(".msg-user .action-edit").click()
    page.fill(".edit-box textarea", "DeepSeek-R1 用什么方法训练？")
    page.keyboard.press("Enter")
    expect(page.locator(".msg-assistant .answer").last).to_contain_text("edited question", timeout=30_000)
    expect(page.locator(".msg-user .bubble")).to_have_text(["DeepSeek-R1 用什么方法训练？"])
    page.reload()
    expect(page.locator(".msg-user .bubble")).to_have_text(["DeepSeek-R1 用什么方法训练？"])
    expect(page.locator(".msg-assistant .answer")).to_have_text(["Answer to the edited question."])


def test_it_stores_a_thumbs_down_with_a_comment(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="Hmm.", content="DeepSeek-V3 has 7B parameters.")
    log_in(page, user)
    ask(page, "DeepSeek-V3 有多少参数？")
    article = page.locator(".msg-assistant").last
    expect(article.locator(".answer")).to_contain_text("7B", timeout=30_000)
    article.locator(".action-rate[data-rating=down]").click()
    page.fill(".feedback-form textarea", "It is 671B, not 7B.")
    page.click(".feedback-form button[type=submit]")
    expect(article.locator(".feedback-thanks")).to_be_visible()
    saved = Message.objects.get(role=Message.Role.ASSISTANT)
    assert (saved.rating, saved.feedback) == ("down", "It is 671B, not 7B.")
    page.reload()
    expect(page.locator(".action-rate[data-rating=down]")).to_have_attribute("aria-pressed", "true")


def test_it_names_renames_searches_and_deletes_conversations(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="Short.", content="671B [1].")
    log_in(page, user)
    ask(page, "DeepSeek-V3 有多少参数？")
    item = page.locator(".conversation.is-current")
    expect(item).to_contain_text("DeepSeek-V3 有多少参数？", timeout=30_000)  # the first question names it
    expect(page.locator(".side-label").first).to_have_text("Today")

    item.locator(".rename-button").click()
    page.fill("#rename-dialog input[name=title]", "Model sizes")
    page.click("#rename-dialog button[type=submit]")
    expect(page.locator(".conversation.is-current")).to_have_text("Model sizes")
    expect(page.locator("#chat-title")).to_have_text("Model sizes")

    page.fill("#search-input", "671B")  # found by the answer's text
    expect(page.locator(".conversation")).to_have_text(["Model sizes"])
    page.fill("#search-input", "nothing like this")
    expect(page.locator(".conversation-empty")).to_be_visible()
    page.fill("#search-input", "")

    page.locator(".conversation.is-current .delete-button").click()
    expect(page.locator("#delete-dialog")).to_contain_text("Model sizes")
    page.screenshot(path=str(ARTIFACTS / "chat-delete-dialog.png"))
    page.click("#delete-dialog button[type=submit]")
    expect(page.locator(".conversation-empty")).to_be_visible()
    assert page.url.endswith("/") and not Message.objects.exists()


def test_a_lost_connection_is_shown_with_a_way_back(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    log_in(page, user)
    page.route("**/ask/", lambda route: route.abort("internetdisconnected"))
    ask(page, "DeepSeek-V3 有多少参数？")
    expect(page.locator(".error-box")).to_contain_text("Connection lost")
    page.unroute("**/ask/")
    fake_llm.script(reasoning="Back.", content="671B [1].")
    page.locator(".retry-button").click()
    expect(page.locator(".msg-assistant .answer").last).to_contain_text("671B", timeout=30_000)
    page.context.set_offline(True)
    expect(page.locator("#offline")).to_be_visible()
    page.context.set_offline(False)
    expect(page.locator("#offline")).to_be_hidden()


XSS = (
    '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> '
    '[click me](javascript:window.__xss=3) <a href="javascript:window.__xss=4">link</a>'
)


def test_script_in_a_document_or_an_answer_never_runs(page, user, kb, fake_llm, tmp_path):
    document = tmp_path / "payload.md"
    document.write_text(f"# Vacation\n\nStaff get 25 days of vacation a year. {XSS}\n", encoding="utf-8")
    ingest(kb, document)
    fake_llm.script(reasoning=f"Thinking {XSS}", content=f"25 days [1]. {XSS}")
    log_in(page, user)
    ask(page, "How many vacation days do staff get?")
    answer = page.locator(".msg-assistant .answer").last
    expect(answer).to_contain_text("25 days", timeout=30_000)
    expect(answer.locator("img, script, a[href^='javascript']")).to_have_count(0)
    answer.get_by_text("click me").click()
    answer.locator("a.cite").first.click()
    source = page.locator("li.source").first
    expect(source.locator(".source-text")).to_contain_text('<img src=x onerror="window.__xss=1">')
    page.locator("details.reasoning summary").click()
    expect(page.locator(".reasoning-text")).to_contain_text("<script>window.__xss=2</script>")
    page.reload()
    page.locator("details.reasoning summary").click()
    page.locator("a.cite").first.click()
    expect(page.locator("li.source .source-text").first).to_contain_text("onerror")
    assert page.evaluate("window.__xss") is None


def test_the_page_works_on_a_phone(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    page.set_viewport_size({"width": 390, "height": 844})
    fake_llm.script(reasoning="Compare the two models.", content=RICH_ANSWER)
    log_in(page, user)
    expect(page.locator("#sidebar")).not_to_be_in_viewport()
    ask(page, "DeepSeek-V3 和 R1 的参数量？")
    expect(page.locator(".msg-assistant .answer table")).to_be_visible(timeout=30_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing pushes the page sideways
    page.screenshot(path=str(ARTIFACTS / "phone-answer.png"))
    page.click(".nav-open")
    expect(page.locator("#sidebar")).to_be_in_viewport()
    expect(page.locator(".conversation.is-current")).to_be_visible()
    page.wait_for_timeout(400)  # the drawer slides in
    page.screenshot(path=str(ARTIFACTS / "phone-sidebar.png"))
    page.click(".scrim", position={"x": 370, "y": 400})  # beside the drawer
    expect(page.locator("#sidebar")).not_to_be_in_viewport()


def test_it_speaks_the_browsers_language_and_switches_on_request(page, live_app, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="先比较两个模型的参数。" * 20, content=RICH_ANSWER, delay=0.03)
    context = page.context.browser.new_context(
        locale="zh-CN", base_url=live_app[0], viewport={"width": 1280, "height": 860}
    )
    chinese = context.new_page()
    try:
        log_in(chinese, user)
        expect(chinese.locator("textarea[name=question]")).to_have_attribute("placeholder", "就文档内容提问…")
        ask(chinese, "DeepSeek-V3 和 R1 的参数量？怎么调用？")
        expect(chinese.locator("details.reasoning.is-thinking")).to_contain_text("思考中", timeout=30_000)
        label = chinese.locator("details.reasoning .reasoning-label")
        expect(label).to_contain_text("已深度思考（用时", timeout=30_000)
        expect(chinese.locator(".side-label").first).to_have_text("今天")
        expect(chinese.locator(".msg-assistant .msg-actions")).to_be_visible(timeout=30_000)  # done
        chinese.screenshot(path=str(ARTIFACTS / "chat-zh.png"))
        chinese.set_viewport_size({"width": 390, "height": 844})
        chinese.wait_for_timeout(400)  # the sidebar slides away
        chinese.screenshot(path=str(ARTIFACTS / "phone-zh.png"))
        chinese.set_viewport_size({"width": 1280, "height": 860})

        chinese.click(".language-button")
        expect(chinese.locator("textarea[name=question]")).to_have_attribute(
            "placeholder", "Ask a question about your documents…"
        )
        expect(label).to_contain_text("Thought for")
        chinese.click(".language-button")
        expect(label).to_contain_text("已深度思考（用时")
    finally:
        context.close()


def test_markdown_shows_while_the_answer_streams(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="Quick.", content=RICH_ANSWER + "\n\n" + "更多说明。" * 80, delay=0.03)
    log_in(page, user)
    ask(page, "DeepSeek-V3 和 R1 的参数量？")
    streaming = page.locator(".msg-assistant .answer.is-streaming")
    expect(streaming.locator("table td").first).to_have_text("DeepSeek-V3", timeout=30_000)
    expect(streaming.locator(".highlight .code-lang")).to_have_text("python")
    page.screenshot(path=str(ARTIFACTS / "chat-streaming-markdown.png"))
    expect(page.locator(".msg-assistant .msg-actions")).to_be_visible(timeout=30_000)
    expect(page.locator(".msg-assistant .answer")).to_contain_text("更多说明。" * 80)


def test_a_question_can_search_several_knowledge_bases(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    handbook = KnowledgeBase.objects.create(name="Staff handbook", slug="handbook", is_public=True)
    fake_llm.script(reasoning="Both.", content="671B [1].")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, user)
    page.click("#kb-menu summary")
    item = page.locator("#kb-menu .menu-item")
    item.filter(has_text="Staff handbook").click()
    item.filter(has_text="Guide").click()
    item.filter(has_text="Staff handbook").click()  # the last one ticked stays ticked
    expect(page.get_by_label("Staff handbook")).to_be_checked()
    expect(page.locator("#kb-summary")).to_have_text("Staff handbook")
    item.filter(has_text="Guide").click()
    expect(page.locator("#kb-summary")).to_have_text("Guide, Staff handbook")
    page.screenshot(path=str(ARTIFACTS / "phone-knowledge-bases.png"))
    page.keyboard.press("Escape")
    ask(page, "DeepSeek-V3 有多少参数？")
    expect(page.locator(".msg-assistant .msg-actions")).to_be_visible(timeout=30_000)
    conversation = Conversation.objects.get()
    assert set(conversation.knowledge_bases.values_list("name", flat=True)) == {"Guide", "Staff handbook"}
    page.reload()
    expect(page.locator("#kb-summary")).to_have_text("Guide, Staff handbook")
    assert handbook.id in {
        int(v) for v in page.locator("#kb-menu input:checked").evaluate_all("l => l.map(i => i.value)")
    }


def test_a_distill_reply_that_was_never_reasoning_moves_from_the_reasoning_pane_to_the_answer(
    page, user, kb, fake_llm
):
    ingest(kb, CORPUS)
    fake_llm.script(style="plain", content="DeepSeek-V3 共有 6710 亿参数 [1]。" * 4, delay=0.1)
    log_in(page, user)
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")
    # A local R1 distill writes no opening tag: until it closes one, its words are taken for reasoning.
    expect(page.locator("details.reasoning.is-thinking")).to_contain_text("6710 亿参数", timeout=30_000)
    answer = page.locator(".msg-assistant .answer").last
    expect(answer).to_contain_text("6710 亿参数", timeout=30_000)
    expect(page.locator(".msg-assistant details.reasoning")).to_have_count(0)
    page.reload()
    expect(page.locator(".msg-assistant .answer").last).to_contain_text("6710 亿参数")
    expect(page.locator(".msg-assistant details.reasoning")).to_have_count(0)


def test_the_hit_testing_page_marks_the_chunk_found_inside_its_context(page, user, kb, tmp_path):
    ingest_texts(kb, tmp_path, {"badges.txt": BADGES})
    log_in(page, user)
    page.goto(f"/kb/{kb.slug}/hit-testing/?q=floor+31+badge+colour&top_k=1")
    chosen, context = page.locator("li.hit .hit-chosen"), page.locator("li.hit .hit-context").first
    expect(chosen).to_contain_text("floor 31")
    expect(page.locator("li.hit .hit-widened")).to_be_visible()
    page.locator("li.hit .hit-more summary").click()
    expect(chosen).to_be_visible()
    assert chosen.evaluate("e => getComputedStyle(e).color") != context.evaluate(
        "e => getComputedStyle(e).color"
    )
    page.screenshot(path=str(ARTIFACTS / "hit-testing-widened.png"), full_page=True)
