"""The MCP server's resources: a passage (`kbchat://passages/{chunk_id}`: its text, document and
location) and a document's original (`kbchat://documents/{document_id}/original`), for the user of
the request's API key. Both are looked up among the knowledge bases the user may read, so one in
another knowledge base is "not found", as one that does not exist.

An original is sent whole, base64 in the JSON-RPC reply, so only up to MCP_MAX_ORIGINAL_BYTES; a
larger one is named with its size and the web address to download it from instead.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse

from api.mcp_tools import original_uri, passage_uri
from knowledge.locations import location_label
from knowledge.models import Chunk, Document, KnowledgeBase

PAGE_SIZE = 100  # documents listed per page
PASSAGE = re.compile(r"kbchat://passages/(\d{1,18})")
ORIGINAL = re.compile(r"kbchat://documents/(\d{1,18})/original")


@dataclass(frozen=True)
class Original:
    document: Document
    content: bytes | None  # None: larger than MCP_MAX_ORIGINAL_BYTES
    download_path: str  # on the web app, for the reader to sign in and download it


def _readable_documents(user: User):
    readable = KnowledgeBase.objects.readable_by(user)
    return Document.objects.filter(knowledge_base__in=readable).select_related("knowledge_base")


def documents_page(*, user: User, after: int) -> tuple[list[Document], int | None]:
    """The documents the user may read with ids above `after`, a page of them, and the id to list
    the next page after (None on the last page)."""
    page = list(_readable_documents(user).filter(id__gt=after).order_by("id")[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    return page[:PAGE_SIZE], page[PAGE_SIZE - 1].id if more else None


def passage(*, user: User, chunk_id: int) -> dict | None:
    """The passage, with where it is; None if the user may not read it (or there is none)."""
    readable = KnowledgeBase.objects.readable_by(user)
    chunk = Chunk.objects.select_related("document").filter(id=chunk_id, knowledge_base__in=readable).first()
    if chunk is None:
        return None
    return {
        "text": chunk.text,
        "document": chunk.document.title,
        "document_id": chunk.document_id,
        "location": location_label(page=chunk.page, heading=chunk.heading),
        "uri": passage_uri(chunk.id),
        "original_uri": original_uri(chunk.document_id),
    }


def original(*, user: User, document_id: int) -> Original | None:
    """The document's original file, if the user may read it."""
    document = _readable_documents(user).filter(id=document_id).first()
    if document is None:
        return None
    path = reverse("knowledge:download", args=[document.id])
    if document.size > settings.MCP_MAX_ORIGINAL_BYTES:
        return Original(document, None, path)
    with document.file.storage.open(document.file.name, "rb") as stored:
        return Original(document, stored.read(), path)
