from django.urls import path

from . import views

app_name = "loyalty"
urlpatterns = [
    path("loyalty/settings", views.settings_page, name="settings"),
    path("loyalty/settings/save", views.settings_save, name="settings_save"),
    path("loyalty/settings/preview", views.settings_preview, name="settings_preview"),
    path("loyalty/tiers", views.tiers_page, name="tiers"),
    path("loyalty/tiers/new", views.tier_save, name="tier_create"),
    path("loyalty/tiers/<int:tier_id>", views.tier_save, name="tier_save"),
    path("loyalty/tiers/<int:tier_id>/delete", views.tier_delete, name="tier_delete"),
    path("loyalty/rewards", views.rewards_page, name="rewards"),
    path("loyalty/rewards/new", views.reward_save, name="reward_create"),
    path("loyalty/rewards/<int:reward_id>", views.reward_save, name="reward_save"),
    path("loyalty/members", views.members_page, name="members"),
    path("loyalty/members/<int:account_id>", views.member_page, name="member"),
    path("loyalty/members/<int:account_id>/adjust", views.member_adjust, name="member_adjust"),
    path("loyalty/numbers", views.numbers_page, name="numbers"),
]
