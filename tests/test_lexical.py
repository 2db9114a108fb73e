"""The lexical (BM25) index: scores as bm25s gives them, global statistics over segments, storage."""

import io
import subprocess
import sys
from collections.abc import Sequence

import bm25s
import numpy as np
import pytest
from django.conf import settings

from knowledge import lexical
from knowledge.lexical import Postings, Segment, search, tokenize
from tests.conftest import CORPUS

ENGLISH = [
    "DeepSeek-V3 is a Mixture-of-Experts language model with 671B total parameters.",
    "The model runs on eight GPUs when quantised to four bits.",
    "Reinforcement learning taught the model to reason step by step before answering.",
    "Distillation transfers the reasoning of a large teacher model into smaller students.",
    "Qwen and Llama checkpoints were fine-tuned on eight hundred thousand reasoning samples.",
    "Running the model locally needs enough memory for the weights and the KV cache.",
    "The chat template puts the reasoning between think tags before the final answer.",
    "Long context windows let the model read whole documents at once.",
    "Evaluation on math and coding benchmarks shows strong reasoning results.",
    "Memory, memory and more memory: the larger experts need far more of it.",
]


def _chinese() -> list[str]:
    """Nine paragraphs of the guide without "蒸馏" and the first one with it."""
    paragraphs = [p.strip() for p in CORPUS.read_text(encoding="utf-8").split("\n\n")]
    paragraphs = [p for p in paragraphs if not p.startswith("#") and len(p) > 40]
    without = [p for p in paragraphs if "蒸馏" not in p]
    return [*without[:9], next(p for p in paragraphs if "蒸馏" in p)]


CHINESE = _chinese()


# lexical is pure: the conftest's embedding model and index folders are not needed here.
@pytest.fixture(autouse=True)
def _embedder() -> None:
    pass


@pytest.fixture(autouse=True)
def _fresh_indexes() -> None:
    pass


def _segment(texts: Sequence[str], first_id: int = 0, dead: np.ndarray | None = None) -> Segment:
    postings = Postings.build([tokenize(text) for text in texts])
    return Segment(postings, np.arange(first_id, first_id + len(texts), dtype=np.int64), dead)


def _all_scores(segments: Sequence[Segment], query: str, size: int) -> np.ndarray:
    scores = np.zeros(size, dtype=np.float64)
    for chunk_id, score in search(segments, query, k=size):
        scores[chunk_id] = score
    return scores


def test_tokens_are_lower_case_words_without_whitespace_or_stop_words():
    tokens = tokenize("The DeepSeek-V3 model has 671B parameters,\tand  混合专家 (MoE) 架构。")
    assert tokens[:2] == ["deepseek", "v3"]
    assert "671b" in tokens and "moe" in tokens and "model" in tokens
    assert "the" not in tokens and "and" not in tokens
    assert "专家" in tokens and "混合" in tokens
    assert all(token and not any(c.isspace() for c in token) for token in tokens)
    assert tokenize("running runs") == ["run", "run"]
    assert tokenize("  ,. ！？ ") == []


@pytest.mark.parametrize(
    ("texts", "queries"),
    [
        (ENGLISH, ["reasoning model", "memory for experts", "eight GPUs running", "671B Qwen distillation"]),
        (CHINESE, ["大模型技术", "蒸馏模型", "人工智能 工业革命", "GPT-3 参数 技术"]),
    ],
    ids=["english", "chinese"],
)
def test_scores_equal_bm25s(texts, queries):
    token_lists = [tokenize(text) for text in texts]
    reference = bm25s.BM25()
    reference.index(token_lists, show_progress=False)
    segment = _segment(texts)
    for query in queries:
        terms = list(dict.fromkeys(tokenize(query)))
        expected = reference.get_scores(terms)
        assert np.count_nonzero(expected) > 1, query
        np.testing.assert_allclose(_all_scores([segment], query, len(texts)), expected, rtol=1e-5, atol=1e-6)


def test_a_repeated_query_term_counts_once():
    segment = _segment(ENGLISH)
    assert search([segment], "memory memory Memory", k=10) == search([segment], "memory", k=10)


def test_segments_score_as_one_segment_with_global_statistics():
    texts = ENGLISH + CHINESE
    whole = [_segment(texts)]
    parts = [_segment(texts[:3]), _segment(texts[3:12], first_id=3), _segment(texts[12:], first_id=12)]
    for query in ["reasoning model", "memory", "大模型 蒸馏", "model 模型 671B"]:
        expected = search(whole, query, k=len(texts))
        assert len(expected) > 1, query
        assert search(parts, query, k=len(texts)) == expected  # exactly: same order, same float scores
        assert search(parts, query, k=2) == expected[:2]


