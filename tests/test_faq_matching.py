"""Matching questions against curated FAQ questions, in Chinese and English."""

import io

import pytest

from faq import matching, services
from tests.faq_fixtures import LEAVE_EN, LEAVE_ZH, VPN_EN


def best(kb, question: str) -> matching.FaqMatch:
    return matching.match(question=question, knowledge_bases=[kb])[0]


@pytest.mark.parametrize(
    "question, curated",
    [
        ("年假有几天?", LEAVE_ZH),  # another question mark
        ("年假有几天呢", LEAVE_ZH),
        ("how many vacation days do I get", LEAVE_EN),
        ("ＨＯＷ DO I RESET MY VPN PASSWORD", VPN_EN),  # full-width, upper case
    ],
)
def test_it_hits_the_same_question_asked_a_little_differently(kb, faq, question, curated):
    found = best(kb, question)
    assert found.question == curated and found.score >= kb.faq_threshold
    assert matching.hit([found], [kb]) == found


@pytest.mark.parametrize(
    "question, curated",
    [
        ("公司的年假是多少天？", LEAVE_ZH),
        ("我的年假一共几天", LEAVE_ZH),
        ("I forgot my VPN password", VPN_EN),
        ("What is my annual leave allowance?", LEAVE_EN),  # close to an alternative phrasing
    ],
)
def test_a_paraphrase_matches_below_the_threshold_and_is_suggested(kb, faq, question, curated, settings):
    found = best(kb, question)
    assert found.question == curated
    assert settings.FAQ_SUGGEST_FLOOR <= found.score < kb.faq_threshold
    assert matching.hit([found], [kb]) is None
    assert [p.faq_pair_id for p in matching.suggested_passages([found])] == [faq[curated].id]


@pytest.mark.parametrize(
    "question", ["食堂几点开门？", "When does the canteen open?", "DeepSeek-V3 有多少参数？"]
)
def test_an_unrelated_question_matches_nothing(kb, faq, question, settings):
    found = best(kb, question)
    assert found.score < settings.FAQ_SUGGEST_FLOOR
    assert matching.suggested_passages([found]) == []


def test_an_alternative_phrasing_is_matched_like_the_question(kb, faq):
    found = best(kb, "一年有多少天年假")
    assert (found.question, found.matched, found.score) == (LEAVE_ZH, "一年有多少天年假", 1.0)


def test_the_threshold_is_the_knowledge_base_s(kb, faq):
    found = best(kb, "I forgot my VPN password")
    kb.faq_threshold = found.score
    assert matching.hit([found], [kb]) == found


def test_pairs_of_other_knowledge_bases_are_not_matched(kb, other_kb, faq):
    assert matching.match(question=LEAVE_EN, knowledge_bases=[other_kb]) == []


def test_a_changed_pair_is_matched_by_its_new_text(kb, faq, manager):
    pair = faq[VPN_EN]
    pair.question = "Where is the cafeteria?"
    services.pair_save(pair=pair, user=manager)
    assert best(kb, "where is the cafeteria").pair_id == pair.id
    assert best(kb, VPN_EN).pair_id != pair.id


def test_a_deleted_pair_is_not_matched_any_more(kb, faq, manager):
    assert best(kb, VPN_EN).pair_id == faq[VPN_EN].id  # read once, and kept by this process
    services.pair_delete(pair=faq[VPN_EN], user=manager)
    assert best(kb, VPN_EN).pair_id != faq[VPN_EN].id


def test_an_imported_answer_replaces_the_one_matched_before(kb, faq):
    assert best(kb, LEAVE_EN).answer.startswith("25 days")
    content = f"question,answer\n{LEAVE_EN},Twenty-eight days.\n".encode()
    services.pairs_import(knowledge_base=kb, name="f.csv", file=io.BytesIO(content), user=None)
    assert best(kb, LEAVE_EN).answer == "Twenty-eight days."
