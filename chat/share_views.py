"""Sharing a conversation as a read-only link, the owner's list of links, the shared page itself, and
exporting a conversation as Markdown or JSON."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from chat import exporting, rate_limits, sharing
from chat.models import Conversation, Share
from chatsite.signed_in import SignedInRequest

NEW_SHARE_SESSION = "chat_new_share"


@login_required
@require_POST
def share_create(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    """Make a link to one of your conversations; the list of your links then shows it, once."""
    conversation = get_object_or_404(Conversation, id=conversation_id, user=request.user)
    try:
        new = sharing.share_create(
            conversation=conversation,
            signed_in_only=request.POST.get("signed_in_only") == "on",
            show_reasoning=request.POST.get("show_reasoning") == "on",
        )
    except sharing.TooManyShares:
        limit = sharing.max_active_shares()
        messages.error(request, _("You have %(count)d active links: revoke one first.") % {"count": limit})
        return redirect("chat:shares")
    link = request.build_absolute_uri(reverse("chat:shared", args=[new.token]))
    request.session[NEW_SHARE_SESSION] = {"id": new.share.id, "url": link}
    return redirect("chat:shares")


@login_required
@require_GET
def shares(request: SignedInRequest) -> HttpResponse:
    return render(
        request,
        "chat/shares.html",
        {"shares": sharing.shares_of(user=request.user), "new": request.session.pop(NEW_SHARE_SESSION, None)},
    )


@login_required
@require_POST
def share_revoke(request: SignedInRequest, share_id: int) -> HttpResponse:
    owned = Share.objects.select_related("conversation").filter(created_by=request.user)
    share = get_object_or_404(owned, id=share_id)
    sharing.share_revoke(share=share)
    messages.success(request, _("The link to “%(title)s” was revoked.") % {"title": share.conversation})
    return redirect("chat:shares")


def _private(response: HttpResponse) -> HttpResponse:
    """The token is in the address: kept out of other sites' Referer, search engines and shared
    caches."""
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_GET
def shared_page(request: HttpRequest, token: str) -> HttpResponse:
    """A shared conversation, read-only. A revoked link is the same 404 as one that never was."""
    if refusal := rate_limits.refusal(rate_limits.SHARED_PAGES, request.META.get("REMOTE_ADDR") or "unknown"):
        return _private(refusal)
    share = sharing.active_share(token)
    if share is None:
        raise Http404
    if share.signed_in_only and not request.user.is_authenticated:
        return _private(redirect_to_login(request.get_full_path()))
    context = {
        "share": share,
        "conversation": share.conversation,
        "messages": sharing.shared_thread(share=share, viewer=request.user),
    }
    return _private(render(request, "chat/shared.html", context))


def _export(request: SignedInRequest, conversation_id: int, kind: str) -> HttpResponse:
    conversation = get_object_or_404(Conversation, id=conversation_id, user=request.user)
    if refusal := rate_limits.refusal(rate_limits.EXPORTS, str(request.user.pk)):
        return refusal
    export = exporting.conversation_export(
        conversation=conversation, kind=kind, reasoning=request.GET.get("reasoning") == "1", request=request
    )
    response = HttpResponse(export.body, content_type=export.content_type)
    response["Content-Disposition"] = exporting.attachment_header(export.filename)
    return response


@login_required
@require_GET
def export_markdown(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    return _export(request, conversation_id, "markdown")


@login_required
@require_GET
def export_json(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    return _export(request, conversation_id, "json")
