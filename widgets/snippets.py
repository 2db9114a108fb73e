"""The script tag a page adds to show a widget, as the admin shows it for copying."""

from django.http import HttpRequest
from django.urls import reverse

from widgets.models import Widget


def snippet(*, widget: Widget, request: HttpRequest) -> str:
    """The tag, with this app's address as the admin is reached (behind a proxy, as it forwards it)."""
    src = request.build_absolute_uri(reverse("widgets:loader", args=[widget.key]))
    token = ' data-token="TOKEN FROM YOUR BACKEND"' if widget.access == Widget.Access.TOKEN else ""
    return f'<script src="{src}"{token} async></script>'
