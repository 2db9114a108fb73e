"""/healthz and /readyz, answered by the first middleware for load balancers and orchestrators.

Before anything else runs: no session is read or made, no sign-in is asked for, no CSRF or rate limit
applies, and the Host header is not checked (probes call a node by its address, which ALLOWED_HOSTS
need not list). /healthz touches nothing but the process; /readyz runs READINESS_CHECKS.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.module_loading import import_string

from chatsite.db_threads import in_pool
from chatsite.middleware import DualModeMiddleware

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
PROBE_METHODS = ("GET", "HEAD")


def alive() -> HttpResponse:
    return HttpResponse(b"ok\n", content_type="text/plain; charset=utf-8")


def readiness() -> JsonResponse:
    """200 when every check passes, else 503; each check's name, state and detail either way."""
    checks = {}
    for path in settings.READINESS_CHECKS:
        check = import_string(path)
        try:
            ok, detail = check()
        except Exception as error:  # a check that breaks says "not ready", not a 500 with a trace
            ok, detail = False, f"check failed ({type(error).__name__})"
        checks[path.rsplit(".", 1)[-1]] = {"ok": ok, "detail": detail}
    ready = all(check["ok"] for check in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JsonResponse(body, status=200 if ready else 503, headers={"Cache-Control": "no-store"})


def _probe(request: HttpRequest) -> str | None:
    if request.method in PROBE_METHODS and request.path_info in (HEALTH_PATH, READY_PATH):
        return request.path_info
    return None


class HealthMiddleware(DualModeMiddleware):
    def handle(self, request: HttpRequest) -> HttpResponseBase:
        probe = _probe(request)
        if probe == HEALTH_PATH:
            return alive()
        if probe == READY_PATH:
            return readiness()
        return self.get_response(request)

    async def ahandle(self, request: HttpRequest) -> HttpResponseBase:
        probe = _probe(request)
        if probe == HEALTH_PATH:
            return alive()
        if probe == READY_PATH:
            return await in_pool(readiness)  # the checks block; not on the requests' thread
        return await self.get_response(request)
