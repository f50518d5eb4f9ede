"""Partners routes. Everything Shopify serves on https://{shop}/X lives at /store/{shop}/X here."""
from django.urls import path, re_path

from .views import admin, cdn, control, oauth, storefront

app_name = "partners"

SHOP = "store/<str:shop_domain>"

urlpatterns = [
    path("_devshop/health", control.health, name="health"),
    path("cdn/app-bridge.js", cdn.app_bridge, name="app_bridge"),
    path("cdn/extensions/<str:client_id>/<str:extension>/assets/<str:name>", cdn.extension_asset,
         name="extension_asset"),
    # OAuth
    path(f"{SHOP}/admin/oauth/authorize", oauth.authorize, name="authorize"),
    path(f"{SHOP}/admin/oauth/install", oauth.install, name="install"),
    path(f"{SHOP}/admin/oauth/access_token", oauth.access_token, name="access_token"),
    # Admin
    path(f"{SHOP}/admin", admin.admin_home, name="admin_home"),
    path(f"{SHOP}/admin/login", admin.admin_login, name="admin_login"),
    path(f"{SHOP}/admin/logout", admin.admin_logout, name="admin_logout"),
    path(f"{SHOP}/admin/app-bridge/session-token", admin.session_token, name="session_token"),
    path(f"{SHOP}/admin/settings/apps/<str:client_id>/uninstall", admin.uninstall, name="uninstall"),
    path(f"{SHOP}/admin/apps/<str:client_id>", admin.app_frame, name="app_frame"),
    path(f"{SHOP}/admin/apps/<str:client_id>/<path:path>", admin.app_frame, name="app_frame_path"),
    # Storefront
    path(f"{SHOP}/", storefront.storefront_home, name="storefront_home"),
    path(f"{SHOP}/account", storefront.customer_account, name="customer_account"),
    path(f"{SHOP}/account/login", storefront.customer_login, name="customer_login"),
    path(f"{SHOP}/account/logout", storefront.customer_logout, name="customer_logout"),
    re_path(
        r"^store/(?P<shop_domain>[^/]+)/(?P<prefix>apps|a|community|tools)/(?P<subpath>[^/]+)(?:/(?P<rest>.*))?$",
        storefront.app_proxy,
        name="app_proxy",
    ),
    # Control API (tests and demo)
    path("_devshop/apps", control.register_app, name="control_register_app"),
    path("_devshop/shops/<str:shop_domain>/staff", control.create_staff, name="control_staff"),
    path("_devshop/shops/<str:shop_domain>/webhooks/deliveries", control.deliveries, name="control_deliveries"),
    path("_devshop/shops/<str:shop_domain>/webhooks/faults", control.faults, name="control_faults"),
    path("_devshop/shops/<str:shop_domain>/webhooks/emit", control.emit, name="control_emit"),
    path("_devshop/shops/<str:shop_domain>/apps/<str:client_id>/session-token", control.mint_session_token,
         name="control_session_token"),
    path("_devshop/shops/<str:shop_domain>/apps/<str:client_id>/uninstall", control.uninstall_app,
         name="control_uninstall"),
    re_path(
        r"^_devshop/shops/(?P<shop_domain>[^/]+)/apps/(?P<client_id>[^/]+)/compliance/"
        r"(?P<topic>customers/data_request|customers/redact|shop/redact)$",
        control.compliance,
        name="control_compliance",
    ),
]
