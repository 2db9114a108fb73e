from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from knowledge import access
from knowledge.models import KnowledgeBase
from widgets import audit_trail, origins, snippets, tokens
from widgets.models import Widget


def _unmanaged(request) -> QuerySet[KnowledgeBase]:
    return KnowledgeBase.objects.exclude(id__in=access.managed_knowledge_bases(request.user).values("id"))


class WidgetForm(forms.ModelForm):
    new_secret = forms.BooleanField(
        label=_("Issue a new secret"),
        required=False,
        help_text=_(
            "Token mode: the host's backend asks for user tokens with this secret. A new one is shown "
            "once, after saving; the old one stops working. A new token widget gets one anyway."
        ),
    )

    class Meta:
        model = Widget
        fields = [
            "name",
            "knowledge_bases",
            "allowed_origins",
            "access",
            "rate",
            "questions_per_day",
            "enabled",
        ]

    def clean_allowed_origins(self) -> str:
        return "\n".join(origins.parse_origins(self.cleaned_data["allowed_origins"]))


@admin.register(Widget)
class WidgetAdmin(admin.ModelAdmin):
    """Scoped as the knowledge bases are (knowledge.access): a manager sees the widgets that answer
    from knowledge bases they manage alone, and can give a widget only those."""

    form = WidgetForm
    list_display = ["name", "access", "enabled", "rate", "questions_per_day", "created_at"]
    list_filter = ["access", "enabled"]
    search_fields = ["name", "allowed_origins"]
    filter_horizontal = ["knowledge_bases"]
    change_form_template = "admin/widgets/widget/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(knowledge_bases__in=_unmanaged(request))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "knowledge_bases":
            kwargs["queryset"] = access.managed_knowledge_bases(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        widget = self.get_object(request, object_id)
        if widget is not None:
            extra_context = {
                **(extra_context or {}),
                "snippet": snippets.snippet(widget=widget, request=request),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        widget = form.instance
        changed = [name for name in form.changed_data if name != "new_secret"]
        audit_trail.record_widget_change(
            widget=widget, user=request.user, action="changed" if change else "created", changed=changed
        )
        wants_secret = form.cleaned_data.get("new_secret") or not widget.secret_digest
        if widget.access == Widget.Access.TOKEN and wants_secret:
            secret = tokens.widget_new_secret(widget=widget)
            audit_trail.record_widget_change(
                widget=widget, user=request.user, action="new-secret", changed=[]
            )
            self.message_user(
                request,
                _("The secret of %(widget)s, shown this once (keep it in your backend): %(secret)s")
                % {"widget": widget.name, "secret": secret},
                messages.WARNING,
            )

    def delete_model(self, request, obj) -> None:
        audit_trail.record_widget_change(widget=obj, user=request.user, action="deleted", changed=[])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for widget in queryset:
            self.delete_model(request, widget)
