"""The chat widget's endpoints: the loader a host page's script tag fetches, its configuration
(CORS, for the widget's allowed origins alone), the panel's page (framed only by them) and its
questions, and the token endpoint a token-mode widget's host backend calls."""

import json
from functools import cache

from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from chat import answering
from chatsite.content_security import policy
from chatsite.db_threads import in_pool
from widgets import asking, origins, tokens
from widgets.models import Widget

LANGUAGES = ("en", "zh-hans")


def _widget(key: str) -> Widget | None:
    return Widget.objects.filter(key=key, enabled=True).first()


def _language(request: HttpRequest) -> str:
    asked = request.GET.get("lang") or request.POST.get("lang", "")
    return asked if asked in LANGUAGES else "en"


def _refused(message: str, status: int = 403) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@cache
def _loader_source() -> bytes:
    found = finders.find("js/widget_loader.js")
    assert isinstance(found, str)
    with open(found, "rb") as source:
        return source.read()


@require_GET
def loader(request: HttpRequest, key: str) -> HttpResponse:
    """The script a host page's snippet loads; it finds the widget's key in its own address."""
    if _widget(key) is None:
        return HttpResponse(status=404)
    response = HttpResponse(_loader_source(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "max-age=300"
    return response


@require_GET
def config(request: HttpRequest, key: str) -> JsonResponse:
    """What the loader needs, for a page of an allowed origin only: other origins (and a disabled
    widget) get a 403 without CORS headers, which their script cannot even read."""
    widget = _widget(key)
    origin = origins.request_origin(request)
    if widget is None or not widget.allows(origin):
        return _refused(_("This page may not use this chat widget."))
    with translation.override(_language(request)):
        labels = {"open": _("Open chat"), "close": _("Close chat"), "title": widget.name}
    frame = request.build_absolute_uri(reverse("widgets:page", args=[key]))
    response = JsonResponse({"frame_url": frame, "token": widget.access == Widget.Access.TOKEN, **labels})
    response["Access-Control-Allow-Origin"] = str(origin)
    response["Vary"] = "Origin"
    return response


@xframe_options_exempt
@require_GET
def page(request: HttpRequest, key: str) -> HttpResponse:
    """The panel: framed by the widget's allowed origins alone (frame-ancestors, and the framing
    page's origin checked here too)."""
    widget = _widget(key)
    if widget is None or not widget.allows(origins.embedding_origin(request)):
        raise PermissionDenied(_("This page may not show this chat widget."))
    user = request.user if request.user.is_authenticated else None
    session = widget.access == Widget.Access.SESSION
    with translation.override(_language(request)):
        response = render(
            request,
            "widgets/page.html",
            {
                "widget": widget,
                "signed_out": session and user is None,
                "ticket": tokens.ticket(widget=widget, user=user if session else None),
                "lang": _language(request),
                "login_url": request.build_absolute_uri(reverse("login")),
            },
        )
    response["Content-Security-Policy"] = policy(frame_ancestors=" ".join(widget.origin_list()))
    response["Cache-Control"] = "private, no-store"  # its ticket is for this visitor
    return response


def _asking(request: HttpRequest, key: str):
    """The engine's question from the panel's form, or why not (asking.Refused)."""
    widget = _widget(key)
    if widget is None:
        raise asking.Refused(_("This chat widget is not available."), 404)
    session_user = request.user if request.user.is_authenticated else None
    user = None
    if widget.access == Widget.Access.SESSION:
        user = session_user
        if user is None:
            raise asking.Refused(_("Sign in to ask questions."), 401)
    elif widget.access == Widget.Access.TOKEN:
        user = tokens.token_user(widget=widget, token=request.POST.get("token", ""))
        if user is None:
            raise asking.Refused(_("Your sign-in for this chat has expired. Reload the page."), 401)
    ticket_for = user if widget.access == Widget.Access.SESSION else None
    if not tokens.ticket_valid(widget=widget, user=ticket_for, value=request.POST.get("ticket", "")):
        raise asking.Refused(_("This chat page has expired. Reload the page."), 403)
    text = request.POST.get("question", "").strip()
    if not text or len(text) > answering.MAX_QUESTION_CHARS:
        message = _("Ask a question of 1 to %(max)d characters.") % {"max": answering.MAX_QUESTION_CHARS}
        raise asking.Refused(message, 400)
    history = asking.parse_history(request.POST.get("history", ""))
    question = asking.question_for(widget=widget, user=user, text=text, history=history)
    asking.check_limits(widget=widget, user=user, address=request.META.get("REMOTE_ADDR", ""))
    return question


@csrf_exempt  # the panel's ticket stands for the CSRF token: its cookie is not sent in another site's frame
@require_POST
async def ask(request: HttpRequest, key: str) -> HttpResponseBase:
    """A question from the panel, answered as the chat page's Server-Sent Events."""
    language = _language(request)
    with translation.override(language):
        try:
            question = await in_pool(_asking, request, key)
        except asking.Refused as refused:
            refusal = _refused(refused.message, refused.status)
            if refused.retry_after:
                refusal["Retry-After"] = str(refused.retry_after)
            return refusal
    response = StreamingHttpResponse(
        asking.answer_events(question, language), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@csrf_exempt  # called by the host's backend with the widget's secret, never by a browser
@require_POST
def new_token(request: HttpRequest, key: str) -> JsonResponse:
    """A user token for a token-mode widget: `Authorization: Bearer <widget secret>` and
    {"username": "..."} or {"email": "..."} in, {"token", "expires_in"} out."""
    widget = Widget.objects.filter(key=key, enabled=True, access=Widget.Access.TOKEN).first()
    scheme, _space, secret = request.headers.get("Authorization", "").partition(" ")
    if widget is None or scheme.lower() != "bearer" or not tokens.secret_matches(widget, secret.strip()):
        return _refused(_("Unknown widget, or a wrong secret."), 401)
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _refused(_("Send a JSON object."), 400)
    name = body.get("username") or body.get("email") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 254:
        return _refused(_('Name the user: send {"username": ...} or {"email": ...}.'), 400)
    user = tokens.named_user(name.strip())
    if user is None:
        return _refused(_("No active user has this username or e-mail address."), 404)
    token = tokens.user_token(widget=widget, user=user)
    return JsonResponse({"token": token, "expires_in": tokens.TOKEN_SECONDS})
