"""Importing FAQ pairs from real CSV and Excel files, in the admin and as a service."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import Event
from faq import importing, matching, services
from faq.models import FaqPair
from tests.conftest import signed_in

DATA = Path(__file__).resolve().parent / "data"
IMPORT_URL = reverse("admin:faq_faqpair_import")


def imported(kb, name: str, user=None) -> services.ImportReport:
    with (DATA / name).open("rb") as file:
        return services.pairs_import(knowledge_base=kb, name=name, file=file, user=user)


@pytest.mark.parametrize("name", ["faq-zh.csv", "faq-zh-gbk.csv"])
def test_it_imports_chinese_csv_with_or_without_bom_and_gbk(kb, name):
    report = imported(kb, name)
    assert (report.created, report.updated) == (3, 0)
    assert report.skipped == [(4, "The question is empty."), (5, "The answer is empty.")]
    pair = FaqPair.objects.get(question="怎么重置 VPN 密码？")
    assert pair.alternatives == ["VPN 密码忘了", "VPN 登不上"]
    assert FaqPair.objects.get(question="年假有几天？").alternatives == ["一年有多少天年假", "年假天数"]


def test_it_imports_excel_and_reports_duplicate_rows(kb):
    report = imported(kb, "faq-en.xlsx")
    assert report.created == 3 and report.skipped == [(4, "The same question as row 3.")]
    pair = FaqPair.objects.get(question="How many vacation days do I get?")
    assert pair.alternatives == ["How much annual leave do we have?", "How many days off?"]
    assert matching.match(question="how many days off", knowledge_bases=[kb])[0].pair_id == pair.id


def test_importing_again_updates_the_same_questions(kb):
    imported(kb, "faq-zh.csv")
    report = imported(kb, "faq-zh-gbk.csv")
    assert (report.created, report.updated) == (0, 3) and FaqPair.objects.count() == 3


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty"),
        (b"title,text\nA,B\n", "must name the columns"),
        (b"PK\x03\x04not really a workbook", "could not be read"),
        (b"\x00\x01\x02binary", "not a CSV"),
    ],
)
def test_a_file_that_cannot_be_read_imports_nothing(kb, content, problem):
    with pytest.raises(importing.ImportFileError, match=problem):
        services.pairs_import(knowledge_base=kb, name="faq.csv", file=io.BytesIO(content), user=None)
    assert not FaqPair.objects.exists()


def test_a_file_over_the_limits_imports_nothing(kb, settings):
    settings.FAQ_MAX_PAIRS = 2
    with pytest.raises(importing.ImportFileError, match="more than 2 rows"):
        imported(kb, "faq-zh.csv")
    settings.FAQ_MAX_PAIRS, settings.FAQ_IMPORT_MAX_KB = 100, 1
    big = b"question,answer\n" + b"q,a\n" * 400
    with pytest.raises(importing.ImportFileError, match="larger than 1 KB"):
        services.pairs_import(knowledge_base=kb, name="big.csv", file=io.BytesIO(big), user=None)
    assert not FaqPair.objects.exists()


def test_a_row_with_a_too_long_answer_is_skipped(kb):
    content = f"question,answer\nok?,fine\nlong?,{'x' * 10_001}\n".encode()
    report = services.pairs_import(knowledge_base=kb, name="f.csv", file=io.BytesIO(content), user=None)
    assert report.created == 1 and report.skipped == [(3, "The answer is longer than 10000 characters.")]


def test_the_admin_imports_and_names_the_skipped_rows(kb, manager):
    client = signed_in(manager)
    upload = SimpleUploadedFile("faq-zh.csv", (DATA / "faq-zh.csv").read_bytes())
    response = client.post(IMPORT_URL, {"knowledge_base": kb.id, "file": upload}, follow=True)
    page = response.content.decode()
    assert "Imported: 3 new pairs, 0 updated." in page
    assert "2 rows skipped: row 4: The question is empty.; row 5: The answer is empty." in page
    event = Event.objects.get(kind="faq")
    assert (event.user, event.detail["action"], event.detail["created"]) == (manager, "imported", 3)


def test_the_admin_refuses_a_bad_file_with_a_400(kb, manager):
    upload = SimpleUploadedFile("faq.xlsx", b"PK\x03\x04broken")
    response = signed_in(manager).post(IMPORT_URL, {"knowledge_base": kb.id, "file": upload})
    assert response.status_code == 400 and "could not be read" in response.content.decode()


def test_another_manager_cannot_import_into_a_knowledge_base_they_do_not_manage(kb, other_manager):
    upload = SimpleUploadedFile("faq-zh.csv", (DATA / "faq-zh.csv").read_bytes())
    response = signed_in(other_manager).post(IMPORT_URL, {"knowledge_base": kb.id, "file": upload})
    assert response.status_code == 400 and not FaqPair.objects.exists()


def test_a_reader_without_the_permission_cannot_open_the_import(kb, user):
    user.is_staff = True
    user.save()
    assert signed_in(user).get(IMPORT_URL).status_code == 403
