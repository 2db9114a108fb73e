"""The audit log in the admin: read by superusers and by whoever holds "Can view audit event"; never
added, changed or deleted by anyone (the model refuses too). Filters, search, a date hierarchy, and
the list as it is filtered exported to CSV."""

import json

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Field
from django.http import HttpRequest, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit import export
from audit.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["when", "kind", "username", "target", "summary"]  # the address: on the event and in CSV
    list_filter = ["kind", "at", ("user", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["username", "target", "summary", "detail__via"]  # via: "widget:<name>"
    date_hierarchy = "at"
    # The user by name: a link to the account would refuse an auditor who may not view users.
    fields = readonly_fields = ("when", "kind", "username", "ip", "target", "summary", "detail_shown")
    show_full_result_count = False  # one count of a large table per page is enough
    list_per_page = 50

    class Media:
        css = {"all": ["audit/admin/events.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False

    def get_urls(self):
        export_view = self.admin_site.admin_view(self.export_view)
        return [path("export/", export_view, name="audit_event_export"), *super().get_urls()]

    @admin.display(description=gettext_lazy("time"), ordering="at")
    def when(self, event: Event) -> str:
        """To the second, the same in every language: events are told apart and compared by it."""
        return f"{timezone.localtime(event.at):%Y-%m-%d %H:%M:%S}"

    @admin.display(description=gettext_lazy("detail"))
    def detail_shown(self, event: Event) -> str:
        return format_html(
            '<pre class="audit-detail">{}</pre>', json.dumps(event.detail, ensure_ascii=False, indent=2)
        )

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """The events the list shows with the same filters, search and dates, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            events = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest(_("These filters are not valid for the audit log."))
        header = [str(capfirst(_field_label(name))) for name in export.COLUMNS]
        kinds = {kind.value: str(kind.label) for kind in Event.Kind}
        response = StreamingHttpResponse(
            export.csv_lines(events=events, header=header, kinds=kinds),
            content_type="text/csv; charset=utf-8",
        )
        name = f"audit-log-{timezone.localtime():%Y%m%d-%H%M}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _field_label(name: str) -> str:
    field = Event._meta.get_field(name)
    assert isinstance(field, Field)  # the exported columns are the event's own fields
    return str(field.verbose_name)