def test_each_segment_alone_scores_differently():
    """The global statistics matter: a segment searched alone gives other scores."""
    texts = ENGLISH + CHINESE
    together = dict(search([_segment(texts[:3]), _segment(texts[3:], first_id=3)], "model", k=20))
    alone = dict(search([_segment(texts[:3])], "model", k=20))
    assert alone.keys() <= together.keys()
    assert all(alone[i] != pytest.approx(together[i]) for i in alone)


def test_dead_rows_are_never_returned_but_still_count_in_the_statistics():
    texts = ENGLISH
    alive = search([_segment(texts)], "reasoning model", k=10)
    best_id = alive[0][0]
    dead = np.zeros(len(texts), dtype=bool)
    dead[best_id] = True
    found = search([_segment(texts, dead=dead)], "reasoning model", k=10)
    assert found == [hit for hit in alive if hit[0] != best_id]
    assert search([_segment(texts, dead=dead)], "reasoning model", k=1) == alive[1:2]


def test_a_segment_whose_rows_are_all_dead_returns_nothing():
    all_dead = _segment(ENGLISH[:5], dead=np.ones(5, dtype=bool))
    assert search([all_dead], "model", k=10) == []
    live = _segment(ENGLISH[5:], first_id=5)
    assert {i for i, _ in search([all_dead, live], "model", k=10)} == {5, 7}


