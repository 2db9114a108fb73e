from django.urls import path
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from accounts import views

# The start sends the browser to the provider, with state, nonce and a PKCE challenge kept in the session.
oidc_start = views.when_oidc_configured(OIDCAuthenticationRequestView.as_view())
oidc_callback = views.when_oidc_configured(views.OidcCallbackView.as_view())

urlpatterns = [
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/oidc/start/", oidc_start, name="oidc_authentication_init"),
    path("accounts/oidc/callback/", oidc_callback, name="oidc_authentication_callback"),
]
