"""The fine-tuning data set: answers made through the real engine against the test upstream, exported
by `manage.py export_dataset` and the feedback admin's action, each line the messages the model was
sent (as the upstream received them) and its answer with its reasoning; filtered; personal data
replaced; refused to those who may not export; audited."""

import asyncio
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import Event
from chat import answering, datasets, personal_data
from chat.models import Conversation, Message
from knowledge.models import KnowledgeBase
from policy.models import WordList
from tests.conftest import QUESTION, ask, ingest_texts, person, signed_in
from tests.policy_lists import word_list

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]
FEEDBACK = reverse("admin:chat_feedback_changelist")
REASONING = "用户问参数量。Passage [1] says 671B."
CONTENT = "DeepSeek-V3 有 6710 亿参数 [1]。"


def export(tmp_path: Path, *options: str) -> tuple[list[dict], str]:
    """The data set's lines and the command's report."""
    out = tmp_path / "out.jsonl"
    report = _Captured()
    call_command("export_dataset", str(out), *options, stderr=report)
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()], report.text


class _Captured:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def answered(user: User, kb: KnowledgeBase, question: str = QUESTION, **conversation) -> Message:
    """The answer saved for `question`, asked in a new conversation on `kb`."""
    asked = Conversation.objects.create(user=user, **conversation)
    asked.knowledge_bases.set([kb])
    ask(user, kb, question, conversation=asked)
    return asked.messages.filter(role=Message.Role.ASSISTANT).get()


@pytest.fixture
def scripted(llm):
    llm.script(reasoning=REASONING, content=CONTENT)
    return llm


def test_it_exports_what_the_model_was_sent_and_its_answer_with_reasoning(
    user, kb, guide, scripted, tmp_path
):
    answered(user, kb)
    [line], report = export(tmp_path)
    assert line["messages"][:-1] == scripted.requests[-1]["messages"]
    assert line["messages"][0]["role"] == "system" and "[passage begin]" in line["messages"][1]["content"]
    assert line["messages"][-1] == {"role": "assistant", "content": CONTENT, "reasoning_content": REASONING}
    assert report == "Answers written: 1.\n"


def test_it_exports_a_distills_user_turn_as_sent(settings, user, kb, guide, scripted, tmp_path):
    settings.LLM_SYSTEM_MESSAGES = False
    answered(user, kb)
    [line], _report = export(tmp_path)
    assert line["messages"][:-1] == scripted.requests[-1]["messages"]
    assert [m["role"] for m in line["messages"]] == ["user", "assistant"]


def test_a_follow_up_carries_the_history_it_was_sent(user, kb, guide, scripted, tmp_path):
    first = answered(user, kb)
    ask(user, kb, "它的上下文有多长？", conversation=first.conversation)
    lines, _report = export(tmp_path)
    follow_up = lines[1]["messages"]
    assert follow_up[:-1] == scripted.requests[-1]["messages"]
    turns = [m for m in follow_up[:-1] if m["role"] != "system"]
    assert [m["content"] for m in turns] == [QUESTION, CONTENT, "它的上下文有多长？"]


def test_an_answer_without_reasoning_has_no_reasoning_content(user, kb, guide, scripted, tmp_path):
    scripted.script(style="plain", content="671B [1].")
    answered(user, kb)
    [line], _report = export(tmp_path)
    assert line["messages"][-1] == {"role": "assistant", "content": "671B [1]."}


def test_it_writes_utf8_chinese_as_is_and_to_standard_output(user, kb, guide, scripted, capsys):
    answered(user, kb)
    call_command("export_dataset", "-")
    written = capsys.readouterr().out
    assert CONTENT in written and written.count("\n") == 1


def test_it_filters_by_knowledge_base_date_rating_and_model(
    settings, two_models, user, kb, guide, other_kb, sales, tmp_path
):
    other_kb.when_nothing_found = KnowledgeBase.WhenNothingFound.GENERAL  # answered from general knowledge
    other_kb.save()
    ours = answered(user, kb)
    general = answered(person("sam", sales), other_kb, "What is a price list?", model="DeepSeek-V3")
    assert general.grounding == Message.Grounding.GENERAL
    Message.objects.filter(id=general.id).update(created_at=timezone.now() - timedelta(days=10))
    Message.objects.filter(id=ours.id).update(rating=Message.Rating.UP)

    def contents(*options: str) -> list[str]:
        return [line["messages"][-1]["content"] for line in export(tmp_path, *options)[0]]

    assert len(contents()) == 2  # general knowledge too: its instructions say so
    assert contents("--kb", "sales-prices") == [general.content]
    assert len(contents("--kb", "sales-prices", "--kb", "guide")) == 2
    assert contents("--since", (timezone.localdate() - timedelta(days=1)).isoformat()) == [ours.content]
    assert contents("--since", (timezone.now() - timedelta(days=11)).isoformat()) == [
        ours.content,
        general.content,
    ]
    assert contents("--rating", "up") == [ours.content]
    assert contents("--model", "deepseek-chat") == contents("--model", "DeepSeek-V3") == [general.content]
    assert contents("--model", "DeepSeek-R1") == [ours.content]


