"""Rate limits per API key and per user (whatever key or session the user calls with), and the
answer budget that the chat page draws on too (chat/rate_limits.py, which keeps the counts).

Rates come from settings (API_RATE_PER_KEY, API_RATE_PER_USER, ANSWER_RATE_PER_USER) each time, so
tests and deployments can change them.
"""

from rest_framework.throttling import BaseThrottle

from api.models import ApiKey
from chat import rate_limits


class _LimitThrottle(BaseThrottle):
    limit: rate_limits.Limit

    def counted_as(self, request, view) -> str | None:
        """Whose use this request is (an id), or None when the limit does not apply to it."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        who = self.counted_as(request, view)
        self._wait = None if who is None else rate_limits.seconds_to_wait(self.limit, who)
        return self._wait is None

    def wait(self) -> int | None:
        return self._wait


class ApiKeyRateThrottle(_LimitThrottle):
    limit = rate_limits.Limit("api_key", "API_RATE_PER_KEY")

    def counted_as(self, request, view) -> str | None:
        return str(request.auth.id) if isinstance(request.auth, ApiKey) else None


class ApiUserRateThrottle(_LimitThrottle):
    limit = rate_limits.Limit("api_user", "API_RATE_PER_USER")

    def counted_as(self, request, view) -> str | None:
        return str(request.user.pk) if request.user.is_authenticated else None


class AnswerRateThrottle(_LimitThrottle):
    """For the views that answer (`throttle_scope = "answers"`, DRF's attribute for scoped limits)."""

    limit = rate_limits.ANSWERS

    def counted_as(self, request, view) -> str | None:
        if getattr(view, "throttle_scope", None) != self.limit.name or not request.user.is_authenticated:
            return None
        return str(request.user.pk)


class ExportRateThrottle(AnswerRateThrottle):
    """For the export view (`throttle_scope = "exports"`): one export budget with the chat page's."""

    limit = rate_limits.EXPORTS
