"""Run the test provider: `python -m tests.oidc_provider.serve PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI`
with PROVIDER_STATE_DIR (holding signing-key.pem), PROVIDER_URL and PROVIDER_DIRECTORY set."""

import os
import sys

import django
import uvicorn


def main(port: str, client_id: str, client_secret: str, redirect_uri: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    django.setup()
    from django.core.asgi import get_asgi_application
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    Application.objects.update_or_create(
        client_id=client_id,
        defaults={
            "name": "Knowledge Chat",
            "client_secret": client_secret,
            "client_type": Application.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
            "redirect_uris": redirect_uri,
            "algorithm": Application.RS256_ALGORITHM,
        },
    )
    uvicorn.run(get_asgi_application(), host="127.0.0.1", port=int(port), log_level="warning")


if __name__ == "__main__":
    main(*sys.argv[1:])
