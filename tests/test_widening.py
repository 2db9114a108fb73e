import itertools
import re
from dataclasses import replace

from knowledge import chunking, llm_tokens, retrieval, widening
from knowledge.formats.common import Section
from knowledge.models import Chunk, Document, KnowledgeBase
from knowledge.retrieval import Passage
from tests.conftest import ingest_texts

# Chinese characters and English words: enough like word pieces for chunks of a few sentences.
_PIECE = re.compile(r"[\u3400-\u9fff]|\w+")

LEAVE = Section(
    "Staff get 25 days of paid leave a year. Leave is booked in the HR portal. "
    "Unused leave carries over until March. Managers approve requests within a week. "
    "Sick leave is separate and needs a note after three days.",
    heading="Leave",
)
TRAVEL = Section("Travel is booked through the travel desk. Economy class is the rule.", heading="Travel")
# The case: a bullet whose second half, the answer, ends up in a chunk of its own.
BULLET = Section(
    "年假规定如下：\n- 员工入职满一年后，每年享有带薪年假，具体天数根据工龄计算，"
    "工龄一年至十年的员工每年享有十五天年假。\n- 未休完的年假可以顺延到次年三月底。",
    heading="年假",
)


def chunks_of(kb: KnowledgeBase, title: str, *sections: Section, max_tokens: int = 14) -> list[Chunk]:
    """A document of these sections, chunked as ingestion chunks (small chunks, overlap of 6)."""
    document = Document.objects.create(
        knowledge_base=kb, title=title, file=f"{title}", sha256=title, mime="text/plain"
    )
    drafts = chunking.split_sections(
        sections, count_tokens=lambda text: len(_PIECE.findall(text)), max_tokens=max_tokens, overlap_tokens=6
    )
    return Chunk.objects.bulk_create(
        Chunk(
            document=document,
            knowledge_base=kb,
            position=position,
            text=draft.text,
            heading=draft.heading,
            page=draft.page,
            char_start=draft.char_start,
            char_end=draft.char_end,
            content_hash=str(position),
            vector=b"",
        )
        for position, draft in enumerate(drafts)
    )


def passage(chunk: Chunk, rank: int = 1) -> Passage:
    return Passage(
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        document_title=chunk.document.title,
        knowledge_base_id=chunk.knowledge_base_id,
        text=chunk.text,
        location=chunk.location,
        score=1 / rank,
        rank=rank,
        dense_score=None,
        dense_rank=None,
        lexical_score=1.0,
        lexical_rank=rank,
        heading=chunk.heading,
    )


def source(*sections: Section) -> str:
    return chunking.document_text(sections)


def matched(p: Passage) -> list[str]:
    return [p.text[start:end] for start, end in p.matched]


