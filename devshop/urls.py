from django.urls import include, path

urlpatterns = [
    path("", include("devshop.partners.urls")),
    path("", include("devshop.store.urls")),
]
