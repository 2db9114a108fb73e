"""The interface in Simplified Chinese: chosen from the browser's language, complete, admin included."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

CATALOG = Path(__file__).resolve().parents[1] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"

pytestmark = pytest.mark.django_db


def test_it_speaks_the_browsers_language(client, user, kb):
    client.force_login(user)
    page = client.get(reverse("chat:home"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in page and "新对话" in page and "已深度思考（用时 {n} 秒）" in page
    assert "New chat" in client.get(reverse("chat:home"), HTTP_ACCEPT_LANGUAGE="en-US").content.decode()


def test_the_switch_remembers_the_language_chosen(client, user, kb):
    client.force_login(user)
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert response["Location"] == "/"
    assert "新对话" in client.get("/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()


def test_the_admin_names_its_models_in_chinese(client):
    admin = User.objects.create_superuser("root", password="root-password-1")
    client.force_login(admin)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "知识库问答管理后台" in page and ">知识库<" in page and ">文档<" in page
    assert ">API 密钥<" in page
    # A model without a plural name gets an "s" added to its translated name ("知识库s").
    assert not re.search(r"[\u4e00-\u9fff]s\b", page)


def test_the_admins_two_list_picker_speaks_chinese(client):
    # Django 5's wording of SelectFilter2.js, which its own zh_Hans catalog lacks (locale/.../djangojs.po).
    client.force_login(User.objects.create_superuser("root", password="root-password-1"))
    script = client.get("/admin/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode("unicode_escape")
    assert '"Choose all %s": "全选%s"' in script and "再点击“选择”箭头按钮" in script


def test_every_message_has_a_translation():
    catalog = CATALOG.read_text(encoding="utf-8")
    assert "#, fuzzy" not in catalog
    entries = re.findall(
        r'\nmsgid ((?:".*"\n)+)(?:msgid_plural (?:".*"\n)+)?msgstr(?:\[0\])? ((?:".*"\n)+)', catalog
    )
    untranslated = [msgid for msgid, msgstr in entries[1:] if msgstr.strip() == '""']
    assert len(entries) > 150 and untranslated == []
