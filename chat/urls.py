from django.urls import path

from chat import share_views, views

app_name = "chat"
urlpatterns = [
    path("", views.home, name="home"),
    path("c/<int:conversation_id>/", views.conversation_page, name="conversation"),
    path("c/<int:conversation_id>/rename/", views.rename, name="rename"),
    path("c/<int:conversation_id>/delete/", views.delete, name="delete"),
    path("c/<int:conversation_id>/resend/", views.resend, name="resend"),
    path("c/<int:conversation_id>/share/", share_views.share_create, name="share"),
    path("c/<int:conversation_id>/export.md", share_views.export_markdown, name="export_markdown"),
    path("c/<int:conversation_id>/export.json", share_views.export_json, name="export_json"),
    path("shares/", share_views.shares, name="shares"),
    path("shares/<int:share_id>/revoke/", share_views.share_revoke, name="share_revoke"),
    path("s/<str:token>/", share_views.shared_page, name="shared"),
    path("conversations/", views.conversation_list, name="conversations"),
    path("ask/", views.ask, name="ask"),
    path("preview/", views.preview, name="preview"),
    path("messages/<int:message_id>/stop/", views.stop, name="stop"),
    path("messages/<int:message_id>/feedback/", views.feedback, name="feedback"),
    path("messages/<int:message_id>/show/", views.show, name="show"),
]
