"""https sources: the fetcher connects to the address it checked and still checks the certificate
against the host name, trusting a private authority only when SOURCE_CA_BUNDLE names it."""

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from sources import network
from tests.directory import make_certificates
from tests.source_site import Site, _handler


@dataclass
class TlsSite:
    port: int
    ca_file: Path  # the authority that signed its certificate, for "localhost" only


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory) -> Iterator[TlsSite]:
    folder = tmp_path_factory.mktemp("tls")
    make_certificates(folder, name="DNS:localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Site(0)))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield TlsSite(server.server_address[1], folder / "ca.pem")
    server.shutdown()
    server.server_close()


@pytest.fixture
def pinned(monkeypatch) -> None:
    """Every host name is checked as 127.0.0.1, where the site listens, and connected to there."""
    monkeypatch.setattr(network, "checked_address", lambda url: "127.0.0.1")


def test_it_reads_a_site_whose_authority_is_trusted_by_setting(tls_site, pinned, settings):
    settings.SOURCE_CA_BUNDLE = str(tls_site.ca_file)
    answer = network.fetch(f"https://localhost:{tls_site.port}/docs/about.html", headers={})
    assert answer.status == 200 and b"eight o'clock" in answer.content


def test_it_checks_the_certificate_against_the_host_name_not_the_address(tls_site, pinned, settings):
    settings.SOURCE_CA_BUNDLE = str(tls_site.ca_file)
    with pytest.raises(network.Refused, match=r"certificate is not valid for 'wiki\.test'"):
        network.fetch(f"https://wiki.test:{tls_site.port}/docs/about.html", headers={})


def test_it_refuses_an_authority_it_does_not_trust_and_says_which_setting_would(tls_site, pinned, settings):
    settings.SOURCE_CA_BUNDLE = ""
    with pytest.raises(network.Refused) as refused:
        network.fetch(f"https://localhost:{tls_site.port}/docs/about.html", headers={})
    assert "certificate was not accepted" in str(refused.value)
    assert "issuer certificate" in str(refused.value) and "SOURCE_CA_BUNDLE" in str(refused.value)


def test_it_still_trusts_the_public_authorities_besides_the_intranet_one(
    tls_site, pinned, settings, monkeypatch, tmp_path
):
    make_certificates(tmp_path)  # another authority, the intranet's, which did not sign this site
    settings.SOURCE_CA_BUNDLE = str(tmp_path / "ca.pem")
    # The site's authority stands in for the public ones (certifi's bundle, which requests loads).
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(tls_site.ca_file))
    answer = network.fetch(f"https://localhost:{tls_site.port}/docs/about.html", headers={})
    assert answer.status == 200
