"""Rate limits per API key and per user (whatever key or session the user calls with).

Rates come from settings (API_RATE_PER_KEY, API_RATE_PER_USER) each time, so tests and deployments
can change them; counts live in the default cache, shared by every web process when CACHE_URL is set.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiKey


class _SettingsRateThrottle(SimpleRateThrottle):
    setting = ""

    def get_rate(self) -> str:
        return getattr(settings, self.setting)


class ApiKeyRateThrottle(_SettingsRateThrottle):
    scope = "api_key"
    setting = "API_RATE_PER_KEY"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.id}


class ApiUserRateThrottle(_SettingsRateThrottle):
    scope = "api_user"
    setting = "API_RATE_PER_USER"

    def get_cache_key(self, request, view) -> str | None:
        if not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
