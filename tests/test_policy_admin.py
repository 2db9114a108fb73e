"""The word list admin: lists kept by administrators, imported from and exported to .txt files."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from policy.matching import current_matcher
from policy.models import WordList
from tests.conftest import signed_in
from tests.policy_lists import word_list

pytestmark = pytest.mark.django_db
ADD = reverse("admin:policy_wordlist_add")


def import_url(listed: WordList) -> str:
    return reverse("admin:policy_wordlist_import", args=[listed.id])


def export_url(listed: WordList) -> str:
    return reverse("admin:policy_wordlist_export", args=[listed.id])


def txt(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("terms.txt", data, content_type="text/plain")


def test_it_saves_a_list_without_blank_lines_or_duplicates(admin_client):
    form = {
        "name": "敏感词",
        "action": "mask",
        "terms": "违禁品\n\n  Falcon \nfalcon\nＦＡＬＣＯＮ\n违禁品\n",
    }
    assert admin_client.post(ADD, form).status_code == 302
    assert WordList.objects.get().terms == "违禁品\nFalcon"


def test_a_list_changed_in_the_admin_is_matched_at_once(admin_client):
    listed = word_list("watch", "log", "旧词")
    form = {"name": "watch", "action": "log", "terms": "新词"}
    admin_client.post(reverse("admin:policy_wordlist_change", args=[listed.id]), form)
    assert [hit.term for hit in current_matcher().find("旧词和新词")] == ["新词"]


def test_it_refuses_a_list_longer_than_the_limit(admin_client, settings):
    settings.POLICY_MAX_TERMS = 2
    response = admin_client.post(ADD, {"name": "big", "action": "log", "terms": "a\nb\nc"})
    assert "at most 2 terms" in response.content.decode() and not WordList.objects.exists()


def test_it_imports_utf8_terms_added_to_the_list(admin_client):
    listed = word_list("watch", "log", "旧词")
    data = "\ufeff新词\r\nSecret Project\n\n旧词\n新词\n".encode()
    response = admin_client.post(import_url(listed), {"file": txt(data)}, follow=True)
    listed.refresh_from_db()
    assert listed.term_list == ["旧词", "新词", "Secret Project"]
    assert "2 terms imported" in response.content.decode()


def test_an_import_may_replace_the_terms(admin_client):
    listed = word_list("watch", "log", "旧词")
    admin_client.post(import_url(listed), {"file": txt("新词\n".encode()), "replace": "on"})
    listed.refresh_from_db()
    assert listed.term_list == ["新词"]


def test_an_import_that_is_not_utf8_is_refused_with_a_clear_error(admin_client):
    listed = word_list("watch", "log", "旧词")
    response = admin_client.post(import_url(listed), {"file": txt("第一行\n敏感词\n".encode("gbk"))})
    assert response.status_code == 200
    assert "The file is not UTF-8 text (line 1)" in response.content.decode()
    listed.refresh_from_db()
    assert listed.term_list == ["旧词"]


def test_an_import_larger_than_the_limit_is_refused(admin_client, settings):
    settings.POLICY_IMPORT_MAX_KB = 1
    listed = word_list("watch", "log", "旧词")
    response = admin_client.post(import_url(listed), {"file": txt(b"term\n" * 300)})
    assert "larger than 1 KB" in response.content.decode()


def test_it_exports_the_terms_as_utf8_text(admin_client):
    listed = word_list("Watch list", "log", "违禁品", "Falcon")
    response = admin_client.get(export_url(listed))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert 'filename="watch-list.txt"' in response["Content-Disposition"]
    assert response.content.decode() == "违禁品\nFalcon\n"


def test_people_who_are_not_staff_are_sent_to_sign_in(user):
    listed = word_list("watch", "log", "旧词")
    client = signed_in(user)
    for url in (reverse("admin:policy_wordlist_changelist"), import_url(listed), export_url(listed)):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_staff_without_the_list_permissions_are_refused(manager):
    listed = word_list("watch", "log", "旧词")
    client = signed_in(manager)
    assert client.get(reverse("admin:policy_wordlist_changelist")).status_code == 403
    assert client.get(export_url(listed)).status_code == 403
    assert client.post(import_url(listed), {"file": txt("新词".encode())}).status_code == 403
    listed.refresh_from_db()
    assert listed.term_list == ["旧词"]


def test_a_missing_list_is_not_found(admin_client):
    assert admin_client.get(reverse("admin:policy_wordlist_export", args=[999])).status_code == 404


def test_the_import_page_is_translated(admin_client):
    listed = word_list("watch", "log", "旧词")
    page = admin_client.get(import_url(listed), headers={"accept-language": "zh-hans"}).content.decode()
    assert "导入" in page
