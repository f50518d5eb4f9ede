from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("home", views.home, name="home"),
    path("home/overview", views.overview_fragment, name="overview"),
    path("sync/status", views.sync_status, name="sync_status"),
    path("sync/retry", views.sync_retry, name="sync_retry"),
]
