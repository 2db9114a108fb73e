from django.urls import path

from knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("documents/<int:document_id>/download/", views.download, name="download"),
    path("documents/<int:document_id>/view/", views.passage, name="passage"),
    path("kb/<slug:slug>/hit-testing/", views.hit_testing, name="hit_testing"),
]
