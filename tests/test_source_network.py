"""The fetcher's network rules: which addresses a source may reach, and that it connects to the
address it checked."""

import pytest

from sources import network


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost/",
    ],
)
def test_it_refuses_internal_addresses_unless_listed(url, settings):
    settings.SOURCE_ALLOWED_NETWORKS = []
    with pytest.raises(network.Refused, match="SOURCE_ALLOWED_NETWORKS"):
        network.checked_address(url)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "file:///etc/passwd", "http://user:pw@127.0.0.1/"])
def test_it_refuses_other_schemes_and_credentials_in_the_address(url, settings):
    settings.SOURCE_ALLOWED_NETWORKS = ["127.0.0.1"]
    with pytest.raises(network.Refused):
        network.checked_address(url)


def test_it_allows_a_listed_network(settings):
    settings.SOURCE_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert network.checked_address("http://10.1.2.3:8080/wiki") == "10.1.2.3"
    with pytest.raises(network.Refused):
        network.checked_address("http://10.1.2.3.nip.invalid/")


def test_it_allows_public_addresses_of_listed_hosts_only(settings):
    settings.SOURCE_ALLOWED_NETWORKS = [".example.com"]
    assert network._reachable(
        "wiki.example.com", network.ipaddress.ip_address("93.184.215.14"), network.allowed()
    )
    assert not network._reachable(
        "evil.test", network.ipaddress.ip_address("93.184.215.14"), network.allowed()
    )
    assert not network._reachable(
        "wiki.example.com", network.ipaddress.ip_address("10.0.0.1"), network.allowed()
    )


def test_it_connects_to_the_checked_address_whatever_the_name_resolves_to_later(site, monkeypatch):
    # "rebound.test" was checked as 127.0.0.1; looked up again it would lead nowhere (or elsewhere).
    real = network.socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == "rebound.test":
            raise network.socket.gaierror("looked up again")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(network.socket, "getaddrinfo", resolve)
    monkeypatch.setattr(network, "checked_address", lambda url: "127.0.0.1")
    answer = network.fetch(f"http://rebound.test:{site.port}/docs/about.html", headers={})
    assert answer.status == 200 and b"eight o'clock" in answer.content


def test_it_refuses_an_unlisted_address(site, settings):
    settings.SOURCE_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    with pytest.raises(network.Refused, match=r"127\.0\.0\.1"):
        network.fetch(f"{site.base}/docs/about.html", headers={})
    assert site.requests == []


def test_it_refuses_a_redirect_to_an_unlisted_address(site):
    with pytest.raises(network.Refused, match=r"127\.0\.0\.2"):
        network.fetch(f"{site.base}/docs/offsite.html", headers={})
    assert [path for path, _ in site.requests] == ["/docs/offsite.html"]


def test_it_sends_credentials_to_their_origin_only(site, settings):
    settings.SOURCE_ALLOWED_NETWORKS = ["127.0.0.1", "::1"]
    login = network.Credentials(("http", f"127.0.0.1:{site.port}"), {"Authorization": "Bearer t0ken"}, None)
    answer = network.fetch(f"{site.base}/echo-authorization", headers={}, credentials=login)
    assert answer.content == b"Bearer t0ken"
    elsewhere = network.fetch(
        f"http://localhost:{site.port}/echo-authorization", headers={}, credentials=login
    )
    assert elsewhere.content == b"none"
