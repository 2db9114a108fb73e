"""A knowledge base's chat widgets, as its admin page lists them: each links to its own page (with
its snippet), and a link adds one for this knowledge base."""

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from knowledge.models import KnowledgeBase


def widget_links(kb: KnowledgeBase) -> SafeString:
    listed = format_html_join(
        "",
        '<li><a href="{}">{}</a> · {}</li>',
        (
            (
                reverse("admin:widgets_widget_change", args=[widget.pk]),
                widget.name,
                widget.get_access_display(),
            )
            for widget in kb.widgets.order_by("name")
        ),
    )
    add = reverse("admin:widgets_widget_add") + f"?knowledge_bases={kb.pk}"
    return format_html(
        '<ul class="kb-widgets">{}</ul><a class="addlink" href="{}">{}</a>',
        listed,
        add,
        _("Add a chat widget for this knowledge base"),
    )
