from django.urls import path

from accounts import views

urlpatterns = [
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/oidc/start/", views.OidcStartView.as_view(), name="oidc_authentication_init"),
    path("accounts/oidc/callback/", views.OidcCallbackView.as_view(), name="oidc_authentication_callback"),
]
