"""`/proxy/...`: what Shopify's app proxy forwards from `https://{shop}/apps/loyalty/...`
(shopify.app.toml `[app_proxy] url = "/proxy"`)."""
from django.urls import path

from . import views

app_name = "storefront"
urlpatterns = [
    path("proxy", views.widget, name="root"),
    path("proxy/", views.widget, name="root_slash"),
    path("proxy/widget", views.widget, name="widget"),
    path("proxy/balance", views.balance, name="balance"),
    path("proxy/programme", views.programme, name="programme"),
    path("proxy/rewards", views.rewards, name="rewards"),
    path("proxy/codes", views.codes, name="codes"),
    path("proxy/history", views.history, name="history"),
    path("proxy/redeem", views.redeem, name="redeem"),
]
