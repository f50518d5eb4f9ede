from django.urls import path

app_name = "shopify_sync"
urlpatterns: list = []
