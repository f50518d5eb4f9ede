from django.urls import path

from . import views

app_name = "shops"
urlpatterns = [
    path("", views.app_entry, name="entry"),
    path("auth/install", views.auth_install, name="install"),
    path("auth/callback", views.auth_callback, name="callback"),
    path("auth/session-token-bounce", views.session_token_bounce, name="session_token_bounce"),
]
