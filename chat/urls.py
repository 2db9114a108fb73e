from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    path("", views.home, name="home"),
    path("c/<int:conversation_id>/", views.conversation_page, name="conversation"),
    path("ask/", views.ask, name="ask"),
    path("messages/<int:message_id>/stop/", views.stop, name="stop"),
]
