from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from chatsite import metrics

admin.site.site_header = _("Knowledge Chat administration")
admin.site.site_title = _("Knowledge Chat")
handler400 = "chatsite.bad_requests.handler400"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),  # the sign-in page and single sign-on, before Django's own
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("metrics", metrics.metrics, name="metrics"),
    # Browsers ask for this on pages that name no icon (the admin, an original opened in the tab).
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"))),
    path("", include("usage.urls")),
    path("", include("widgets.urls")),
    path("", include("api.urls")),
    path("", include("knowledge.urls")),
    path("", include("chat.urls")),
]
