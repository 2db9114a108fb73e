"""The sign-in throttle (django-axes, configured in settings): its app, and the page shown when it
refuses a sign-in."""

import math

from axes.apps import AppConfig as AxesAppConfig
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _


class SignInRecordsConfig(AxesAppConfig):
    """django-axes under a name administrators recognise, in their language."""

    verbose_name = _("Sign-in records")


def locked_out(request: HttpRequest, *_axes_arguments: object) -> HttpResponse:
    """429 with how long signing in stays paused (AXES_LOCKOUT_CALLABLE; axes passes the original
    response and the credentials, in an order that differs between its sync and async paths)."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "lockout_minutes": math.ceil(seconds / 60)}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
