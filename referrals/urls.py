from django.urls import path

from . import proxy_views, views

app_name = "referrals"
urlpatterns = [
    # Embedded admin
    path("referrals", views.overview, name="overview"),
    path("referrals/list", views.referrals_list, name="list"),
    path("referrals/review", views.review, name="review"),
    path("referrals/settings", views.settings_page, name="settings"),
    path("referrals/settings/save", views.settings_save, name="settings_save"),
    path("referrals/conversion.csv", views.conversion_csv, name="conversion_csv"),
    path("referrals/<int:referral_id>", views.detail, name="detail"),
    path("referrals/<int:referral_id>/decide", views.decide, name="decide"),
    # Storefront, through the app proxy (https://{shop}/apps/loyalty/... -> /proxy/...)
    path("proxy/r/<str:code>", proxy_views.landing, name="landing"),
    path("proxy/referrals/", proxy_views.account, name="account"),
    path("proxy/referrals/me", proxy_views.me, name="me"),
    path("proxy/referrals/go", proxy_views.go, name="go"),
]