def test_answers_not_written_by_a_model_or_not_kept_are_not_exported(
    settings, user, kb, guide, llm, tmp_path
):
    llm.script(status=400)
    failed = answered(user, kb)
    llm.script(content="First version [1].")
    regenerated = answered(user, kb)
    question = regenerated.reply_to

    async def regenerate() -> None:
        async for _event in answering.answer_question(
            user=user, conversation=question.conversation, question=question.content, reanswer=question
        ):
            pass

    llm.script(content="Second version [1].")
    asyncio.run(regenerate())
    settings.LLM_BASE_URL = ""  # retrieval-only from here
    answered(user, kb)
    lines, report = export(tmp_path)
    assert [line["messages"][-1]["content"] for line in lines] == ["Second version [1]."]
    assert failed.status == Message.Status.FAILED
    assert report == "Answers written: 1. Skipped: 1 not shown, 1 not complete, 1 no model answer.\n"


def test_an_answer_the_content_policy_withdrew_is_not_exported(user, kb, guide, llm, tmp_path):
    word_list("禁止", WordList.Action.BLOCK, "违禁品")
    llm.script(reasoning="资料里有违禁品。", content="答案是违禁品。")
    withdrawn = answered(user, kb)
    assert (withdrawn.status, withdrawn.prompt) == (Message.Status.COMPLETE, [])
    assert export(tmp_path) == ([], "Answers written: 0. Skipped: 1 no model answer.\n")


def test_the_prompt_is_kept_with_the_answer_and_not_for_retrieval_only(settings, user, kb, guide, scripted):
    assert answered(user, kb).prompt == scripted.requests[-1]["messages"]
    settings.LLM_BASE_URL = ""
    assert answered(user, kb).prompt == []


@pytest.fixture
def personal(settings, user, kb, tmp_path, scripted):
    """Alice's data in her question, the history, a passage and the answer, in English and Chinese."""
    settings.DATASET_PII_NAMES = ["张伟"]
    user.first_name, user.last_name, user.email = "Alice", "Wang", "alice@corp.example"
    user.save()
    folder = tmp_path / "docs"
    folder.mkdir()
    ingest_texts(
        kb, folder, {"contacts.txt": "年假申请联系人：张伟，电话010-12345678，邮箱zhangwei@corp.example。"}
    )
    scripted.script(
        reasoning="Alice问年假，张伟负责。", content="请联系张伟（010-12345678）[1]，Alice Wang。"
    )
    first = answered(user, kb, "我是Alice Wang，手机13812345678，年假申请联系人是谁？")
    scripted.script(reasoning="alice again", content="Write to zhangwei@corp.example [1].")
    ask(
        user,
        kb,
        "My e-mail is alice@corp.example, call +86 138 0013 8000. 年假申请联系人的邮箱？",
        first.conversation,
    )
    names = ["Alice", "alice", "Wang", "张伟"]
    return [
        *names,
        "alice@corp.example",
        "zhangwei@corp.example",
        "13812345678",
        "010-12345678",
        "+86 138 0013 8000",
    ]


def test_personal_data_is_replaced_in_question_history_passages_and_answer(personal, tmp_path):
    lines, _report = export(tmp_path)
    assert "年假申请联系人：" in json.dumps(lines[0], ensure_ascii=False)  # the passage was sent
    for line in lines:
        text = json.dumps(line, ensure_ascii=False)
        assert [found for found in personal if found in text] == []
    follow_up = json.dumps(lines[1], ensure_ascii=False)
    for placeholder in (
        "我是[name]，手机[phone]",
        "联系人：[name]，电话[phone]，邮箱[email]。",
        "My e-mail is [email]",
    ):
        assert placeholder in follow_up
    assert lines[1]["messages"][-1]["reasoning_content"] == "[name] again"


