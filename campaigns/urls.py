from django.urls import include, path

from . import views

embedded = [
    path("coupons", views.coupon_list, name="coupons"),
    path("coupons/new", views.coupon_new, name="coupon_new"),
    path("coupons/create", views.coupon_create, name="coupon_create"),
    path("coupons/<int:coupon_id>", views.coupon_detail, name="coupon_detail"),
    path("coupons/<int:coupon_id>/update", views.coupon_update, name="coupon_update"),
    path("coupons/<int:coupon_id>/delete", views.coupon_delete, name="coupon_delete"),
    path("coupons/<int:coupon_id>/resume", views.coupon_resume, name="coupon_resume"),
    path("coupons/<int:coupon_id>/progress", views.coupon_progress, name="coupon_progress"),
    path("coupons/<int:coupon_id>/codes.csv", views.coupon_codes_csv, name="coupon_codes_csv"),
    path("segments", views.segment_list, name="segments"),
    path("segments/<str:key>", views.segment_detail, name="segment_detail"),
    path("campaigns", views.campaign_list, name="campaigns"),
    path("campaigns/seasonal", views.seasonal_create, name="seasonal_create"),
    path("campaigns/<int:campaign_id>", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/save", views.campaign_save, name="campaign_save"),
    path("campaigns/<int:campaign_id>/test", views.campaign_test_send, name="campaign_test_send"),
    path("campaigns/<int:campaign_id>/preview/<str:language>", views.campaign_preview, name="campaign_preview"),
    path("surveys", views.survey_overview, name="surveys"),
]

public = [
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("s/<str:token>", views.survey, name="survey"),
]

urlpatterns = [
    path("", include((embedded, "campaigns"))),
    path("c/", include((public, "campaigns_public"))),
]
