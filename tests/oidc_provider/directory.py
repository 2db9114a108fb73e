"""The provider's people, from the JSON file the tests write: who may sign in, and their claims."""

import json
import os
from pathlib import Path

from django.contrib.auth.models import User
from oauth2_provider.oauth2_validators import OAuth2Validator


def directory() -> dict[str, dict]:
    return json.loads(Path(os.environ["PROVIDER_DIRECTORY"]).read_text())


class DirectoryBackend:
    """Signs in the people in the file with their password there."""

    def authenticate(self, request, username=None, password=None):
        person = directory().get(username or "")
        if person is None or person["password"] != password:
            return None
        return User.objects.get_or_create(username=username)[0]

    def get_user(self, user_id):
        return User.objects.filter(pk=user_id).first()


class DirectoryValidator(OAuth2Validator):
    """Claims from the file as it is now; groups come with the profile scope, as Keycloak's mapper
    adds them to the ID token and the userinfo answer."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "profile"}

    def get_additional_claims(self, request):
        person = directory()[request.user.username]
        names = {key: person[key] for key in ("given_name", "family_name", "email") if key in person}
        return {"preferred_username": request.user.username, "groups": person.get("groups", []), **names}
