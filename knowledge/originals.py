"""How an uploaded original is served: as data, never as a page of our origin.

An upload is whatever its uploader made it, HTML with script included; opened from our origin as a
page it would run with the reader's session. So the type served is the one judged from the content
at upload (`Document.mime`), never from the title, and only what browsers show without running
anything (PDF, raster images, plain text) opens in the tab; everything else is a download. Whatever
`mime` holds (rows stored before it was detected held a guess from the file name), every response
forbids sniffing and carries a sandboxing policy, so no type, right or wrong, runs script here.
"""

import asyncio
import io
import sys
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import IO

from django.http import FileResponse
from django.urls import reverse

from knowledge import extract
from knowledge.formats.text import decode
from knowledge.models import Document

# An opaque origin, no scripts, plugins, forms or popups, and nothing loaded.
SANDBOX_POLICY = "sandbox; default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# Shown in the tab as they are: browsers render these without running anything of the file's.
SHOWN_TYPES = frozenset([extract.PDF, "image/png", "image/jpeg", "image/gif", "image/webp"])
# Shown in the tab as UTF-8 plain text, whatever encoding they came in.
TEXT_TYPES = frozenset([extract.TEXT, extract.MARKDOWN, extract.CSV, extract.TSV])
UTF8_TEXT = "text/plain; charset=utf-8"
# Downloads keep these types, so the reader's system opens them with the right program.
DOWNLOAD_TYPES = frozenset([extract.DOCX, extract.XLSX, extract.HTML])
# Bytes read from the storage and sent at a time.
STREAM_BLOCK_BYTES = 64 * 1024


def original_response(document: Document) -> FileResponse:
    """The document's original file, shown in the tab when that is safe, else as a download."""
    mime = document.mime if document.mime in SHOWN_TYPES | TEXT_TYPES | DOWNLOAD_TYPES else extract.OPAQUE
    stored, size = _opened(document)
    content, content_type = _as_utf8(stored) if mime in TEXT_TYPES else (stored, mime)
    response = FileResponse(
        content,
        content_type=content_type,
        as_attachment=content_type not in SHOWN_TYPES and content_type != UTF8_TEXT,
        filename=download_name(document.title, mime),
    )
    if content is stored:
        # Headers from the file, and its bytes sent as they are read: Django would collect a file's
        # blocks into one list before sending them under ASGI.
        response.streaming_content = _blocks(stored)
        if size is not None and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = SANDBOX_POLICY
    return response


def _opened(document: Document) -> tuple[IO[bytes], int | None]:
    """The original to be read in blocks as the response goes out, and its size when the file object
    does not tell it. An object in S3 is read from the body of its GET as it arrives: S3Storage's own
    file object would first copy the whole object into memory (or a temporary file)."""
    stored = document.file.storage.open(document.file.name, "rb")
    # Loaded by the storage when it is S3Storage; looked up rather than imported, so that a process
    # keeping its originals on disk never loads boto3.
    s3 = sys.modules.get("storages.backends.s3")
    if s3 is None or not isinstance(stored, s3.S3File):
        return stored, None
    got = stored.obj.get()
    return got["Body"], got["ContentLength"]


async def _blocks(file: IO[bytes]) -> AsyncIterator[bytes]:
    """The file's bytes, a block at a time, each read in a thread (the storage's reads block)."""
    try:
        while block := await asyncio.to_thread(file.read, STREAM_BLOCK_BYTES):
            yield block
    finally:
        await asyncio.to_thread(file.close)


def citation_url(citation: dict) -> str:
    """Where "Open document" on a citation leads: the page showing the cited passage highlighted in
    the document's text, scrolled into view; for a PDF that page sends the reader on to the original
    at the cited page (see views.passage)."""
    url = reverse("knowledge:passage", args=[citation["document_id"]])
    return f"{url}?passage={citation['chunk_id']}#cited"


def web_pages(document_ids: set[int]) -> dict[int, str]:
    """The web pages documents synced from a web source were read from, by document id: their
    citations lead there rather than to a copy on our origin."""
    rows = Document.objects.filter(id__in=document_ids).exclude(source_location="")
    return {
        document.id: document.web_url for document in rows.only("id", "source_location") if document.web_url
    }


def pdf_page_url(document: Document, page: int | None) -> str:
    """The original, opened at the page by the browser's PDF viewer."""
    url = reverse("knowledge:download", args=[document.id])
    return f"{url}#page={page}" if page else url


def _as_utf8(file: IO[bytes]) -> tuple[IO[bytes], str]:
    """Text transcoded to UTF-8: staff upload GBK, GB18030 and UTF-16 files, which labelled UTF-8
    would show as garbage. The whole file is read; uploads are at most MAX_UPLOAD_MB."""
    with file:
        data = file.read()
    try:
        return io.BytesIO(decode(data).encode()), UTF8_TEXT
    except extract.ExtractionError:
        # An encoding the extractor cannot read either: the bytes, for a program that can.
        return io.BytesIO(data), extract.OPAQUE


def download_name(title: str, mime: str) -> str:
    """The title's last part, ending in an extension of the type served: a text file whose title was
    renamed to .html must not be saved as a page."""
    name = PurePosixPath(title).name or title
    claimed, extension = extract.claimed_mime(name), extract.extension_of(mime)
    if extension is None or claimed == mime or {claimed, mime} <= TEXT_TYPES:
        return name
    return name + extension
