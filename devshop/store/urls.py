"""Store routes: the Admin GraphQL API, bulk files and the store's part of the control API."""
from django.urls import path

from . import control, storefront, views

SHOP = "_devshop/shops/<str:shop_domain>"

STOREFRONT = "store/<str:shop_domain>"

urlpatterns = [
    # Storefront cart and checkout (storefront.py); the home page and customer login are partners'.
    path(f"{STOREFRONT}/cart", storefront.cart_page, name="storefront_cart"),
    path(f"{STOREFRONT}/cart/add", storefront.cart_add, name="storefront_cart_add"),
    path(f"{STOREFRONT}/cart.js", storefront.cart_js, name="storefront_cart_js"),
    path(f"{STOREFRONT}/cart/update", storefront.cart_update, name="storefront_cart_update"),
    path(f"{STOREFRONT}/cart/update.js", storefront.cart_update_js, name="storefront_cart_update_js"),
    path(f"{STOREFRONT}/discount/<str:code>", storefront.discount_apply, name="storefront_discount"),
    path(f"{STOREFRONT}/checkout", storefront.checkout, name="storefront_checkout"),
    path(f"{STOREFRONT}/orders/<int:order_id>", storefront.order_status, name="storefront_order_status"),
    path("store/<str:shop_domain>/admin/api/<str:version>/graphql.json", views.admin_graphql, name="admin_graphql"),
    path("files/bulk/<int:op_id>.jsonl", views.bulk_file, name="bulk_file"),
    path("_devshop/shops", control.shops, name="control_shops"),
    path(f"{SHOP}", control.shop_detail, name="control_shop"),
    path(f"{SHOP}/stats", control.shop_stats, name="control_shop_stats"),
    path(f"{SHOP}/seed", control.shop_seed, name="control_shop_seed"),
    path(f"{SHOP}/api/limits", control.api_limits, name="control_api_limits"),
    path(f"{SHOP}/api/faults", control.api_faults, name="control_api_faults"),
    path(f"{SHOP}/customers", control.customers, name="control_customers"),
    path(f"{SHOP}/customers/<int:customer_id>", control.customer_detail, name="control_customer"),
    path(f"{SHOP}/products", control.products, name="control_products"),
    path(f"{SHOP}/orders", control.orders, name="control_orders"),
    path(f"{SHOP}/orders/<int:order_id>", control.order_detail, name="control_order"),
    path(f"{SHOP}/orders/<int:order_id>/pay", control.order_pay, name="control_order_pay"),
    path(f"{SHOP}/orders/<int:order_id>/refunds", control.order_refund, name="control_order_refund"),
    path(f"{SHOP}/orders/<int:order_id>/cancel", control.order_cancel, name="control_order_cancel"),
    path(f"{SHOP}/bulk-operations/<int:op_id>/wait", control.bulk_wait, name="control_bulk_wait"),
]
