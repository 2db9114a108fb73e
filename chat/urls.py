from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    path("", views.home, name="home"),
    path("c/<int:conversation_id>/", views.conversation_page, name="conversation"),
    path("c/<int:conversation_id>/rename/", views.rename, name="rename"),
    path("c/<int:conversation_id>/delete/", views.delete, name="delete"),
    path("c/<int:conversation_id>/resend/", views.resend, name="resend"),
    path("conversations/", views.conversation_list, name="conversations"),
    path("ask/", views.ask, name="ask"),
    path("preview/", views.preview, name="preview"),
    path("messages/<int:message_id>/stop/", views.stop, name="stop"),
    path("messages/<int:message_id>/feedback/", views.feedback, name="feedback"),
    path("messages/<int:message_id>/show/", views.show, name="show"),
]
