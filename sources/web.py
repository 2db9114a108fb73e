"""Reading a web page or site for a web source: from the start URL, links and the sitemap under the
source's prefix, as deep and as many pages as it allows, as robots.txt allows; conditional requests
(ETag, Last-Modified) let unchanged pages answer 304."""

import html
import re
from collections import deque
from collections.abc import Iterator
from pathlib import PurePosixPath
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from bs4 import BeautifulSoup
from django.conf import settings
from django.utils.translation import gettext as _

from knowledge import extract
from knowledge.models import TITLE_CHARS
from sources import network
from sources.models import URL_CHARS, Source, SourceItem
from sources.outcomes import Failed, Found, SyncAborted

HTML_TYPES = ("text/html", "application/xhtml+xml")
EXTENSION_BY_TYPE = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/csv": ".csv",
    "application/pdf": ".pdf",
    extract.DOCX: ".docx",
    extract.XLSX: ".xlsx",
}
_SITEMAP_LOC = re.compile(r"<loc>\s*([^<\s]+)\s*</loc>")
_SITEMAP_INDEX = re.compile(r"<sitemapindex[\s>]")
# Sitemap files read per sync, sitemap indexes and the sitemaps they list included.
MAX_SITEMAPS = 20


def credentials(source: Source) -> network.Credentials | None:
    if source.auth == Source.Auth.NONE or not source.auth_secret:
        return None
    parts = urlsplit(source.url)
    origin = (parts.scheme, parts.netloc.lower())
    if source.auth == Source.Auth.BASIC:
        return network.Credentials(origin, {}, (source.auth_username, source.auth_secret))
    return network.Credentials(origin, {source.auth_header_name: source.auth_secret}, None)


def _robots(source: Source, login: network.Credentials | None) -> RobotFileParser:
    """robots.txt of the start URL's site: missing (4xx) allows everything; unreadable stops the sync
    (RFC 9309 reads a server error as "disallow all")."""
    parts = urlsplit(source.url)
    url = f"{parts.scheme}://{parts.netloc}/robots.txt"
    robots = RobotFileParser(url)
    try:
        answer = network.fetch(url, headers={}, credentials=login)
    except network.Refused as refused:
        raise SyncAborted(_("robots.txt could not be read: %(reason)s") % {"reason": refused}) from None
    if answer.status == 200:
        robots.parse(answer.content.decode("utf-8", errors="replace").splitlines())
    elif 400 <= answer.status < 500:
        robots.parse([])
    else:
        raise SyncAborted(_("robots.txt could not be read (HTTP %(status)d).") % {"status": answer.status})
    return robots


def _sitemap_text(url: str, login: network.Credentials | None) -> str:
    """The sitemap's XML; empty when it cannot be read."""
    try:
        answer = network.fetch(url, headers={}, credentials=login)
    except network.Refused:
        return ""
    return answer.content.decode("utf-8", errors="replace") if answer.status == 200 else ""


def _sitemap(source: Source, robots: RobotFileParser, login: network.Credentials | None) -> list[str]:
    """The page URLs the site's sitemaps list (robots.txt names them, else /sitemap.xml). Sitemap
    indexes are followed to the sitemaps they list on the same site, each read once, MAX_SITEMAPS
    files at most; one that cannot be read lists nothing."""
    parts = urlsplit(source.url)
    site = f"{parts.scheme}://{parts.netloc}/"
    pending = deque(robots.site_maps() or [f"{site}sitemap.xml"])
    read: set[str] = set()
    pages: list[str] = []
    while pending and len(read) < MAX_SITEMAPS:
        url = pending.popleft()
        if url in read or not url.startswith(site):
            continue
        read.add(url)
        text = _sitemap_text(url, login)
        listed = [html.unescape(location) for location in _SITEMAP_LOC.findall(text)]
        (pending if _SITEMAP_INDEX.search(text) else pages).extend(listed)
    return pages


def _conditional(item: SourceItem | None) -> dict[str, str]:
    headers = {}
    if item is not None and item.etag:
        headers["If-None-Match"] = item.etag
    if item is not None and item.last_modified:
        headers["If-Modified-Since"] = item.last_modified
    return headers


def _stored(item: SourceItem) -> bytes:
    with item.document.file.open("rb") as handle:
        return handle.read()


