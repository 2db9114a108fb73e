from django.contrib.auth.views import LoginView
from django.urls import path

from accounts.forms import SignInForm

urlpatterns = [
    path("login/", LoginView.as_view(authentication_form=SignInForm), name="login"),
]
