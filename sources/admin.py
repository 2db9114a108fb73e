import copy
from collections.abc import Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.forms.models import construct_instance
from django.http import HttpResponseRedirect
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from knowledge import access
from sources import audit_trail, checks, syncing
from sources.models import SOURCE_SETTINGS, URL_CHARS, Source, SyncRun

INLINE_FIELDS = (
    "started_at",
    "trigger",
    "status",
    "added",
    "changed",
    "unchanged",
    "removed",
    "failed",
    "error",
)
RECORD_FIELDS = (
    "source",
    *INLINE_FIELDS[:1],
    "finished_at",
    *INLINE_FIELDS[1:],
    "failures",
    "duplicate_pages",
)


class SourceForm(forms.ModelForm):
    """A source as `user` may save it: on a knowledge base they manage; the password or header value
    is written here and never shown again (empty keeps the one set)."""

    user: User
    secret = forms.CharField(
        label=_("Password or header value"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored for this source and never shown again. Leave empty to keep the one set."),
    )
    url = forms.CharField(
        label=_("Start URL"),
        required=False,
        max_length=URL_CHARS,
        widget=forms.URLInput(attrs={"class": "vURLField"}),
        help_text=_("For a web source: http or https only."),
    )
    clear_secret = forms.BooleanField(label=_("Forget the stored password or header value"), required=False)

    class Meta:
        model = Source
        fields = ["knowledge_base", *SOURCE_SETTINGS]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "knowledge_base" in self.fields:
            self.fields["knowledge_base"].queryset = access.managed_knowledge_bases(self.user)  # type: ignore[attr-defined]
        state = _("Set.") if self.instance.has_secret else _("Not set.")
        self.fields["secret"].help_text = f"{state} {self.fields['secret'].help_text}"

    def clean_secret(self) -> str:
        secret = self.cleaned_data["secret"]
        if problem := checks.secret_problem(secret):
            raise forms.ValidationError(problem)
        return secret

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned
        source = construct_instance(self, copy.copy(self.instance))  # as it would be saved
        if cleaned.get("clear_secret"):
            source.auth_secret = self.instance.auth_secret = ""
        if cleaned.get("secret"):
            source.auth_secret = self.instance.auth_secret = cleaned["secret"]
        for field, problem in checks.source_problems(
            source=source, secret_after_save=source.has_secret
        ).items():
            self.add_error(field if field in self.fields else None, problem)
        return cleaned


class SyncRunInline(admin.TabularInline):
    model = SyncRun
    fields = INLINE_FIELDS
    readonly_fields = INLINE_FIELDS
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("syncs")

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-started_at")


def _managed(request):
    return access.managed_knowledge_bases(request.user)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = [
        "name",
        "knowledge_base",
        "kind",
        "where",
        "enabled",
        "interval_minutes",
        "last_sync",
        "next_sync_at",
    ]
    list_filter = ["kind", "enabled", ("knowledge_base", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["knowledge_base"]
    search_fields = ["name", "url", "path"]
    readonly_fields = ["next_sync_at"]
    inlines = [SyncRunInline]
    actions = ["sync_now"]
    change_form_template = "admin/sources/source/change_form.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def get_queryset(self, request):
        return super().get_queryset(request).filter(knowledge_base__in=_managed(request))

    def save_model(self, request, obj, form, change) -> None:
        before = audit_trail.settings_of(obj)  # as stored: obj holds the form's values already
        super().save_model(request, obj, form, change)
        audit_trail.record_source_save(source=obj, before=before, user=request.user)

    def delete_model(self, request, obj) -> None:
        syncing.source_delete(source=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for source in queryset:
            syncing.source_delete(source=source, user=request.user)

    @admin.display(description=_("URL or folder"))
    def where(self, source: Source) -> str:
        return source.url if source.kind == Source.Kind.WEB else source.path

    @admin.display(description=_("last sync"))
    def last_sync(self, source: Source) -> str:
        run = source.runs.first()
        return f"{run.get_status_display()} · {run.started_at:%Y-%m-%d %H:%M}" if run else "—"

    def response_change(self, request, obj):
        if "_sync_now" in request.POST:
            self._sync(request, [obj])
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @admin.action(description=_("Sync selected sources now"), permissions=["change"])
    def sync_now(self, request, queryset) -> None:
        self._sync(request, list(queryset))

    def _sync(self, request, sources: list[Source]) -> None:
        running = [
            source.name
            for source in sources
            if not syncing.source_sync_later(source=source, trigger=SyncRun.Trigger.MANUAL)
        ]
        if sent := len(sources) - len(running):
            text = ngettext("%(n)d source queued to sync.", "%(n)d sources queued to sync.", sent)
            self.message_user(request, text % {"n": sent}, messages.SUCCESS)
        if running:
            refused = _("A sync is already running (or queued) for: %(names)s. It was not queued again.")
            self.message_user(request, refused % {"names": ", ".join(running)}, messages.WARNING)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("source", *INLINE_FIELDS[:-1])
    list_filter = ["status", "trigger"]
    list_select_related = ["source"]
    fields = RECORD_FIELDS
    readonly_fields = RECORD_FIELDS

    def get_queryset(self, request):
        return super().get_queryset(request).filter(source__knowledge_base__in=_managed(request))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("failures"))
    def failures(self, run: SyncRun) -> str:
        return _listed((problem["location"], problem["reason"]) for problem in run.problems)

    @admin.display(description=_("duplicates (same content as another document; counted as unchanged)"))
    def duplicate_pages(self, run: SyncRun) -> str:
        return _listed((duplicate["location"], duplicate["same_as"]) for duplicate in run.duplicates)


def _listed(rows: Iterable[tuple[str, str]]) -> str:
    """A list of (location, what about it), or a dash for none."""
    items = format_html_join("", "<li><code>{}</code> — {}</li>", rows)
    return format_html("<ul>{}</ul>", items) if items else "—"
