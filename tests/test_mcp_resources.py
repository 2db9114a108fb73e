"""The MCP server's resources in-process (api/mcp_resources.py): originals too large to send, and
the listing's pages. Reading them over HTTP, and who may, is tests/test_mcp_server.py's."""

import pytest
from django.urls import reverse

from api import mcp_resources
from tests.conftest import PRODUCTS, ingest_texts

pytestmark = pytest.mark.django_db


def test_it_names_the_download_of_an_original_too_large_to_send(settings, user, guide):
    settings.MCP_MAX_ORIGINAL_BYTES = guide.size - 1
    original = mcp_resources.original(user=user, document_id=guide.id)
    assert original is not None and original.content is None
    assert original.download_path == reverse("knowledge:download", args=[guide.id])


def test_it_sends_an_original_up_to_the_limit(settings, user, guide):
    settings.MCP_MAX_ORIGINAL_BYTES = guide.size
    assert mcp_resources.original(user=user, document_id=guide.id).content == guide.file.read()


def test_it_lists_documents_a_page_at_a_time(monkeypatch, user, kb, tmp_path):
    monkeypatch.setattr(mcp_resources, "PAGE_SIZE", 1)
    ingest_texts(kb, tmp_path, PRODUCTS)
    first, after = mcp_resources.documents_page(user=user, after=0)
    second, last = mcp_resources.documents_page(user=user, after=after)
    assert [d.title for d in first + second] == list(PRODUCTS) and last is None


def test_it_finds_nothing_for_an_outsider(outsider, guide):
    assert mcp_resources.original(user=outsider, document_id=guide.id) is None
    assert mcp_resources.passage(user=outsider, chunk_id=guide.chunks.first().id) is None
    assert mcp_resources.documents_page(user=outsider, after=0) == ([], None)
