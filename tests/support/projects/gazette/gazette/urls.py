from django.urls import path

from gazette import views

urlpatterns = [
    path("", views.index),
    path("health/", views.health),
    path("stylesheet/", views.stylesheet),
    path("upload/<str:name>", views.upload),
]