def test_arrays_round_trip_through_an_npz_file_without_pickle():
    texts = ENGLISH + CHINESE
    postings = Postings.build([tokenize(text) for text in texts])
    arrays = postings.to_arrays()
    assert all(key.startswith("lex_") for key in arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        loaded = Postings.from_arrays(data)
    assert loaded.terms == postings.terms and "蒸馏" in loaded.terms and "deepseek" in loaded.terms
    for name in ("indptr", "rows", "freqs", "lengths"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(postings, name))
        assert getattr(loaded, name).dtype == getattr(postings, name).dtype
    ids = np.arange(len(texts), dtype=np.int64)
    before, after = [Segment(postings, ids, None)], [Segment(loaded, ids, None)]
    for query in ["reasoning model", "蒸馏模型", "大模型 memory"]:
        assert search(after, query, k=5) == search(before, query, k=5) != []


def test_arrays_of_another_format_are_refused():
    arrays = Postings.build([["a"]]).to_arrays()
    arrays["lex_format"] = np.array(lexical.FORMAT + 1)
    with pytest.raises(ValueError, match="format"):
        Postings.from_arrays(arrays)
    arrays = Postings.build([["a"], ["b"]]).to_arrays()
    arrays["lex_rows"] = arrays["lex_rows"][:1]
    with pytest.raises(ValueError, match="inconsistent"):
        Postings.from_arrays(arrays)
    with pytest.raises(ValueError, match="format None"):
        Postings.from_arrays({"ids": np.arange(3)})  # a segment written before the postings


def test_stemming_finds_other_forms():
    segment = _segment(["She runs every morning.", "Cats sleep all day."])
    assert [i for i, _ in search([segment], "running", k=5)] == [0]


def test_a_query_of_stop_words_finds_nothing():
    assert search([_segment(ENGLISH)], "the of and is to", k=5) == []


def test_an_exact_chinese_term_ranks_its_chunk_first():
    segment = _segment(CHINESE, first_id=100)
    found = search([segment], "蒸馏", k=5)
    assert found == found[:1] and found[0][0] == 109  # only the one chunk that has it
    assert search([segment], "蒸馏模型", k=5)[0][0] == 109  # many chunks say 模型; 蒸馏 is rare


def test_k_limits_and_orders_the_results():
    segment = _segment(ENGLISH)
    everything = search([segment], "model reasoning memory", k=100)
    assert [score for _, score in everything] == sorted((score for _, score in everything), reverse=True)
    assert all(score > 0 for _, score in everything)
    assert search([segment], "model reasoning memory", k=3) == everything[:3]
    assert search([segment], "model", k=0) == []


def test_empty_segments_and_queries():
    empty = Postings.build([])
    assert len(empty) == 0 and empty.terms == {}
    buffer = io.BytesIO()
    np.savez(buffer, **empty.to_arrays())
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        assert len(Postings.from_arrays(data)) == 0
    empty_segment = Segment(empty, np.zeros(0, dtype=np.int64), None)
    assert search([empty_segment], "model", k=5) == []
    assert search([], "model", k=5) == []
    assert search([_segment(ENGLISH)], "", k=5) == []
    assert search([_segment(ENGLISH)], "  ？！ ", k=5) == []
    assert search([_segment(ENGLISH)], "zebra", k=5) == []
    with_empty_rows = Postings.build([[], ["model"], []])
    assert list(with_empty_rows.lengths) == [0, 1, 0]
    assert [i for i, _ in search([Segment(with_empty_rows, np.array([7, 8, 9]), None)], "model", k=5)] == [8]
    assert [i for i, _ in search([empty_segment, _segment(ENGLISH)], "eight GPUs", k=1)] == [1]


def test_merge_equals_building_from_the_kept_rows():
    token_lists = [tokenize(text) for text in ENGLISH + CHINESE]
    first, second = token_lists[:8], token_lists[8:]
    keep_first = np.arange(len(first)) % 3 != 0
    keep_second = np.arange(len(second)) % 2 == 0
    merged = Postings.merge([(Postings.build(first), keep_first), (Postings.build(second), keep_second)])
    kept = [t for t, k in zip(first, keep_first, strict=True) if k]
    kept += [t for t, k in zip(second, keep_second, strict=True) if k]
    expected = Postings.build(kept)
    assert merged.terms.keys() == expected.terms.keys()
    np.testing.assert_array_equal(merged.lengths, expected.lengths)
    for term, column in expected.terms.items():
        other = merged.terms[term]
        for name in ("rows", "freqs"):
            array = getattr(expected, name)
            merged_array = getattr(merged, name)
            np.testing.assert_array_equal(
                merged_array[merged.indptr[other] : merged.indptr[other + 1]],
                array[expected.indptr[column] : expected.indptr[column + 1]],
            )
    assert len(Postings.merge([(Postings.build(first), np.zeros(len(first), dtype=bool))])) == 0
    assert len(Postings.merge([])) == 0


@pytest.mark.parametrize("dead_fraction", [0.0, 0.3, 0.99])
def test_best_rows_are_the_exact_top_k_of_live_positive_scores(dead_fraction):
    rng = np.random.default_rng(7)
    size = 200_000  # sampled: more rows than the sample
    scores = np.where(rng.random(size) < 0.5, rng.integers(0, 50, size) / 7, 0).astype(np.float32)  # ties
    dead = rng.random(size) < dead_fraction if dead_fraction else None
    live = scores if dead is None else np.where(dead, 0, scores)
    for k in (1, 10, 1000):
        best = lexical._best_rows(scores, dead, k)
        assert len(best) == min(k, np.count_nonzero(live))
        assert np.all(live[best] > 0)
        assert np.sort(live[best])[::-1].tolist() == np.sort(live)[::-1][: len(best)].tolist()


def test_exact_scores_of_given_chunks_match_the_search_and_stay_under_the_ceiling():
    dead = np.array([1, 0, 0, 0, 0], dtype=bool)
    segments = [_segment(ENGLISH[:5]), _segment(ENGLISH[5:], first_id=5, dead=dead)]
    query = "memory needs of the model"
    found = dict(search(segments, query, k=10))
    exact = lexical.scores(segments, query, [9, 5, 0, 42])
    assert exact[0] == pytest.approx(found[9])
    assert exact[1] == 0  # dead
    assert exact[2] == pytest.approx(found.get(0, 0.0))
    assert exact[3] == 0  # not in the index
    assert 0 < max(found.values()) < lexical.ceiling(segments, query)


def test_earlier_turns_help_a_follow_up_but_never_outweigh_it():
    segments = [_segment(ENGLISH)]
    follow_up = "How much memory does it need?"
    earlier = lexical.Query.of(follow_up, context=[("Tell me about Mixture-of-Experts models", 0.5)])
    alone = search(segments, follow_up, k=3)
    assert alone[0][0] == 9  # "Memory, memory and more memory" without context
    with_context = dict(search(segments, earlier, k=10))
    assert with_context[0] > dict(search(segments, follow_up, k=10)).get(0, 0)  # the MoE chunk rises
    # The earlier turn's terms together weigh half the question's, however many there are.
    long_context = lexical.Query.of(follow_up, context=[(" ".join(ENGLISH), 0.5)])
    weights, question_mass = lexical._weights(segments, long_context)
    assert sum(weights.values()) == pytest.approx(1.5 * question_mass)


def test_chinese_runs_and_other_words_are_split_alike():
    assert tokenize("DeepSeek-R1模型的推理能力") == ["deepseek", "r1", "模型", "的", "推理", "能力"]
    assert "专家" in tokenize("混合专家模型")


def test_warming_up_loads_the_chinese_dictionary() -> None:
    # In a fresh interpreter: this one's dictionary was loaded by earlier tests.
    check = (
        "import jieba; from knowledge import lexical; assert not jieba.dt.initialized; "
        "lexical.warm_up(); assert jieba.dt.initialized"
    )
    subprocess.run([sys.executable, "-c", check], check=True, cwd=settings.BASE_DIR, timeout=120)
