from django.urls import path

from . import views

app_name = "shopify_sync"
urlpatterns = [
    path("webhooks", views.webhook_receive, name="webhooks"),
    # shopify.app.toml may give each topic its own URI (/webhooks/customers/redact ...).
    path("webhooks/<path:topic>", views.webhook_receive, name="webhooks-topic"),
]
