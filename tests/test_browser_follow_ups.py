"""Follow-up questions on the chat page in headless Chromium: they appear under the answer, a click
asks one in the same conversation, and a reload shows the last answer's only."""

import pytest
from playwright.sync_api import Page, expect

from chat.models import Conversation, Message
from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest
from tests.fake_llm import _shared_fake_llm
from tests.processes import asgi_server

pytestmark = pytest.mark.django_db(transaction=True)

MARKER = "You suggest follow-up questions"
FIRST = [
    "DeepSeek-V3 每个词元激活多少参数？",
    "DeepSeek-R1 是如何训练出推理能力的？",
    "DeepSeek-R1 的上下文长度是多少？",
]


@pytest.fixture(scope="module")
def live_app(django_db_setup, tmp_path_factory):
    """The app with follow-up suggestions on (the tests' settings turn them off)."""
    data_dir = tmp_path_factory.mktemp("follow-ups-app")
    env = {
        "LLM_BASE_URL": _shared_fake_llm().base_url,
        "LLM_API_KEY": "sk-test",
        "FOLLOW_UP_SUGGESTIONS": "true",
    }
    with asgi_server(data_dir, log=data_dir / "server.log", **env) as url:
        yield url, data_dir


def test_follow_ups_appear_under_the_answer_and_a_click_asks_one(page: Page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(reasoning="资料 [1] 说 671B。", content="DeepSeek-V3 共有 **6710 亿（671B）** 参数 [1]。")
    numbered = "\n".join(f"{n}. {question}" for n, question in enumerate(FIRST, start=1))
    fake_llm.when(asks=MARKER, style="plain", content="以下是一些后续问题：\n" + numbered)
    log_in(page, user)
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")

    buttons = page.locator(".msg-assistant .follow-up")
    expect(buttons).to_have_count(3, timeout=30_000)
    expect(buttons).to_have_text(FIRST)
    expect(page.locator(".follow-ups-title")).to_have_text("Follow-up questions")
    expect(page.locator(".send-button")).to_have_attribute("aria-label", "Send")  # the composer is free
    page.screenshot(path=str(ARTIFACTS / "chat-follow-ups.png"))

    buttons.first.click()
    expect(page.locator(".msg-user .bubble").last).to_have_text(FIRST[0])
    expect(page.locator(".msg-assistant")).to_have_count(2)
    # The clicked question's answer offers its own: the question itself is not offered again.
    expect(page.locator(".msg-assistant").last.locator(".follow-up")).to_have_text(FIRST[1:], timeout=30_000)
    expect(page.locator(".follow-up")).to_have_count(2)  # the first answer's are gone

    conversation = Conversation.objects.get(user=user)
    asked = conversation.messages.filter(role=Message.Role.USER).values_list("content", flat=True)
    assert list(asked) == ["DeepSeek-V3 有多少参数？", FIRST[0]]
    answers = [r for r in fake_llm.requests if MARKER not in str(r["messages"])]
    assert FIRST[0] in answers[-1]["messages"][-1]["content"]  # asked of the model in the conversation
    assert "DeepSeek-V3 有多少参数？" in str(answers[-1]["messages"])  # with the earlier turn

    page.reload()
    expect(page.locator(".follow-up")).to_have_text(FIRST[1:])
    expect(page.locator(".msg-assistant").first.locator(".follow-up")).to_have_count(0)

    page.context.set_extra_http_headers({"Accept-Language": "zh-CN,zh;q=0.9"})
    page.reload()
    expect(page.locator(".follow-ups-title")).to_have_text("你可能还想问")
    page.screenshot(path=str(ARTIFACTS / "chat-follow-ups-zh.png"))
