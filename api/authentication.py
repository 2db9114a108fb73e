"""How API requests say who they are: `Authorization: Bearer <key>` (what the openai client sends),
or the browser's session with its CSRF token."""

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from api.models import ApiKey
from api.services import api_key_for_secret


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[object, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the key as “Authorization: Bearer <key>”."))
        key = api_key_for_secret(header[1])
        if key is None:
            raise exceptions.AuthenticationFailed(_("The API key is not valid, or it has been revoked."))
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (with this challenge) rather than 403 when no credentials came.
        return f'{self.keyword} realm="api"'
