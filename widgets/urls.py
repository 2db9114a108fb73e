from django.urls import path

from widgets import views

app_name = "widgets"
urlpatterns = [
    path("widget/<str:key>/", views.page, name="page"),
    path("widget/<str:key>/loader.js", views.loader, name="loader"),
    path("widget/<str:key>/config", views.config, name="config"),
    path("widget/<str:key>/ask", views.ask, name="ask"),
    path("api/v1/widgets/<str:key>/tokens/", views.new_token, name="new_token"),
]
