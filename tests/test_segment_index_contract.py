"""The segment index (knowledge/index.py) keeps the search index contract, searching exactly and
approximately (FAISS IVF) alike."""

import pytest

from tests.index_contract import KB, IndexContract, add


class TestSegmentIndex(IndexContract):
    backend = "knowledge.index"


class TestApproximateSegmentIndex(IndexContract):
    backend = "knowledge.index"

    @pytest.fixture(autouse=True)
    def _approximate(self, settings) -> None:
        settings.INDEX_APPROXIMATE_FROM = 1

    def test_it_searches_approximately(self, index):
        add(index, [1, 2])
        assert index.is_approximate(KB)
