"""The sign-in page (password and single sign-on) and the two ends of the OIDC redirect."""

import logging
from collections.abc import Callable
from functools import wraps

import jwt
from django.conf import settings
from django.contrib.auth import user_login_failed
from django.contrib.auth.views import LoginView
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView
from requests import RequestException

from accounts import oidc_config
from accounts.forms import SignInForm

logger = logging.getLogger(__name__)
# What a provider, a browser or a forged link can make the callback raise: a state that is not this
# session's, an ID token that fails its checks, a provider that answers nonsense, the same person's
# first sign-in in two tabs at once (the second one's new user collides with the first's).
_REFUSED = (SuspiciousOperation, jwt.PyJWTError, KeyError, ValueError, TypeError, IntegrityError)
EXPIRED = gettext_lazy("This sign-in link has expired or is not valid. Please try again.")
UNREACHABLE = gettext_lazy("%(provider)s could not be reached. Please try again later.")
DECLINED = gettext_lazy("%(provider)s did not sign you in. Please try again.")
SWITCHED_OFF = gettext_lazy("Your account is switched off. Ask an administrator.")


class SignInView(LoginView):
    """The sign-in page: the password form (local accounts unless LOCAL_SIGN_IN=false, or directory
    accounts through LDAP) and "Sign in with <provider>" (when OIDC is configured). A failed single
    sign-on comes back here with its reason."""

    authentication_form = SignInForm  # says when the directory, not the password, was the problem
    sign_in_error = ""

    def get_context_data(self, **kwargs):
        oidc = settings.OIDC_CONFIG
        return super().get_context_data(
            password_sign_in=password_sign_in(),
            oidc_provider_name=oidc.provider_name if oidc else "",
            sign_in_error=self.sign_in_error,
            **kwargs,
        )

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if password_sign_in():
            return super().post(request, *args, **kwargs)
        self.sign_in_error = _("Signing in with a password is switched off here.")
        context = self.get_context_data(form=self.get_form_class()(request))
        return self.render_to_response(context, status=403)


def password_sign_in() -> bool:
    """Whether the sign-in page takes a password: for local accounts, or for directory accounts
    checked by LDAP (which LOCAL_SIGN_IN=false leaves on)."""
    return settings.LOCAL_SIGN_IN or bool(getattr(settings, "AUTH_LDAP_SERVER_URI", ""))


def sign_in_failed(request: HttpRequest, message: str, *, status: int) -> HttpResponseBase:
    """The sign-in page with `message` above it (for a GET: the callback takes no other)."""
    response = SignInView.as_view(sign_in_error=message)(request)
    response.status_code = status
    return response


def when_oidc_configured(
    view: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """`view`, or 404 while OIDC is not configured (the library's views need its settings)."""

    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponseBase:
        if settings.OIDC_CONFIG is None:
            raise Http404
        return view(request)

    return wrapped


class OidcCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: signs the user in through django.contrib.auth.login
    (so user_logged_in fires), or shows the sign-in page with what went wrong, never a server error."""

    def get(self, request: HttpRequest) -> HttpResponseBase:
        if request.GET.get("error") and request.GET.get("state") not in request.session.get(
            "oidc_states", {}
        ):
            # The library signs the user out on any error; only the provider answering this browser may.
            return self._failed(SuspiciousOperation("an error for another state"), EXPIRED, 400)
        try:
            return super().get(request)
        except RequestException as exc:
            if exc.response is not None and exc.response.status_code < 500:  # e.g. a code used twice
                return self._failed(exc, EXPIRED, 400)
            return self._failed(exc, UNREACHABLE, 502)
        except _REFUSED as exc:
            return self._failed(exc, EXPIRED, 400)

    def login_failure(self) -> HttpResponseBase:
        user = getattr(self, "user", None)
        if not hasattr(self, "user") or user is not None:
            # When every backend declined (user None) Django has sent this already.
            user_login_failed.send(sender=__name__, credentials={}, request=self.request)
        if user is not None and not user.is_active:
            message, status = SWITCHED_OFF, 403
        elif self.request.GET.get("error"):
            message, status = DECLINED, 403
        else:
            message, status = EXPIRED, 400
        return sign_in_failed(self.request, self._provider(message), status=status)

    def _failed(self, error: Exception, message: Promise, status: int) -> HttpResponseBase:
        logger.warning("OIDC sign-in failed: %s: %.300s", type(error).__name__, error)
        # Django sends this when every backend declines; not when one raises on the way.
        user_login_failed.send(sender=__name__, credentials={}, request=self.request)
        return sign_in_failed(self.request, self._provider(message), status=status)

    @staticmethod
    def _provider(message: Promise) -> str:
        return message % {"provider": oidc_config.current().provider_name}
