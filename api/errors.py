"""Error bodies of the REST API: `{"error": {"code": ..., "message": ..., "fields": {...}}}`.

`code` is stable (DRF's codes: not_authenticated, authentication_failed, permission_denied,
not_found, throttled, invalid, method_not_allowed, ...; and ours); `message` is for a person.
Validation errors add `fields`, each field's messages.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with our own code, e.g. upload_rejected."""

    def __init__(
        self, message: str, *, code: str, status_code: int = status.HTTP_400_BAD_REQUEST, **extra
    ) -> None:
        super().__init__(message, code)
        self.status_code = status_code
        self.extra = extra  # more fields of the error body


def error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def api_exception(exc: Exception) -> exceptions.APIException:
    """Django's 404 and 403 as DRF's, with their standard messages (Django's may name models), and
    any other failure as a 500, so that an API client never gets Django's HTML error page: a 503 when
    the database cannot be reached or has no free connection, which is worth trying again."""
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    logger.error("An API request failed", exc_info=exc)
    if isinstance(exc, OperationalError):
        message = _("The service is busy. Please try again in a moment.")
        return ApiError(message, code="unavailable", status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    message = _("Something went wrong on our side. Please try again.")
    return ApiError(message, code="internal", status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)


def drf_response(exc: exceptions.APIException, context: dict) -> Response:
    """DRF's response to an API exception; it also sets Retry-After and WWW-Authenticate."""
    response = exception_handler(exc, context)
    assert response is not None, "DRF answers every APIException"
    return response


def api_exception_handler(exc: Exception, context: dict) -> Response:
    exc = api_exception(exc)
    response = drf_response(exc, context)
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", _("The request is not valid."), fields=fields)
    else:
        code = exc.get_codes()
        code = code if isinstance(code, str) else exc.default_code
        response.data = error_body(code, str(exc.detail), **getattr(exc, "extra", {}))
    return response
