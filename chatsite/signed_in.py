"""Request types for views only signed-in users reach (`login_required`, DRF's `IsAuthenticated`):
for type checkers their `user` is a User, never AnonymousUser. Nothing changes at run time."""

from django.contrib.auth.models import User
from django.http import HttpRequest
from rest_framework.request import Request


class SignedInRequest(HttpRequest):
    user: User


class SignedInApiRequest(Request):
    user: User
