"""The site's icon: named by every page, the admin's included, and served at /favicon.ico for
browsers that ask there."""

import pytest
from django.contrib.auth.models import User
from django.templatetags.static import static

pytestmark = pytest.mark.django_db

ICON = static("img/favicon.svg")


def test_it_serves_the_icon_at_favicon_ico(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.redirect_chain == [(ICON, 302)]
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(response.streaming_content)


def test_admin_pages_name_the_icon(client):
    assert f'<link rel="icon" href="{ICON}"' in client.get("/admin/login/").content.decode()
    client.force_login(User.objects.create_superuser("root", password="root-password-1"))
    page = client.get("/admin/knowledge/document/").content.decode()
    assert f'<link rel="icon" href="{ICON}"' in page
    assert "Knowledge Chat administration" in page  # the admin's own header is kept