def test_personal_data_is_kept_when_asked(personal, tmp_path):
    lines, _report = export(tmp_path, "--keep-personal-data")
    text = json.dumps(lines, ensure_ascii=False)
    assert all(found in text for found in personal)


def test_the_patterns_are_configurable(settings):
    settings.DATASET_PII_PATTERNS = {"employee_id": r"EMP-\d{5}", "phone": None}
    assert (
        personal_data.without_personal_data("工号EMP-12345，电话13812345678", names=None)
        == "工号[employee_id]，电话13812345678"
    )


@pytest.mark.parametrize(
    ("patterns", "named"),
    [
        ({"id_card": "(\\d{17}"}, "'id_card' is not a valid regular expression"),
        (["email"], "must be a JSON object"),
        ({"Bad Name": "x"}, "'Bad Name' is not a placeholder name"),
        ({"anything": ".*"}, "'anything' matches empty text"),
        ({"number": 5}, "'number' must be a regular expression"),
    ],
)
def test_an_invalid_pattern_stops_the_app_naming_it(settings, patterns, named):
    settings.DATASET_PII_PATTERNS = patterns
    with pytest.raises(ImproperlyConfigured, match="DATASET_PII_PATTERNS") as refused:
        personal_data.patterns()
    assert named in str(refused.value)


def test_an_invalid_pattern_stops_the_app_at_start(tmp_path):
    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "DATASET_PII_PATTERNS": '{"id_card": "("}'}
    check = [sys.executable, "manage.py", "check"]
    result = subprocess.run(check, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert (
        "DATASET_PII_PATTERNS: 'id_card' is not a valid regular expression" in result.stderr.splitlines()[-1]
    )


def test_bad_input_is_a_clear_error(db, tmp_path):
    out = str(tmp_path / "out" / "out.jsonl")
    (tmp_path / "out").mkdir()
    with pytest.raises(CommandError, match="--since 'last week' is not an ISO date"):
        call_command("export_dataset", out, "--since", "last week")
    with pytest.raises(CommandError, match="No knowledge base with slug 'nope'"):
        call_command("export_dataset", out, "--kb", "nope")
    with pytest.raises(CommandError, match="No folder"):
        call_command("export_dataset", str(tmp_path / "missing" / "out.jsonl"))
    with pytest.raises(CommandError, match="invalid choice: 'down'"):
        call_command("export_dataset", out, "--rating", "down")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_failure_leaves_no_file(user, kb, guide, scripted, tmp_path, monkeypatch):
    answered(user, kb)
    answered(user, kb)
    real_line = datasets.line
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk gone")
        return real_line(*args, **kwargs)

    monkeypatch.setattr(datasets, "line", failing)
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(RuntimeError):
        call_command("export_dataset", str(folder / "out.jsonl"))
    assert list(folder.iterdir()) == []
    assert not Event.objects.filter(kind=Event.Kind.EXPORT).exists()


def test_each_export_is_audited_with_its_filters_and_counts(user, kb, guide, scripted, tmp_path):
    answered(user, kb)
    export(tmp_path, "--kb", "guide", "--since", "2026-01-01", "--rating", "up", "--model", "Fake R1")
    export(tmp_path, "--keep-personal-data")
    replaced, kept = Event.objects.filter(kind=Event.Kind.EXPORT).order_by("id")
    assert replaced.detail["filters"] == {
        "knowledge_bases": ["guide"],
        "since": timezone.make_aware(timezone.datetime(2026, 1, 1)).isoformat(),
        "rating_up": True,
        "model": "Fake R1",
    }
    assert (replaced.detail["exported"], replaced.detail["personal_data"], replaced.detail["via"]) == (
        0,
        "replaced",
        "manage.py",
    )
    assert (kept.detail["exported"], kept.detail["skipped"], kept.detail["personal_data"]) == (1, {}, "kept")


# The admin's action, on the feedback list: rated answers of the knowledge bases one manages.


def may_export(staff: User) -> Client:
    codenames = ["view_feedback", "export_dataset"]
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="chat", codename__in=codenames)
    )
    return signed_in(staff)


def downloaded(client: Client, answers: list[Message]) -> list[dict]:
    response = client.post(
        FEEDBACK, {"action": "export_dataset", helpers.ACTION_CHECKBOX_NAME: [a.id for a in answers]}
    )
    assert response.status_code == 200, response.status_code
    assert response["Content-Disposition"].startswith('attachment; filename="dataset-')

    async def read() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return [json.loads(line) for line in asyncio.run(read()).decode().splitlines()]


