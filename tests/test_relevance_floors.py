"""Relevance floors: automatic per script of the question by default, or fixed per knowledge base."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from chatsite.env import env_optional_fraction
from knowledge import floors
from knowledge.models import KnowledgeBase
from knowledge.retrieval import search
from tests.conftest import PRODUCTS, ingest_texts

ENGLISH = "How much memory does the Atlas server need?"
CHINESE = "员工食堂几点开门？"
TEXTS = {**PRODUCTS, "shitang.txt": "员工食堂早上七点开门，提供早餐和午餐。"}
HIT_TESTING = reverse("knowledge:hit_testing", args=["guide"])


@pytest.fixture
def automatic(settings) -> None:
    """The floors this server calibrated, as in production (the suite turns them off)."""
    settings.RELEVANCE_FLOOR_LATIN = settings.RELEVANCE_FLOOR_HAN = None


@pytest.fixture
def corpus(kb, tmp_path) -> KnowledgeBase:
    ingest_texts(kb, tmp_path, TEXTS)
    return kb


@pytest.mark.parametrize(
    ("question", "script"),
    [
        (ENGLISH, "latin"),
        (CHINESE, "han"),
        ("DeepSeek-V3 的上下文长度是多少？", "han"),  # a Chinese question naming a product
        ("Is 年假 counted in working days or in calendar days of the year?", "latin"),
        ("Сколько дней отпуска?", "latin"),  # no floor of its own
        ("", "latin"),
    ],
)
def test_it_meets_the_floor_of_the_question_script(question, script):
    assert floors.floor_script(question) == script


def test_it_uses_the_calibrated_floors_unless_a_setting_overrides_one(settings, automatic):
    assert floors.automatic_floors() == floors.CALIBRATED
    settings.RELEVANCE_FLOOR_LATIN = 0.4
    assert floors.automatic_floors() == {"latin": 0.4, "han": floors.CALIBRATED["han"]}


@pytest.mark.parametrize("value", ["1.5", "-0.1", "high"])
def test_a_floor_setting_must_be_between_0_and_1(monkeypatch, value):
    monkeypatch.setenv("RELEVANCE_FLOOR_HAN", value)
    with pytest.raises(ImproperlyConfigured, match="RELEVANCE_FLOOR_HAN"):
        env_optional_fraction("RELEVANCE_FLOOR_HAN")


def test_it_calibrated_a_floor_for_each_script():
    assert all(0 < floor < 1 for floor in floors.CALIBRATED.values())


def test_a_new_knowledge_base_is_automatic(db, automatic):
    kb = KnowledgeBase.objects.create(name="New", slug="new")
    assert kb.relevance_floor is None
    assert floors.relevance_floor(kb, ENGLISH) == floors.CALIBRATED["latin"]
    assert floors.relevance_floor(kb, CHINESE) == floors.CALIBRATED["han"]


def test_an_automatic_floor_follows_the_script_of_each_question(corpus, settings):
    settings.RELEVANCE_FLOOR_LATIN, settings.RELEVANCE_FLOOR_HAN = 0.99, 0.0
    english, chinese = (search(query=q, knowledge_bases=[corpus]) for q in (ENGLISH, CHINESE))
    assert english.passages == [] and english.below_floor > 0
    assert chinese.passages[0].document_title == "shitang.txt"
    settings.RELEVANCE_FLOOR_LATIN, settings.RELEVANCE_FLOOR_HAN = 0.0, 0.99
    english, chinese = (search(query=q, knowledge_bases=[corpus]) for q in (ENGLISH, CHINESE))
    assert english.passages[0].document_title == "atlas.txt"
    assert chinese.passages == [] and chinese.below_floor > 0


def test_a_fixed_floor_applies_to_every_question(corpus, settings):
    settings.RELEVANCE_FLOOR_LATIN = settings.RELEVANCE_FLOOR_HAN = 0.99
    corpus.relevance_floor = 0.0  # chosen on purpose: every passage found
    corpus.save()
    assert all(search(query=q, knowledge_bases=[corpus]).passages for q in (ENGLISH, CHINESE))
    corpus.relevance_floor = 0.99
    settings.RELEVANCE_FLOOR_LATIN = settings.RELEVANCE_FLOOR_HAN = 0.0
    corpus.save()
    assert not any(search(query=q, knowledge_bases=[corpus]).passages for q in (ENGLISH, CHINESE))


def test_the_hit_testing_page_says_which_floor_applies(client, user, outsider, corpus, settings):
    settings.RELEVANCE_FLOOR_LATIN, settings.RELEVANCE_FLOOR_HAN = 0.2, 0.35
    client.force_login(user)
    page = client.get(HIT_TESTING).content.decode()
    assert "Relevance floor: automatic, 0.20 for questions in English (Latin script) and 0.35 for" in page
    page = client.get(HIT_TESTING, {"q": CHINESE}).content.decode()
    assert "Relevance floor: 0.35, automatic for questions in Chinese." in page
    page = client.get(HIT_TESTING, {"q": ENGLISH}).content.decode()
    assert "Relevance floor: 0.20, automatic for questions in English (Latin script)." in page
    assert "below the relevance floor (0.20)" in page  # boreal.txt matches only "memory"
    corpus.relevance_floor = 0.5
    corpus.save()
    page = client.get(HIT_TESTING, {"q": CHINESE}).content.decode()
    assert "Relevance floor: 0.50, set for this knowledge base." in page
    client.force_login(outsider)
    assert client.get(HIT_TESTING, {"q": CHINESE}).status_code == 404


def test_the_hit_testing_page_says_it_in_chinese(client, user, corpus, settings):
    settings.RELEVANCE_FLOOR_LATIN, settings.RELEVANCE_FLOOR_HAN = 0.2, 0.35
    client.force_login(user)
    page = client.get(HIT_TESTING, {"q": CHINESE}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "相关度下限：0.35，按中文问题自动设定。" in page


def test_the_admin_says_what_automatic_means_and_saves_either_kind(admin_client, kb, settings):
    settings.RELEVANCE_FLOOR_LATIN, settings.RELEVANCE_FLOOR_HAN = 0.2, 0.35
    change = reverse("admin:knowledge_knowledgebase_change", args=[kb.id])
    page = admin_client.get(change).content.decode()
    assert "Now: automatic, 0.20 for questions in English (Latin script) and 0.35 for Chinese ones." in page
    form = {
        "name": kb.name,
        "slug": kb.slug,
        "retrieval_mode": "hybrid",
        "top_k": 5,
        "faq_threshold": 0.9,
        "when_nothing_found": "reply",
        "chunk_overlap": 32,
        "ocr": "on",
    }
    for value, stored in (("0.3", 0.3), ("", None), ("0", 0.0)):
        assert admin_client.post(change, {**form, "relevance_floor": value}).status_code == 302
        kb.refresh_from_db()
        assert kb.relevance_floor == stored


def test_a_manager_of_another_group_cannot_open_the_settings(client, other_manager, kb):
    client.force_login(other_manager)
    change = reverse("admin:knowledge_knowledgebase_change", args=[kb.id])
    assert client.get(change).status_code in (302, 404)
