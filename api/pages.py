"""The page where users create, see and revoke their API keys."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from api.models import ApiKey
from api.openai_compat import MODEL_PREFIX
from api.services import api_key_create, api_key_revoke
from chatsite.signed_in import SignedInRequest
from knowledge.models import KnowledgeBase

NEW_KEY_SESSION = "api_new_key"


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("What the key is for, e.g. “wiki bot”")}),
    )


@login_required
def api_keys(request: SignedInRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        key, secret = api_key_create(user=request.user, name=form.cleaned_data["name"])
        # Shown once, on the page the redirect leads to; the session forgets it there.
        request.session[NEW_KEY_SESSION] = {"id": key.id, "secret": secret}
        return redirect("api:keys")
    return render(
        request,
        "api/keys.html",
        {
            "form": form,
            "keys": ApiKey.objects.filter(user=request.user),
            "new_key": request.session.pop(NEW_KEY_SESSION, None),
            "base_url": request.build_absolute_uri("/v1"),
            "model_names": [MODEL_PREFIX + kb.slug for kb in KnowledgeBase.objects.readable_by(request.user)],
        },
    )


@login_required
@require_POST
def api_key_revoke_view(request: SignedInRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, id=key_id, user=request.user)
    api_key_revoke(api_key=key, user=request.user)
    messages.success(request, _("The key “%(name)s” was revoked.") % {"name": key.name})
    return redirect("api:keys")
