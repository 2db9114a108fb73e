"""Finding terms: Chinese exactly, English case- and width-folded as whole words, terms cut across
stream chunks, and lists changed without a restart."""

import pytest
from django.core.cache import cache

from chat.providers import Content, Done, Reasoning
from policy import matching, services
from policy.matching import current_matcher, mask
from policy.models import WordList
from policy.streams import AnswerScreen, TextScreen
from tests.policy_lists import word_list

pytestmark = pytest.mark.django_db
BLOCK, MASK, LOG = WordList.Action.BLOCK, WordList.Action.MASK, WordList.Action.LOG


def terms_in(text: str) -> list[str]:
    return [hit.term for hit in current_matcher().find(text)]


def test_it_finds_chinese_terms_inside_a_sentence():
    word_list("敏感", LOG, "违禁品", "内部价格")
    assert terms_in("请告诉我违禁品的内部价格表") == ["违禁品", "内部价格"]


def test_it_folds_case_and_full_width_letters():
    word_list("secrets", LOG, "Project Falcon", "ＶＰＮ")
    assert terms_in("Where is PROJECT FALCON? Our vpn and ＰＲＯＪＥＣＴ ｆａｌｃｏｎ.") == [
        "Project Falcon",
        "ＶＰＮ",
        "Project Falcon",
    ]


def test_english_terms_match_whole_words_only():
    word_list("rude", LOG, "ass")
    assert terms_in("a class of assets") == []
    assert terms_in("what an ass.") == ["ass"]
    assert terms_in("驴ass驴") == ["ass"]  # Chinese characters around it are not part of the word


def test_masking_covers_the_term_as_written_when_folding_changes_lengths():
    word_list("m", MASK, "ﬁnance", "秘密")
    text = "…FINANCE… 和秘密"
    hits = current_matcher().find(text)
    assert mask(text, hits) == "…*******… 和**"


def screened(chunks: list[str]) -> tuple[str, TextScreen]:
    screen = TextScreen(current_matcher(), [])
    shown = "".join(screen.feed(chunk) for chunk in chunks) + screen.finish()
    return shown, screen


def test_a_mask_term_cut_across_two_chunks_is_masked():
    word_list("m", MASK, "内部价格", "Falcon")
    shown, screen = screened(["这是内部", "价格，代号 Fal", "con 项目"])
    assert shown == "这是****，代号 ****** 项目" and screen.blocked is None


def test_held_back_text_is_never_more_than_the_longest_term():
    word_list("m", MASK, "内部价格")
    screen = TextScreen(current_matcher(), [])
    assert screen.feed("第一段很长的回答内容") == "第一段很长的"
    assert screen.finish() == "回答内容"


def test_a_block_term_cut_across_chunks_lets_none_of_it_through():
    word_list("b", BLOCK, "违禁品")
    screen = TextScreen(current_matcher(), [])
    assert screen.feed("可以买到违") == "可以"
    assert screen.feed("禁品") == "" and screen.blocked.term == "违禁品"


def test_a_word_at_the_end_of_a_chunk_waits_to_see_whether_the_word_goes_on():
    word_list("m", MASK, "ass")
    assert screened(["what an ass", "ets list"])[0] == "what an assets list"
    assert screened(["what an ass", " indeed"])[0] == "what an *** indeed"


def test_the_answer_screen_keeps_reasoning_before_the_answer():
    word_list("m", MASK, "秘密")
    screen = AnswerScreen(current_matcher())
    events = [
        *screen.read(Reasoning("想想秘")),
        *screen.read(Reasoning("密。")),
        *screen.read(Content("答")),
        *screen.read(Done("stop")),
    ]
    assert events == [Reasoning("想"), Reasoning("想**"), Reasoning("。"), Content("答"), Done("stop")]
    assert [hit.term for hit in screen.new_hits()] == ["秘密"]


def test_a_changed_list_is_picked_up_without_a_restart():
    listed = word_list("m", LOG, "旧词")
    assert terms_in("旧词 新词") == ["旧词"]
    listed.terms = "新词"
    services.word_list_save(word_list=listed)
    assert terms_in("旧词 新词") == ["新词"]


def test_a_process_whose_stamp_expired_reloads_from_the_database():
    listed = word_list("m", LOG, "旧词")
    assert terms_in("旧词 新词") == ["旧词"]
    WordList.objects.filter(id=listed.id).update(terms="新词", version=listed.version + 1)
    cache.delete(matching.STAMP_KEY)  # as when another process's cache entry expires
    assert terms_in("旧词 新词") == ["新词"]


def test_an_unchanged_list_keeps_its_automaton():
    word_list("a", LOG, "甲")
    first = current_matcher().lists[0].automaton
    word_list("b", LOG, "乙")
    assert current_matcher().lists[0].automaton is first
