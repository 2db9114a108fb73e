"""Fetching a URL for a source, safely: http and https only, to the hosts and networks the setting
SOURCE_ALLOWED_NETWORKS allows, every redirect checked again, bounded in size and time.

Each hop's host is resolved once, every address it resolves to is checked, and the connection goes to
the checked address (the TLS certificate is still checked against the host name): a name that
resolves to a public address when checked and to an internal one when connecting (DNS rebinding)
cannot reach the internal one. Certificates are checked against the public authorities (certifi's
bundle) and those of the file SOURCE_CA_BUNDLE (an intranet's own authority).
"""

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from functools import cache
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPSConnection

MAX_REDIRECTS = 5
MB = 1024 * 1024
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """The URL may not be fetched, or its answer not used; the message says why, for a person."""


@dataclass(frozen=True)
class Allowed:
    names: tuple[str, ...]
    networks: tuple[Network, ...]


@cache
def _parse_allowed(entries: tuple[str, ...]) -> Allowed:
    names: list[str] = []
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if not entry.strip(".") or "/" in entry or ":" in entry:
                raise ImproperlyConfigured(
                    f"SOURCE_ALLOWED_NETWORKS: {entry!r} is neither a host nor a network"
                ) from None
            names.append(entry.lower())
    return Allowed(tuple(names), tuple(networks))


def allowed() -> Allowed:
    return _parse_allowed(tuple(settings.SOURCE_ALLOWED_NETWORKS))


def _name_listed(host: str, names: tuple[str, ...]) -> bool:
    return any(host == name or (name.startswith(".") and host.endswith(name)) for name in names)


def _reachable(host: str, address: IPAddress, rules: Allowed) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in network for network in rules.networks):
        return True
    return address.is_global and (not rules.names or _name_listed(host, rules.names))


def checked_address(url: str) -> str:
    """The address to connect to for `url`, once its scheme, host and every address it resolves to
    are allowed; Refused otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused(_("only http and https addresses are read."))
    if not parts.hostname:
        raise Refused(_("the address names no host."))
    if parts.username or parts.password:
        raise Refused(_("credentials inside the address are not used; set them on the source."))
    host = parts.hostname.lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        raise Refused(_("the host %(host)s could not be found.") % {"host": host}) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    rules = allowed()
    for address in addresses:
        if not _reachable(host, address, rules):
            reason = _(
                "%(host)s (%(address)s) is not among the hosts and networks sources may reach "
                "(setting SOURCE_ALLOWED_NETWORKS)."
            )
            raise Refused(reason % {"host": host, "address": address})
    return str(addresses[0])


def _pinned(pool_class: type[HTTPConnectionPool], address: str) -> type[HTTPConnectionPool]:
    class PinnedPool(pool_class):  # type: ignore[valid-type,misc]
        def _new_conn(self):
            connection = super()._new_conn()
            # The socket connects to the address; TLS (the name sent and the certificate's check) is
            # for the host name, which urllib3 would otherwise take from the address set here.
            if isinstance(connection, HTTPSConnection):
                connection.server_hostname = self.host
            connection._dns_host = address
            return connection

    return PinnedPool


class PinnedAdapter(HTTPAdapter):
    """Connects to one checked address whatever the host name resolves to by then."""

    def __init__(self, address: str):
        self.address = address
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs) -> None:
        if settings.SOURCE_CA_BUNDLE:
            # requests loads the public authorities into this context too (cert_verify's ca_certs).
            pool_kwargs["ssl_context"] = ssl.create_default_context(cafile=settings.SOURCE_CA_BUNDLE)
        self.poolmanager = PoolManager(num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _pinned(HTTPConnectionPool, self.address),
            "https": _pinned(HTTPSConnectionPool, self.address),
        }


@dataclass
class Answer:
    url: str  # after redirects
    status: int
    content: bytes
    content_type: str
    etag: str
    last_modified: str


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _body(response: requests.Response, *, deadline: float) -> bytes:
    limit = settings.SOURCE_PAGE_MAX_MB * MB
    too_big = _("larger than %(limit)d MB (setting SOURCE_PAGE_MAX_MB).") % {
        "limit": settings.SOURCE_PAGE_MAX_MB
    }
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(too_big)
    content = bytearray()
    for block in response.iter_content(64 * 1024):
        content += block
        if len(content) > limit:
            raise Refused(too_big)
        if time.monotonic() > deadline:
            raise Refused(_too_slow())
    return bytes(content)


def _too_slow() -> str:
    return _("no complete answer within %(seconds)d seconds (setting SOURCE_PAGE_TIMEOUT_SECONDS).") % {
        "seconds": settings.SOURCE_PAGE_TIMEOUT_SECONDS
    }


def fetch(url: str, *, headers: dict[str, str], credentials: "Credentials | None" = None) -> Answer:
    """GET `url`, following up to MAX_REDIRECTS redirects, each checked as the first address was.
    `credentials` go only to the origin (scheme, host and port) they were given for."""
    timeout = settings.SOURCE_PAGE_TIMEOUT_SECONDS
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        address = checked_address(url)
        sent = dict(headers, **{"User-Agent": settings.SOURCE_USER_AGENT})
        auth = None
        if credentials is not None and _origin(url) == credentials.origin:
            sent.update(credentials.headers)
            auth = credentials.basic
        with requests.Session() as session:
            session.trust_env = False  # no proxy from the environment: it would connect elsewhere
            session.mount("http://", PinnedAdapter(address))
            session.mount("https://", PinnedAdapter(address))
            try:
                with session.get(
                    url,
                    headers=sent,
                    auth=auth,
                    allow_redirects=False,
                    stream=True,
                    timeout=(timeout, timeout),
                ) as response:
                    if response.is_redirect and "Location" in response.headers:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    content = _body(response, deadline=deadline) if response.status_code == 200 else b""
                    return Answer(
                        url=url,
                        status=response.status_code,
                        content=content,
                        content_type=response.headers.get("Content-Type", "").split(";")[0].strip().lower(),
                        etag=response.headers.get("ETag", "")[:300],
                        last_modified=response.headers.get("Last-Modified", "")[:100],
                    )
            except requests.Timeout:
                raise Refused(_too_slow()) from None
            except requests.exceptions.SSLError as error:
                raise Refused(_certificate_refused(error)) from None
            except requests.RequestException as error:
                raise Refused(
                    _("the server could not be reached (%(error)s).") % {"error": type(error).__name__}
                ) from None
    raise Refused(_("more than %(count)d redirects.") % {"count": MAX_REDIRECTS})


def _certificate_refused(error: Exception) -> str:
    """Why the TLS connection was refused, as the ssl module found (buried in requests' and urllib3's
    wrappers), with the setting that trusts a private authority."""
    why = _("the TLS handshake failed")
    pending: list[object] = [error]
    seen: set[int] = set()
    while pending:
        cause = pending.pop()
        if not isinstance(cause, BaseException) or id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = cause.verify_message
            break
        pending.extend([*cause.args, getattr(cause, "reason", None), cause.__cause__, cause.__context__])
    return _(
        "its certificate was not accepted (%(why)s); an intranet's own certificate authority is trusted "
        "with the setting SOURCE_CA_BUNDLE."
    ) % {"why": why}


@dataclass(frozen=True)
class Credentials:
    origin: tuple[str, str]
    headers: dict[str, str]
    basic: tuple[str, str] | None
