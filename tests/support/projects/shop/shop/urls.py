from django.urls import path

from greetings import views

urlpatterns = [path("", views.index), path("health/", views.health)]
