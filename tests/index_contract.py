"""The search index contract as tests: every backend runs them through a subclass of `IndexContract`
naming its module (see tests/test_segment_index_contract.py). Only the operations of
`knowledge.search_index.SearchIndex` are used, so the tests say what retrieval may rely on."""

from collections.abc import Iterator

import numpy as np
import pytest

from knowledge import embedding, lexical, search_index
from knowledge.search_index import SearchIndex

KB = 7
OTHER_KB = 8
UNKNOWN = 999
TEXTS = {
    1: "The Atlas server needs 64 GB of memory.",
    2: "The Boreal laptop is light and made for travel.",
    3: "DeepSeek-R1 是一个混合专家模型，擅长数学推理。",
    4: "员工请假需要提前三天向经理申请。",
    5: "Memory modules for the Atlas server are sold in pairs, and each pair is tested before it ships.",
}


def vector(chunk_id: int) -> np.ndarray:
    """A unit vector of the embedder's dimension, the same for the same id."""
    value = np.random.default_rng(chunk_id).normal(size=embedding.dimension()).astype(np.float32)
    return value / np.linalg.norm(value)


def unit(value: np.ndarray) -> np.ndarray:
    return (value / np.linalg.norm(value)).astype(np.float32)


def add(index: SearchIndex, ids: list[int], kb_id: int = KB) -> None:
    index.update(
        kb_id, add_ids=ids, add_vectors=np.stack([vector(i) for i in ids]), add_texts=[TEXTS[i] for i in ids]
    )


def found(hits: list[tuple[int, float]]) -> list[int]:
    return [chunk_id for chunk_id, _score in hits]