def _links(content: bytes, base: str) -> Iterator[str]:
    for anchor in BeautifulSoup(content, "html.parser").find_all("a", href=True):
        url = urldefrag(urljoin(base, str(anchor["href"]).strip()))[0]
        if url.startswith(("http://", "https://")):
            yield url


def _title(content: bytes, content_type: str, url: str) -> str:
    if content_type in HTML_TYPES:
        title = BeautifulSoup(content, "html.parser").title
        if title and title.string and title.string.strip():
            return " ".join(title.string.split())[:TITLE_CHARS]
    return url[:TITLE_CHARS]


def _file_name(url: str, content_type: str) -> str | None:
    """A file name for the page: its URL's last part, with the extension of its type; None for a type
    that documents are not made of."""
    path = PurePosixPath(urlsplit(url).path)
    extension = EXTENSION_BY_TYPE.get(content_type)
    if extension is None and not content_type and path.suffix.lower() in extract.SUPPORTED_EXTENSIONS:
        extension = path.suffix.lower()
    if extension is None:
        return None
    return (path.stem or "index") + extension


class _Crawl:
    def __init__(self, source: Source, items: dict[str, SourceItem]):
        self.source = source
        self.items = items
        self.scope = source.scope
        self.login = credentials(source)
        self.depth = min(source.max_depth, settings.SOURCE_MAX_DEPTH)
        self.limit = min(source.max_pages, settings.SOURCE_MAX_PAGES)
        self.queue: deque[tuple[str, int]] = deque([(source.url, 0)])
        self.queued = {source.url}

    def add(self, url: str, depth: int) -> None:
        fits = len(url) <= URL_CHARS and len(self.queued) < 10 * self.limit
        if fits and url.startswith(self.scope) and url not in self.queued:
            self.queued.add(url)
            self.queue.append((url, depth))

    def pages(self) -> Iterator[Found | Failed]:
        robots = _robots(self.source, self.login)
        if self.depth:
            for url in _sitemap(self.source, robots, self.login):
                self.add(url, 1)
        read = 0
        while self.queue and read < self.limit:
            url, depth = self.queue.popleft()
            if not robots.can_fetch(settings.SOURCE_USER_AGENT, url):
                continue
            read += 1
            outcome, content, content_type = self.read(url)
            if outcome is not None:
                yield outcome
            if content is not None and content_type in HTML_TYPES and depth < self.depth:
                for link in _links(content, url):
                    self.add(link, depth + 1)

    def read(self, url: str) -> tuple[Found | Failed | None, bytes | None, str]:
        """What became of the page, and its content and type for following its links."""
        item = self.items.get(url)
        start = url == self.source.url
        try:
            answer = network.fetch(url, headers=_conditional(item), credentials=self.login)
        except network.Refused as refused:
            if start:
                raise SyncAborted(_("the start page: %(reason)s") % {"reason": refused}) from None
            return Failed(url, str(refused)), None, ""
        if answer.status == 304 and item is not None:
            unchanged = Found(
                url, item.document.title, "", None, answer.etag or item.etag, answer.last_modified
            )
            return unchanged, _stored(item), extract.HTML if item.document.mime == extract.HTML else ""
        if answer.status in (404, 410) and not start:
            return None, None, ""  # gone: its document is removed
        if answer.status != 200:
            reason = _("the server answered HTTP %(status)d.") % {"status": answer.status}
            if start:
                raise SyncAborted(_("the start page: %(reason)s") % {"reason": reason})
            return Failed(url, reason), None, ""
        if not answer.url.startswith(self.scope):
            reason = _("redirected outside the source, to %(url)s.") % {"url": answer.url[:300]}
            return Failed(url, reason), None, ""
        name = _file_name(answer.url, answer.content_type)
        if name is None:
            reason = _("its type (%(type)s) is not one documents are made of.")
            return Failed(url, reason % {"type": answer.content_type or "?"}), None, ""
        title = _title(answer.content, answer.content_type, url)
        found = Found(url, title, name, answer.content, answer.etag, answer.last_modified)
        return found, answer.content, answer.content_type


def collect(*, source: Source, items: dict[str, SourceItem]) -> Iterator[Found | Failed]:
    return _Crawl(source, items).pages()
