from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from usage.models import QuotaLimit


@admin.register(QuotaLimit)
class QuotaLimitAdmin(admin.ModelAdmin):
    list_display = ["__str__", "questions_per_day", "spend_per_month_usd"]
    list_select_related = ["user", "group"]
    search_fields = ["user__username", "group__name"]
    autocomplete_fields = ["user", "group"]
    fieldsets = [
        (
            _("For"),
            {"fields": ["user", "group"], "description": _("Set either a user or a group.")},
        ),
        (
            _("Limits"),
            {
                "fields": ["questions_per_day", "spend_per_month_usd"],
                "description": _(
                    "A user's own limit wins; else the most generous of their groups'; else the default "
                    "from the server's settings."
                ),
            },
        ),
    ]
