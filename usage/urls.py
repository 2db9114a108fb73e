from django.urls import path

from usage import views

app_name = "usage"
urlpatterns = [
    path("account/", views.account, name="account"),
    path("usage/", views.dashboard, name="dashboard"),
]
