"""Choosing the search index backend with SEARCH_INDEX_BACKEND."""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from knowledge import index, search_index
from tests.processes import ROOT


def test_it_uses_the_segment_index_by_default():
    assert search_index.backend() is index


def test_it_names_the_setting_when_the_backend_cannot_be_imported(settings):
    settings.SEARCH_INDEX_BACKEND = "knowledge.no_such_index"
    with pytest.raises(ImproperlyConfigured, match=r"SEARCH_INDEX_BACKEND 'knowledge\.no_such_index'"):
        search_index.backend()


def test_it_names_the_operations_a_module_lacks(settings):
    settings.SEARCH_INDEX_BACKEND = "knowledge.lexical"
    with pytest.raises(ImproperlyConfigured, match=r"SEARCH_INDEX_BACKEND 'knowledge\.lexical'.*update"):
        search_index.backend()


def test_a_bad_backend_stops_the_app_at_start_naming_the_setting(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "SEARCH_INDEX_BACKEND": "knowledge.nowhere"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SEARCH_INDEX_BACKEND 'knowledge.nowhere'" in result.stderr.splitlines()[-1]