def test_it_widens_a_chunk_with_its_neighbours_in_the_section(kb):
    chunks = chunks_of(kb, "leave.txt", LEAVE)
    middle = chunks[len(chunks) // 2]
    (widened,) = widening.widen([passage(middle)], budget=1000)
    assert widened.text == LEAVE.text
    assert matched(widened) == [middle.text]


def test_it_stays_within_the_section(kb):
    chunks = chunks_of(kb, "policy.txt", LEAVE, TRAVEL)
    last_of_leave = next(c for c in reversed(chunks) if c.heading == "Leave")
    (widened,) = widening.widen([passage(last_of_leave)], budget=1000)
    assert widened.text == LEAVE.text
    assert "travel" not in widened.text.lower()


def test_it_keeps_to_the_budget_and_cuts_a_neighbour_at_a_sentence_end(kb):
    chunks = chunks_of(kb, "leave.txt", LEAVE)
    first = chunks[0]
    budget = llm_tokens.estimate(first.text) + llm_tokens.estimate(" Unused leave carries over until March.")
    (widened,) = widening.widen([passage(first)], budget=budget)
    assert llm_tokens.estimate(widened.text) <= budget
    assert widened.text.startswith(first.text)
    assert widened.text.endswith(".")
    assert first.text != widened.text and widened.text in LEAVE.text


def test_it_sends_a_chunk_as_it_is_when_no_neighbour_fits(kb):
    first = chunks_of(kb, "leave.txt", LEAVE)[0]
    (same,) = widening.widen([passage(first)], budget=llm_tokens.estimate(first.text))
    assert same.text == first.text
    assert same.matched == ((0, len(first.text)),)
    assert widening.widen([passage(first)], budget=0) == [passage(first)]


def test_overlapping_chunks_are_joined_without_repeating_text(kb):
    chunks = chunks_of(kb, "leave.txt", LEAVE)
    assert any(a.char_end > b.char_start for a, b in itertools.pairwise(chunks))  # they overlap
    (widened,) = widening.widen([passage(chunks[0])], budget=1000)
    assert widened.text.count("Leave is booked in the HR portal.") == 1
    assert widened.text == source(LEAVE)


def test_two_chosen_chunks_that_meet_become_one_passage_at_the_better_rank(kb):
    chunks = chunks_of(kb, "leave.txt", LEAVE)
    other = chunks_of(kb, "travel.txt", TRAVEL)[0]
    chosen = [passage(chunks[-1], 1), passage(other, 2), passage(chunks[0], 3)]
    first, second = widening.widen(chosen, budget=1000)
    assert (first.chunk_id, first.rank, first.text) == (chunks[-1].id, 1, LEAVE.text)
    assert matched(first) == [chunks[-1].text, chunks[0].text]
    assert (second.chunk_id, second.rank) == (other.id, 2)


def test_it_does_not_cross_into_another_document(kb):
    leave = chunks_of(kb, "leave.txt", LEAVE)
    later = chunks_of(kb, "more-leave.txt", replace(LEAVE, text="Parental leave is sixteen weeks."))
    (widened,) = widening.widen([passage(later[0])], budget=1000)
    assert widened.text == "Parental leave is sixteen weeks."
    (widened,) = widening.widen([passage(leave[-1])], budget=1000)
    assert "Parental" not in widened.text


def test_the_answer_in_a_chunk_of_its_own_is_sent_with_the_question_it_answers(kb):
    chunks = chunks_of(kb, "handbook.md", BULLET, max_tokens=40)
    found = next(c for c in chunks if "带薪年假" in c.text and "十五天" not in c.text)
    (widened,) = widening.widen([passage(found)], budget=512)
    assert "十五天年假" in widened.text
    assert widened.text.count("带薪年假") == 1
    assert matched(widened) == [found.text]


def test_it_fetches_the_neighbours_of_all_passages_in_two_queries(kb, django_assert_max_num_queries):
    chosen = [
        passage(chunks_of(kb, f"leave-{n}.txt", replace(LEAVE, text=f"{n}. {LEAVE.text}"))[1], n)
        for n in range(1, 7)
    ]
    with django_assert_max_num_queries(2):
        widened = widening.widen(chosen, budget=1000)
    assert len(widened) == 6


def test_search_ranks_documents_alike_widened_or_not(kb, tmp_path):
    ingest_texts(
        kb,
        tmp_path,
        {
            "leave.txt": LEAVE.text * 12,
            "travel.txt": TRAVEL.text * 20,
            "boreal.txt": "The Boreal laptop has 16 GB of memory and books travel for you.",
        },
    )
    query = "How is travel and leave booked?"
    plain = retrieval.search(query=query, knowledge_bases=[kb], top_k=6, widen=False).passages
    widened = retrieval.search(query=query, knowledge_bases=[kb], top_k=6).passages
    assert len(plain) > 3
    assert list(dict.fromkeys(p.document_id for p in widened)) == list(
        dict.fromkeys(p.document_id for p in plain)
    )
    assert [p.rank for p in widened] == list(range(1, len(widened) + 1))
    best = {p.chunk_id: p.score for p in plain}
    assert all(best[p.chunk_id] == p.score for p in widened)
    assert all(any(p.text in w.text for w in widened) for p in plain)


def test_a_chinese_neighbour_is_cut_at_a_sentence_end_within_the_budget(kb):
    chunks = chunks_of(kb, "handbook.md", BULLET, max_tokens=24)
    first = chunks[0]
    budget = llm_tokens.estimate(first.text) + 20
    (widened,) = widening.widen([passage(first)], budget=budget)
    assert llm_tokens.estimate(widened.text) <= budget
    # The next chunk whole, and of the one after it the sentence that fits.
    assert widened.text == BULLET.text[: BULLET.text.index("十五天年假。") + 6]
