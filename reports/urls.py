from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("home", views.home, name="home"),
    path("home/overview", views.overview_fragment, name="overview"),
    path("sync/status", views.sync_status, name="sync_status"),
    path("sync/retry", views.sync_retry, name="sync_retry"),
    path("reports/metrics", views.metrics_page, name="metrics"),
    path("reports/metrics/fragment", views.metrics_fragment, name="metrics_fragment"),
    path("reports/cohorts", views.cohorts_page, name="cohorts"),
    path("reports/cohorts/fragment", views.cohorts_fragment, name="cohorts_fragment"),
    path("reports/segments", views.segments_page, name="segments"),
    path("reports/segments/fragment", views.segments_fragment, name="segments_fragment"),
    path("reports/segments/<slug:segment>/customers", views.segment_customers, name="segment_customers"),
    path("reports/loyalty", views.loyalty_page, name="loyalty"),
    path("reports/loyalty/fragment", views.loyalty_fragment, name="loyalty_fragment"),
    path("reports/predicted", views.predicted_page, name="predicted"),
    path("reports/predicted/fragment", views.predicted_fragment, name="predicted_fragment"),
    path("reports/predicted/status", views.clv_fit_status, name="clv_fit_status"),
    path("reports/predicted/fit", views.clv_fit_start, name="clv_fit_start"),
    path("reports/settings", views.settings_save, name="settings_save"),
    path("reports/export/<slug:table>.csv", views.export_csv, name="export_csv"),
]