class IndexContract:
    backend: str  # the dotted path of the backend's module

    @pytest.fixture
    def index(self, settings) -> Iterator[SearchIndex]:
        settings.SEARCH_INDEX_BACKEND = self.backend
        index = search_index.backend()
        for kb_id in (KB, OTHER_KB):
            index.drop(kb_id)
        yield index
        for kb_id in (KB, OTHER_KB):
            index.drop(kb_id)

    def test_it_is_the_configured_backend(self, index):
        assert index.__name__ == self.backend

    def test_an_empty_index_finds_and_scores_nothing(self, index):
        assert index.ids(KB) == set()
        assert index.search_dense(KB, vector(1), k=5) == []
        assert index.search_lexical(KB, "Atlas memory", k=5) == []
        assert index.dense_scores(KB, vector(1), [1, 2]).tolist() == [0.0, 0.0]
        assert index.lexical_scores(KB, "Atlas memory", [1, 2]).tolist() == [0.0, 0.0]
        assert index.lexical_ceiling(KB, "Atlas memory") == 0.0

    def test_it_finds_what_was_added(self, index):
        add(index, [1, 2, 3, 4, 5])
        assert index.ids(KB) == {1, 2, 3, 4, 5}
        assert found(index.search_dense(KB, vector(3), k=1)) == [3]
        assert found(index.search_lexical(KB, "Boreal", k=5)) == [2]

    def test_it_removes_and_adds_in_one_update(self, index):
        add(index, [1, 2, 3])
        index.update(KB, remove_ids=[2], add_ids=[4], add_vectors=vector(4)[None], add_texts=[TEXTS[4]])
        assert index.ids(KB) == {1, 3, 4}
        assert 2 not in found(index.search_dense(KB, vector(2), k=5))
        assert index.search_lexical(KB, "Boreal laptop", k=5) == []
        assert found(index.search_lexical(KB, "请假", k=5)) == [4]

    def test_each_write_returns_a_newer_version(self, index):
        first = index.update(KB, add_ids=[1], add_vectors=vector(1)[None], add_texts=[TEXTS[1]])
        second = index.update(KB, remove_ids=[1])
        third = index.replace(KB, ids=[2], vectors=vector(2)[None], texts=[TEXTS[2]])
        assert first < second < third

    def test_it_refuses_chunks_whose_parts_differ_in_number(self, index):
        with pytest.raises(ValueError):
            index.update(KB, add_ids=[1, 2], add_vectors=vector(1)[None], add_texts=[TEXTS[1]])
        assert index.ids(KB) == set()

    def test_removing_what_it_does_not_hold_changes_nothing(self, index):
        add(index, [1, 2])
        index.update(KB, remove_ids=[UNKNOWN])
        assert index.ids(KB) == {1, 2}

    def test_removed_chunks_score_zero(self, index):
        add(index, [1, 5])
        index.update(KB, remove_ids=[1])
        assert index.dense_scores(KB, vector(1), [1, 5])[0] == 0.0
        assert index.lexical_scores(KB, "Atlas memory", [1, 5])[0] == 0.0

    def test_replace_holds_exactly_the_given_chunks(self, index):
        add(index, [1, 2, 3])
        index.replace(KB, ids=[3, 4], vectors=np.stack([vector(3), vector(4)]), texts=[TEXTS[3], TEXTS[4]])
        assert index.ids(KB) == {3, 4}
        assert index.search_lexical(KB, "Atlas", k=5) == []
        assert found(index.search_dense(KB, vector(4), k=1)) == [4]

    def test_replace_with_nothing_empties_it(self, index):
        add(index, [1, 2])
        index.replace(KB, ids=[], vectors=np.zeros((0, embedding.dimension()), dtype=np.float32), texts=[])
        assert index.ids(KB) == set()
        assert index.search_dense(KB, vector(1), k=5) == []

    def test_drop_forgets_the_index_and_it_can_start_again(self, index):
        add(index, [1, 2])
        index.drop(KB)
        assert index.ids(KB) == set()
        assert index.search_lexical(KB, "Atlas", k=5) == []
        add(index, [3])
        assert index.ids(KB) == {3}

    def test_knowledge_bases_are_kept_apart(self, index):
        add(index, [1, 2])
        add(index, [3, 4], kb_id=OTHER_KB)
        assert index.ids(OTHER_KB) == {3, 4}
        assert set(found(index.search_dense(OTHER_KB, vector(1), k=5))) == {3, 4}
        assert index.search_lexical(OTHER_KB, "Atlas", k=5) == []
        assert index.dense_scores(OTHER_KB, vector(1), [1]).tolist() == [0.0]
        index.drop(KB)
        assert index.ids(OTHER_KB) == {3, 4}

    def test_dense_search_ranks_by_cosine_best_first(self, index):
        add(index, [1, 2, 3, 4, 5])
        query = unit(0.8 * vector(2) + 0.5 * vector(4) + 0.2 * vector(1))
        hits = index.search_dense(KB, query, k=3)
        assert found(hits)[:2] == [2, 4]
        assert len(hits) == 3
        for chunk_id, score in hits:
            assert score == pytest.approx(float(query @ vector(chunk_id)), abs=1e-5)
            assert -1.0 <= score <= 1.0
        assert [score for _id, score in hits] == sorted((score for _id, score in hits), reverse=True)
        assert index.search_dense(KB, query, k=0) == []
        assert len(index.search_dense(KB, query, k=50)) == 5

    def test_dense_scores_are_exact_in_the_order_given(self, index):
        add(index, [1, 2, 3, 4])
        query = unit(vector(2) + vector(3))
        scores = index.dense_scores(KB, query, [4, UNKNOWN, 2])
        expected = [float(query @ vector(4)), 0.0, float(query @ vector(2))]
        assert scores.tolist() == pytest.approx(expected, abs=1e-5)

    def test_lexical_search_matches_english_words_in_any_form(self, index):
        add(index, [1, 2, 5])
        assert set(found(index.search_lexical(KB, "MEMORY", k=5))) == {1, 5}
        # Stemmed: "servers" finds "server"; the shorter chunk holding both terms ranks first.
        assert found(index.search_lexical(KB, "servers memory", k=5)) == [1, 5]

    def test_lexical_search_finds_chinese_words_inside_longer_ones(self, index):
        add(index, [1, 3, 4])
        assert found(index.search_lexical(KB, "专家", k=5)) == [3]
        assert found(index.search_lexical(KB, "怎么请假？", k=5)) == [4]

    def test_lexical_search_returns_positive_scores_best_first_ties_by_id(self, index):
        index.update(
            KB, add_ids=[12, 11, 13], add_vectors=np.stack([vector(i) for i in (12, 11, 13)]),
            add_texts=["Atlas rack", "Atlas rack", "Boreal bag"],
        )  # fmt: skip
        hits = index.search_lexical(KB, "atlas", k=5)
        assert found(hits) == [11, 12]
        assert hits[0][1] == hits[1][1] > 0
        assert len(index.search_lexical(KB, "atlas", k=1)) == 1
        assert index.search_lexical(KB, "atlas", k=0) == []

    def test_lexical_scores_are_those_a_search_gives(self, index):
        add(index, [1, 2, 5])
        searched = dict(index.search_lexical(KB, "Atlas memory", k=5))
        scores = index.lexical_scores(KB, "Atlas memory", [5, UNKNOWN, 2, 1])
        assert scores.tolist() == pytest.approx([searched[5], 0.0, 0.0, searched[1]], rel=1e-5)

    def test_the_lexical_ceiling_bounds_every_score_of_the_query(self, index):
        add(index, [1, 2, 3, 5])
        ceiling = index.lexical_ceiling(KB, "Atlas server memory")
        hits = index.search_lexical(KB, "Atlas server memory", k=5)
        assert ceiling > max(score for _id, score in hits)
        # The share of the question's terms a chunk matches: all three above one of them.
        partial = index.lexical_ceiling(KB, "Atlas laptop")
        shares = dict(index.search_lexical(KB, "Atlas laptop", k=5))
        assert 0 < shares[2] / partial < 1 and 0 < shares[1] / partial < 1
        assert hits[0][1] / ceiling > shares[1] / partial
        assert index.lexical_ceiling(KB, "zebra") == 0.0

    def test_the_ceiling_of_a_chinese_question_bounds_its_scores(self, index):
        add(index, [3, 4])
        hits = index.search_lexical(KB, "混合专家模型", k=5)
        assert found(hits) == [3]
        assert 0 < hits[0][1] < index.lexical_ceiling(KB, "混合专家模型")

    def test_earlier_turns_count_less_than_the_question(self, index):
        add(index, [1, 2])
        query = lexical.Query.of("Boreal", context=[("Atlas server", 0.5)])
        assert found(index.search_lexical(KB, query, k=5)) == [2, 1]
        assert index.lexical_scores(KB, query, [1, 2]).tolist() == pytest.approx(
            [score for _id, score in sorted(index.search_lexical(KB, query, k=5))], rel=1e-5
        )