@pytest.fixture
def rated(user, kb, guide, other_kb, sales, scripted) -> list[Message]:
    """A rated answer on `kb` (Alice's) and one on `other_kb` (Sam's, from general knowledge)."""
    other_kb.when_nothing_found = KnowledgeBase.WhenNothingFound.GENERAL
    other_kb.save()
    answers = [
        answered(user, kb, "我是alice，DeepSeek-V3 有多少参数？"),
        answered(person("sam", sales), other_kb, "Prices?"),
    ]
    Message.objects.filter(id__in=[a.id for a in answers]).update(rating=Message.Rating.UP)
    return answers


def test_a_superuser_downloads_the_selected_answers_without_personal_data(admin_client, rated):
    lines = downloaded(admin_client, rated)
    assert [line["messages"][-1]["content"] for line in lines] == [answer.content for answer in rated]
    assert lines[0]["messages"][-2]["content"] == "我是[name]，DeepSeek-V3 有多少参数？"
    event = Event.objects.get(kind=Event.Kind.EXPORT)
    assert (event.username, event.detail["via"], event.detail["exported"], event.detail["selected"]) == (
        "admin",
        "admin",
        2,
        2,
    )


def test_a_manager_downloads_only_answers_of_knowledge_bases_they_manage(manager, rated):
    lines = downloaded(may_export(manager), rated)
    assert len(lines) == 1 and "我是[name]" in lines[0]["messages"][-2]["content"]


def test_a_manager_gets_no_answer_that_searched_a_knowledge_base_they_do_not_manage(
    admin_client, manager, user, kb, guide, other_kb, sales, scripted
):
    """The conversation now searches `kb` alone (the feedback list shows it to kb's manager), but its
    answer was written from `other_kb`'s passages, which the manager may not read."""
    user.groups.add(sales)
    other_kb.when_nothing_found = KnowledgeBase.WhenNothingFound.GENERAL
    other_kb.save()
    earlier = answered(user, other_kb, "Prices?")
    Message.objects.filter(id=earlier.id).update(rating=Message.Rating.UP)
    earlier.conversation.knowledge_bases.set([kb])
    assert downloaded(may_export(manager), [earlier]) == []
    assert len(downloaded(admin_client, [earlier])) == 1


def test_the_knowledge_base_filter_is_the_one_searched_for_the_answer(
    user, kb, guide, other_kb, scripted, tmp_path
):
    answer = answered(user, kb)
    answer.conversation.knowledge_bases.set([other_kb])
    assert len(export(tmp_path, "--kb", "guide")[0]) == 1
    assert export(tmp_path, "--kb", "sales-prices")[0] == []


def test_the_download_is_refused_without_the_permission_or_staff(manager, user, rated):
    manager.user_permissions.add(Permission.objects.get(codename="view_feedback"))
    may_view = signed_in(manager)
    data = {"action": "export_dataset", helpers.ACTION_CHECKBOX_NAME: [rated[0].id]}
    assert "Content-Disposition" not in may_view.post(FEEDBACK, data)
    assert "export_dataset" not in may_view.get(FEEDBACK).content.decode()
    assert signed_in(user).post(FEEDBACK, data).status_code == 302  # to the admin's sign-in
    assert Client().post(FEEDBACK, data).status_code == 302
    assert not Event.objects.filter(kind=Event.Kind.EXPORT).exists()


def test_a_download_is_bounded(settings, admin_client, rated):
    settings.DATASET_ADMIN_MAX_ROWS = 1
    data = {"action": "export_dataset", helpers.ACTION_CHECKBOX_NAME: [a.id for a in rated]}
    response = admin_client.post(FEEDBACK, data, follow=True)
    assert "Select at most 1 answers to download at once (you selected 2)" in response.content.decode()
    assert not Event.objects.filter(kind=Event.Kind.EXPORT).exists()


def test_the_action_and_its_bound_speak_chinese(settings, admin_client, rated):
    assert "下载为微调数据集" in admin_client.get(FEEDBACK, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    settings.DATASET_ADMIN_MAX_ROWS = 1
    data = {"action": "export_dataset", helpers.ACTION_CHECKBOX_NAME: [a.id for a in rated]}
    response = admin_client.post(FEEDBACK, data, follow=True, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "一次最多下载 1 条回答（您选择了 2 条）" in response.content.decode()
