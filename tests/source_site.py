"""A small web site the source tests sync from: an HTTP server on 127.0.0.1 in a thread of the test
process, on a port of its own. `site.changes` changes what it serves between syncs."""

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BIG_BYTES = 1024 * 1024 + 1  # over SOURCE_PAGE_MAX_MB=1, which the tests set
XML = "application/xml"

PAGES = {
    "/docs/index.html": (
        "<html><head><title>Staff handbook</title></head><body><nav>Menu</nav><main>"
        "<h1>Staff handbook</h1><p>The handbook of the Harbour office, for all staff.</p>"
        '<a href="about.html">About</a> <a href="changing.html#top">Notices</a> <a href="gone.html">Old</a>'
        ' <a href="offsite.html">Partner</a> <a href="big.html">Archive</a> <a href="private/secret.html">'
        'Secret</a> <a href="/elsewhere.html">Outside</a> <a href="mailto:hr@example.com">Mail</a>'
        "</main></body></html>"
    ),
    "/docs/about.html": "<html><head><title>About us</title></head><body><p>The Harbour office opens at "
    "eight o'clock and closes at six.</p></body></html>",
    "/docs/gone.html": "<html><head><title>Old policy</title></head><body><p>Parking permits are "
    "issued by the front desk on Mondays.</p></body></html>",
    "/docs/orphan.html": "<html><head><title>Only in the sitemap</title></head><body><p>The canteen "
    "serves noodles on Thursdays.</p></body></html>",
    "/docs/private/secret.html": "<html><body><p>Robots may not read this.</p></body></html>",
    "/elsewhere.html": "<html><body><p>Not under the prefix.</p></body></html>",
    "/docs/twins.html": '<html><body><p>Two addresses, one page.</p><a href="about.html">About</a> '
    '<a href="about-copy.html">About (old address)</a></body></html>',
}
PAGES["/docs/about-copy.html"] = PAGES["/docs/about.html"]


@dataclass
class Site:
    port: int
    changes: dict = field(default_factory=lambda: {"notice": "Fire drill on Friday at ten.", "gone": False})
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, status)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.changes.update(notice="Fire drill on Friday at ten.", gone=False)
        self.requests.clear()


def sitemap(site: Site, root: str, *paths: str) -> bytes:
    """A sitemap (`urlset`) or sitemap index (`sitemapindex`) of the site's `paths`."""
    entry = "url" if root == "urlset" else "sitemap"
    locations = "".join(f"<{entry}><loc>{site.base}{path}</loc></{entry}>" for path in paths)
    namespace = "http://www.sitemaps.org/schemas/sitemap/0.9"
    return f'<?xml version="1.0"?><{root} xmlns="{namespace}">{locations}</{root}>'.encode()


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def send(self, status: int, body: bytes = b"", content_type: str = "text/html", **headers: str):
            site.requests.append((self.path, str(status)))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # the client stopped reading a page too big
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/robots.txt":
                robots = f"User-agent: *\nDisallow: /docs/private/\nSitemap: {site.base}/sitemap.xml\n"
                self.send(200, robots.encode(), "text/plain")
            elif path == "/sitemap.xml":  # an index: the pages' sitemap, itself, and an endless chain
                index = sitemap(site, "sitemapindex", "/sitemaps/pages.xml", path, "/sitemaps/0.xml")
                self.send(200, index, XML)
            elif path == "/sitemaps/pages.xml":
                self.send(200, sitemap(site, "urlset", "/docs/index.html", "/docs/orphan.html"), XML)
            elif path.startswith("/sitemaps/") and path.removesuffix(".xml")[10:].isdigit():
                following = int(path.removesuffix(".xml")[10:]) + 1
                self.send(200, sitemap(site, "sitemapindex", f"/sitemaps/{following}.xml"), XML)
            elif path == "/docs/changing.html":
                etag = f'"{abs(hash(site.changes["notice"]))}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send(304, ETag=etag)
                else:
                    notice = site.changes["notice"]
                    body = f"<html><head><title>Notices</title></head><body><p>{notice}</p></body></html>"
                    self.send(200, body.encode(), "text/html; charset=utf-8", ETag=etag)
            elif path == "/docs/gone.html" and site.changes["gone"]:
                self.send(404, b"gone")
            elif path == "/docs/offsite.html":
                self.send(302, Location=f"http://127.0.0.2:{site.port}/docs/about.html")
            elif path == "/docs/big.html":
                self.send(200, b"<p>" + b"x" * BIG_BYTES + b"</p>")
            elif path == "/echo-authorization":
                self.send(200, self.headers.get("Authorization", "none").encode(), "text/plain")
            elif path in PAGES:
                self.send(200, PAGES[path].encode(), "text/html; charset=utf-8")
            else:
                self.send(404, b"not here")

    return Handler


@pytest.fixture(scope="module")
def source_site() -> Iterator[Site]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Site(0)))
    site = Site(server.server_address[1])
    server.RequestHandlerClass = _handler(site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def site(source_site: Site, settings) -> Site:
    """The site as first served, reachable by sources (127.0.0.1 listed), with pages of at most 1 MB."""
    settings.SOURCE_ALLOWED_NETWORKS = ["127.0.0.1"]
    settings.SOURCE_PAGE_MAX_MB = 1
    source_site.reset()
    return source_site
