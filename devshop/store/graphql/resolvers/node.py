"""QueryRoot.node / nodes: any supported object by its global id."""
from graphql import GraphQLError

from ...formats import InvalidGid, parse_gid
from ...models import (
    BulkOperation,
    Customer,
    DiscountNode,
    DiscountRedeemCodeBulkCreation,
    LineItem,
    Metafield,
    Product,
    ProductVariant,
    Refund,
    StoreCreditAccount,
    StoreCreditTransaction,
)
from ..registry import register
from .common import ctx_installation, ctx_shop, granted_scopes, orders_visible_since

# GraphQL type -> (model, scope needed to read it)
NODE_TYPES = {
    "Customer": (Customer, "read_customers"),
    "LineItem": (LineItem, "read_orders"),
    "Refund": (Refund, "read_orders"),
    "Metafield": (Metafield, None),
    "Product": (Product, "read_products"),
    "ProductVariant": (ProductVariant, "read_products"),
    "DiscountCodeNode": (DiscountNode, "read_discounts"),
    "DiscountRedeemCodeBulkCreation": (DiscountRedeemCodeBulkCreation, "read_discounts"),
    "StoreCreditAccount": (StoreCreditAccount, "read_store_credit_accounts"),
    "StoreCreditAccountCreditTransaction": (StoreCreditTransaction, "read_store_credit_accounts"),
}


def load_node(info, value: str):
    try:
        type_name, pk = parse_gid(value)
    except InvalidGid as exc:
        raise GraphQLError(str(exc), extensions={"code": "INVALID_ID"}) from exc
    shop = ctx_shop(info)
    if type_name == "Order":
        if "read_orders" not in granted_scopes(info):
            return None
        from .orders import visible_orders

        return visible_orders(info).filter(pk=pk).first()
    if type_name == "BulkOperation":
        installation = ctx_installation(info)
        return BulkOperation.objects.filter(shop=shop, pk=pk,
                                            installation_id=getattr(installation, "id", None)).first()
    if type_name not in NODE_TYPES:
        return None
    model, scope = NODE_TYPES[type_name]
    if scope and scope not in granted_scopes(info):
        return None
    obj = model.objects.filter(shop=shop, pk=pk).first()
    if isinstance(obj, (LineItem, Refund)):
        since = orders_visible_since(info)
        if since is not None and obj.order.created_at < since:
            return None
    return obj


register("QueryRoot", "node", lambda obj, info, id: load_node(info, id))
register("QueryRoot", "nodes", lambda obj, info, ids: [load_node(info, i) for i in ids])
