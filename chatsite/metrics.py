"""Prometheus metrics of the web processes, and /metrics.

Several web processes on a machine add up their counts through prometheus_client's multiprocess mode
when PROMETHEUS_MULTIPROC_DIR is set (chatsite/metrics_dir.py; chatsite/web_server.py sets it);
otherwise /metrics shows this process's alone. Figures read from the database (METRICS_COLLECTORS)
are computed when /metrics is read, by the process that answers it.

Requests are labelled by the name of the URL pattern that matched, never by the path, so that the
number of series stays bounded whatever clients ask for.
"""

import atexit
import hmac
import ipaddress
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import aclosing
from contextvars import ContextVar
from functools import cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from chatsite.metrics_dir import VARIABLE
from chatsite.middleware import DualModeMiddleware

# The label of a request no URL pattern matched (a 404), and of a method no view here answers.
UNMATCHED = "unmatched"
OTHER = "other"
METHODS = frozenset(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
# Streams of answers: the chat page's and the REST API's events, and the OpenAI-compatible /v1.
EVENTS, OPENAI = "events", "openai"

REQUESTS = Counter(
    "kbchat_http_requests",
    "Requests answered, by URL name, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "kbchat_http_request_duration_seconds",
    "Time from a request to its response (to the start of the body, for a stream), by URL name.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT = Gauge(
    "kbchat_answers_in_flight",
    "Answers streaming to a client now, by stream (events, openai).",
    ["stream"],
    multiprocess_mode="livesum",
)
FIRST_TOKEN = Histogram(
    "kbchat_answer_first_token_seconds",
    "From the request's start to the first reasoning or answer token sent, by stream (events, openai).",
    ["stream"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)

if os.environ.get(VARIABLE):
    # A process that ends takes its live gauges (answers in flight) with it; one that is killed
    # leaves them until the folder is emptied at the next start.
    atexit.register(mark_process_dead, os.getpid())

# When the request being handled started: read by the answer streams its view starts.
_request_started: ContextVar[float | None] = ContextVar("request_started", default=None)


class RequestMetricsMiddleware(DualModeMiddleware):
    """Counts and times each request under the name of its URL pattern."""

    def handle(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        _request_started.set(started)
        response = self.get_response(request)
        _record(request, response, started)
        return response

    async def ahandle(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        _request_started.set(started)
        response = await self.get_response(request)
        _record(request, response, started)
        return response


def _record(request: HttpRequest, response: HttpResponseBase, started: float) -> None:
    match = request.resolver_match
    route = match.view_name if match is not None else UNMATCHED
    method = request.method if request.method in METHODS else OTHER
    requests, latency = _series(route, method, response.status_code)
    requests.inc()
    latency.observe(time.perf_counter() - started)


@cache  # bounded: URL names, methods and status codes are few
def _series(route: str, method: str, status: int) -> tuple[Counter, Histogram]:
    """The request's counter and histogram; prometheus_client's own lookup costs more than the count."""
    return REQUESTS.labels(route, method, status), LATENCY.labels(route)


class AnswerWatch:
    """One answer streamed to a client: in flight while its stream is read, and the time of its first
    token from the start of the request that asked it. Made by the view, during the request."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.started = _request_started.get() or time.perf_counter()
        self._first_sent = False

    def token_sent(self) -> None:
        """Called as each token goes out; the first one is timed."""
        if not self._first_sent:
            self._first_sent = True
            FIRST_TOKEN.labels(self.stream).observe(time.perf_counter() - self.started)

    async def relayed(self, chunks: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
        """`chunks`, counted in flight from the first read to the end or the client leaving."""
        in_flight = IN_FLIGHT.labels(self.stream)
        in_flight.inc()
        try:
            async with aclosing(chunks) as relayed:
                async for chunk in relayed:
                    yield chunk
        finally:
            in_flight.dec()


class _ThisProcess(Collector):
    """The default registry's metrics: this process's own, with its CPU and memory."""

    def collect(self) -> Iterable:
        return REGISTRY.collect()


def registry() -> CollectorRegistry:
    """What /metrics shows: every web process's metrics (or this one's), and METRICS_COLLECTORS."""
    shown = CollectorRegistry(auto_describe=False)
    if os.environ.get(VARIABLE):
        MultiProcessCollector(shown)
    else:
        shown.register(_ThisProcess())
    for path in settings.METRICS_COLLECTORS:
        shown.register(import_string(path)())
    return shown


def _loopback(request: HttpRequest) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _bearer_token_matches(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def may_read_metrics(request: HttpRequest) -> bool:
    """The bearer token, a request from this machine (when METRICS_LOOPBACK), or a staff member."""
    if _bearer_token_matches(request) or (settings.METRICS_LOOPBACK and _loopback(request)):
        return True
    return request.user.is_authenticated and request.user.is_staff


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    # Refused as "not found": whoever may not read the metrics is not told where they are.
    if not may_read_metrics(request):
        raise Http404
    # The text format every Prometheus reads (our names need none of 1.0.0's escaping).
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4)
