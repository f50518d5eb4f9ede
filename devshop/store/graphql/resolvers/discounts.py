"""Code discounts: basic (percentage / fixed amount) and free shipping, redeem codes, bulk code creation."""
import datetime as dt
import logging
import threading
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import Sum
from django.db.models.functions import Upper
from django.utils import timezone
from graphql import GraphQLError

from ...formats import InvalidGid, decimal_str, gid, iso_utc, money_v2, parse_gid
from ...models import Customer, DiscountNode, DiscountRedeemCode, DiscountRedeemCodeBulkCreation
from ..registry import register
from .common import ctx_installation, ctx_shop, id_arg, paginate, require_access

log = logging.getLogger(__name__)

MAX_BULK_CODES = 250
MAX_CODE_LENGTH = 255


class InputErrors(Exception):
    def __init__(self, errors: list[dict]):
        self.errors = errors


def _err(root: str, path: list[str], code: str, message: str) -> dict:
    return {"field": [root, *path], "code": code, "message": message, "extraInfo": None}


def _parse_time(value):
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _context_from_input(shop, root: str, data: dict, creating: bool) -> dict:
    """Settings for `context` or the deprecated `customerSelection` (Shopify still accepts both)."""
    context = data.get("context")
    selection = data.get("customerSelection")
    if context is not None and selection is not None:
        raise InputErrors([_err(root, ["context"], "TOO_MANY_ARGUMENTS",
                                "Only one of context or customerSelection can be provided.")])
    if context is None and selection is None:
        if creating:
            raise InputErrors([_err(root, ["context"], "BLANK", "Context can't be blank.")])
        return {}
    if context is not None:
        chosen = [k for k, v in context.items() if v is not None]
        if len(chosen) != 1:
            raise InputErrors([_err(root, ["context"], "INVALID",
                                    "Context must specify exactly one of all, customers, customerSegments, markets.")])
        kind = chosen[0]
        if kind == "all":
            return {"context_all": True, "context_customer_ids": []}
        if kind == "customers":
            add = context["customers"].get("add") or []
        else:
            raise InputErrors([_err(root, ["context", kind], "INVALID",
                                    f"devshop does not support {kind} in a discount context.")])
    else:
        if selection.get("all"):
            return {"context_all": True, "context_customer_ids": []}
        if selection.get("customers") is None:
            raise InputErrors([_err(root, ["customerSelection"], "INVALID",
                                    "devshop supports customerSelection all or customers only.")])
        add = selection["customers"].get("add") or []
    ids = []
    for i, value in enumerate(add):
        try:
            ids.append(parse_gid(value, "Customer")[1])
        except InvalidGid:
            raise InputErrors([_err(root, ["context", "customers", "add", str(i)], "INVALID",
                                    f"Customer id {value} is invalid.")]) from None
    found = set(Customer.objects.filter(shop=shop, pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise InputErrors([_err(root, ["context", "customers", "add"], "INVALID",
                                f"Customers not found: {', '.join(gid('Customer', m) for m in missing)}")])
    if not ids:
        raise InputErrors([_err(root, ["context", "customers", "add"], "BLANK", "Customers can't be blank.")])
    return {"context_all": False, "context_customer_ids": ids}


def _settings_from_input(shop, root: str, data: dict, kind: str, creating: bool) -> tuple[dict, str | None]:
    errors: list[dict] = []
    values: dict = {}
    code = data.get("code")
    if creating or code is not None:
        if not code or not code.strip():
            errors.append(_err(root, ["code"], "BLANK", "Code can't be blank."))
        elif len(code) > MAX_CODE_LENGTH:
            errors.append(_err(root, ["code"], "TOO_LONG", f"Code is too long (maximum is {MAX_CODE_LENGTH})."))
        elif "\n" in code or "\r" in code:
            errors.append(_err(root, ["code"], "INVALID", "Code cannot contain newline characters."))
    if creating or "title" in data:
        if not (data.get("title") or "").strip():
            errors.append(_err(root, ["title"], "BLANK", "Title can't be blank."))
        else:
            values["title"] = data["title"]
    try:
        values.update(_context_from_input(shop, root, data, creating))
    except InputErrors as exc:
        errors.extend(exc.errors)
    if "startsAt" in data and data["startsAt"] is not None:
        values["starts_at"] = _parse_time(data["startsAt"])
    elif creating:
        values["starts_at"] = timezone.now()
    if "endsAt" in data:
        values["ends_at"] = _parse_time(data["endsAt"])
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        errors.append(_err(root, ["endsAt"], "END_DATE_BEFORE_START_DATE", "Ends at needs to be after starts_at."))
    if "usageLimit" in data:
        limit = data["usageLimit"]
        if limit is not None and limit <= 0:
            errors.append(_err(root, ["usageLimit"], "GREATER_THAN", "Usage limit must be greater than 0."))
        values["usage_limit"] = limit
    if data.get("appliesOncePerCustomer") is not None:
        values["applies_once_per_customer"] = data["appliesOncePerCustomer"]
    combines = data.get("combinesWith")
    if combines is not None:
        for key, column in (("orderDiscounts", "combines_with_order"), ("productDiscounts", "combines_with_product"),
                            ("shippingDiscounts", "combines_with_shipping")):
            if combines.get(key) is not None:
                values[column] = combines[key]
    if kind == "basic" and combines and combines.get("orderDiscounts") is None and creating:
        values.setdefault("combines_with_order", False)
    minimum = data.get("minimumRequirement")
    if minimum is not None:
        subtotal, quantity = minimum.get("subtotal"), minimum.get("quantity")
        if subtotal and quantity:
            errors.append(_err(root, ["minimumRequirement"], "MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT",
                               "Minimum subtotal and quantity range can't both be present."))
        values["minimum_subtotal"] = None
        values["minimum_quantity"] = None
        if subtotal and subtotal.get("greaterThanOrEqualToSubtotal") is not None:
            try:
                values["minimum_subtotal"] = Decimal(str(subtotal["greaterThanOrEqualToSubtotal"]))
            except InvalidOperation:
                errors.append(_err(root, ["minimumRequirement", "subtotal"], "INVALID", "Subtotal is invalid."))
        if quantity and quantity.get("greaterThanOrEqualToQuantity") is not None:
            values["minimum_quantity"] = int(quantity["greaterThanOrEqualToQuantity"])
    if data.get("tags") is not None:
        values["tags"] = list(data["tags"])
    if data.get("recurringCycleLimit") not in (None, 0, 1):
        errors.append(_err(root, ["recurringCycleLimit"], "MULTIPLE_RECURRING_CYCLE_LIMIT_FOR_NON_SUBSCRIPTION_ITEMS",
                           "devshop has no subscriptions; recurringCycleLimit must be 0 or 1."))
    if kind == "basic":
        gets = data.get("customerGets")
        if gets is None and creating:
            errors.append(_err(root, ["customerGets"], "BLANK", "Customer gets can't be blank."))
        elif gets is not None:
            _customer_gets(root, gets, values, errors, creating)
    else:
        if data.get("maximumShippingPrice") is not None:
            values["maximum_shipping_price"] = Decimal(str(data["maximumShippingPrice"]))
        destination = data.get("destination")
        if destination is not None:
            if destination.get("all"):
                values["destination_all"], values["destination_countries"] = True, []
            elif destination.get("countries"):
                countries = destination["countries"]
                values["destination_all"] = bool(countries.get("includeRestOfWorld"))
                values["destination_countries"] = list(countries.get("add") or [])
    if errors:
        raise InputErrors(errors)
    return values, code


def _customer_gets(root, gets, values, errors, creating):
    value = gets.get("value")
    if value is None and creating:
        errors.append(_err(root, ["customerGets", "value"], "BLANK", "Value can't be blank."))
    elif value is not None:
        if value.get("percentage") is not None:
            pct = Decimal(str(value["percentage"]))
            if not (0 < pct <= 1):
                errors.append(_err(root, ["customerGets", "value", "percentage"], "VALUE_OUTSIDE_RANGE",
                                   "Value must be between 0.0 and 1.0"))
            values["value_type"], values["value"] = "percentage", pct
            values["applies_on_each_item"] = False
        elif value.get("discountAmount") is not None:
            amount = value["discountAmount"]
            try:
                amt = Decimal(str(amount.get("amount")))
            except InvalidOperation:
                amt = Decimal(-1)
            if amt <= 0:
                errors.append(_err(root, ["customerGets", "value", "discountAmount", "amount"], "GREATER_THAN",
                                   "Value must be greater than 0"))
            values["value_type"], values["value"] = "fixed_amount", amt
            values["applies_on_each_item"] = bool(amount.get("appliesOnEachItem"))
        else:
            errors.append(_err(root, ["customerGets", "value"], "INVALID",
                               "devshop supports percentage or discountAmount values."))
    items = gets.get("items")
    if items is None and creating:
        errors.append(_err(root, ["customerGets", "items"], "BLANK", "Items can't be blank."))
    elif items is not None:
        if items.get("all"):
            values["items_all"] = True
        else:
            errors.append(_err(root, ["customerGets", "items"], "INVALID",
                               "devshop supports customerGets.items {all: true} only."))


def _code_taken(shop, code: str, exclude_discount: int | None = None) -> bool:
    qs = DiscountRedeemCode.objects.annotate(uc=Upper("code")).filter(shop=shop, uc=code.upper())
    if exclude_discount is not None:
        qs = qs.exclude(discount_id=exclude_discount)
    return qs.exists()


def _payload(node=None, errors=None, **extra) -> dict:
    return {"codeDiscountNode": node, "userErrors": errors or [], **extra}


def _create(info, kind: str, root: str, data: dict) -> dict:
    require_access(info, "write_discounts")
    shop = ctx_shop(info)
    try:
        values, code = _settings_from_input(shop, root, data, kind, creating=True)
    except InputErrors as exc:
        return _payload(errors=exc.errors)
    if _code_taken(shop, code):
        return _payload(errors=[_err(root, ["code"], "TAKEN", "Code must be unique. Please try a different code.")])
    now = timezone.now()
    app = getattr(ctx_installation(info), "app", None)
    try:
        with transaction.atomic():
            node = DiscountNode.objects.create(shop=shop, kind=kind, created_at=now, updated_at=now,
                                               created_by_app=getattr(app, "client_id", None), **values)
            DiscountRedeemCode.objects.create(shop=shop, discount=node, code=code, created_at=now)
    except IntegrityError:
        # Lost a race against another request creating the same code.
        return _payload(errors=[_err(root, ["code"], "TAKEN", "Code must be unique. Please try a different code.")])
    return _payload(node)


def _get_node(info, id: str) -> DiscountNode | None:
    return DiscountNode.objects.filter(shop=ctx_shop(info), pk=id_arg(id, "DiscountCodeNode")).first()


def _not_found(field: str = "id") -> list[dict]:
    return [{"field": [field], "code": "INVALID", "message": "Discount does not exist", "extraInfo": None}]


def resolve_basic_update(obj, info, id, basicCodeDiscount):
    return _update(info, id, "basic", "basicCodeDiscount", basicCodeDiscount)


def resolve_free_shipping_update(obj, info, id, freeShippingCodeDiscount):
    return _update(info, id, "free_shipping", "freeShippingCodeDiscount", freeShippingCodeDiscount)


def _update(info, id: str, kind: str, root: str, data: dict) -> dict:
    """discountCodeBasicUpdate / discountCodeFreeShippingUpdate: like Shopify, an update of the wrong
    kind of discount is "does not exist"."""
    require_access(info, "write_discounts")
    shop = ctx_shop(info)
    node = _get_node(info, id)
    if node is None or node.kind != kind:
        return _payload(errors=_not_found())
    try:
        values, code = _settings_from_input(shop, root, data, kind, creating=False)
    except InputErrors as exc:
        return _payload(errors=exc.errors)
    if code is not None and _code_taken(shop, code, exclude_discount=node.id):
        return _payload(errors=[_err(root, ["code"], "TAKEN", "Code must be unique. Please try a different code.")])
    with transaction.atomic():
        for key, value in values.items():
            setattr(node, key, value)
        node.updated_at = timezone.now()
        node.save()
        if code is not None:
            first = node.codes.order_by("id").first()
            if first is not None:
                first.code = code
                first.save(update_fields=["code"])
    return _payload(node)


def resolve_delete(obj, info, id):
    require_access(info, "write_discounts")
    node = _get_node(info, id)
    if node is None:
        return {"deletedCodeDiscountId": None, "userErrors": _not_found()}
    node.delete()
    return {"deletedCodeDiscountId": id, "userErrors": []}


def resolve_activate(obj, info, id):
    require_access(info, "write_discounts")
    node = _get_node(info, id)
    if node is None:
        return _payload(errors=_not_found())
    now = timezone.now()
    if node.ends_at is not None and node.ends_at <= now:
        node.ends_at = None
    if node.starts_at > now:
        node.starts_at = now
    node.updated_at = now
    node.save()
    return _payload(node)


def resolve_deactivate(obj, info, id):
    require_access(info, "write_discounts")
    node = _get_node(info, id)
    if node is None:
        return _payload(errors=_not_found())
    now = timezone.now()
    # Shopify deactivates a discount by ending it now, which makes its status EXPIRED.
    node.ends_at = now
    if node.starts_at > now:
        node.starts_at = now
    node.updated_at = now
    node.save()
    return _payload(node)


def _process_bulk_creation(creation_id: int, codes: list[str]) -> None:
    """Create the codes one by one (each may fail on its own), then mark the creation done."""
    close_old_connections()
    try:
        creation = DiscountRedeemCodeBulkCreation.objects.get(pk=creation_id)
        results, imported, failed = [], 0, 0
        seen: set[str] = set()
        for code in codes:
            errors = []
            if not code.strip():
                errors.append({"field": ["code"], "code": "BLANK", "message": "Code can't be blank."})
            elif len(code) > MAX_CODE_LENGTH:
                errors.append({"field": ["code"], "code": "TOO_LONG", "message": "Code is too long."})
            elif code.upper() in seen:
                errors.append({"field": ["code"], "code": "TAKEN", "message": "Code is duplicated in this request."})
            redeem_id = None
            if not errors:
                seen.add(code.upper())
                try:
                    with transaction.atomic():
                        redeem_id = DiscountRedeemCode.objects.create(
                            shop_id=creation.shop_id, discount_id=creation.discount_id, code=code,
                            created_at=timezone.now()).id
                except IntegrityError:
                    errors.append({"field": ["code"], "code": "TAKEN",
                                   "message": "Code must be unique. Please try a different code."})
            if errors:
                failed += 1
            else:
                imported += 1
            results.append({"code": code, "redeem_code_id": redeem_id, "errors": errors})
        creation.results, creation.imported_count, creation.failed_count = results, imported, failed
        creation.done = True
        creation.save()
    except Exception:
        log.exception("discount redeem code bulk creation %s failed", creation_id)
        DiscountRedeemCodeBulkCreation.objects.filter(pk=creation_id).update(done=True)
    finally:
        close_old_connections()


def resolve_bulk_add(obj, info, discountId, codes):
    require_access(info, "write_discounts")
    shop = ctx_shop(info)
    try:
        node = DiscountNode.objects.filter(shop=shop, pk=parse_gid(discountId, "DiscountCodeNode")[1]).first()
    except InvalidGid:
        node = None
    if node is None:
        return {"bulkCreation": None, "userErrors": [
            {"field": ["discountId"], "code": "INVALID", "message": "Code discount does not exist.", "extraInfo": None}]}
    if not codes:
        return {"bulkCreation": None, "userErrors": [
            {"field": ["codes"], "code": "BLANK", "message": "Codes can't be blank.", "extraInfo": None}]}
    if len(codes) > MAX_BULK_CODES:
        return {"bulkCreation": None, "userErrors": [
            {"field": ["codes"], "code": "TOO_MANY_ARGUMENTS", "extraInfo": None,
             "message": f"Cannot add more than {MAX_BULK_CODES} codes in one request."}]}
    values = [c["code"] for c in codes]
    creation = DiscountRedeemCodeBulkCreation.objects.create(
        shop=shop, discount=node, created_at=timezone.now(), codes_count=len(values),
        results=[{"code": c, "redeem_code_id": None, "errors": []} for c in values])
    # Shopify imports codes asynchronously: the caller polls discountRedeemCodeBulkCreation until done.
    transaction.on_commit(lambda: threading.Thread(
        target=_process_bulk_creation, args=(creation.id, values), daemon=True, name=f"codes-{creation.id}").start())
    return {"bulkCreation": creation, "userErrors": []}


def resolve_bulk_creation(obj, info, id):
    require_access(info, "read_discounts")
    return DiscountRedeemCodeBulkCreation.objects.filter(
        shop=ctx_shop(info), pk=id_arg(id, "DiscountRedeemCodeBulkCreation")).first()


def _creation_codes(creation, info, first=None, last=None, after=None, before=None, reverse=False):
    rows = creation.results
    if reverse:
        rows = rows[::-1]
    # The results list is small (<= 250) and fixed once done: an index cursor is enough.
    start = int(after) + 1 if after is not None else 0
    end = int(before) if before is not None else len(rows)
    window = list(enumerate(rows))[start:end]
    size = first if first is not None else last if last is not None else len(window)
    page = window[:size] if first is not None or last is None else window[-size:]
    nodes = [{"code": r["code"], "errors": [dict(e, extraInfo=None) for e in r["errors"]],
              "discountRedeemCode": DiscountRedeemCode.objects.filter(pk=r["redeem_code_id"]).first()
              if r["redeem_code_id"] else None} for _, r in page]
    edges = [{"cursor": str(i), "node": n} for (i, _), n in zip(page, nodes, strict=True)]
    return {"edges": edges, "nodes": nodes, "pageInfo": {
        "hasNextPage": bool(page) and page[-1][0] < len(rows) - 1,
        "hasPreviousPage": bool(page) and page[0][0] > 0,
        "startCursor": edges[0]["cursor"] if edges else None,
        "endCursor": edges[-1]["cursor"] if edges else None}}


BULK_CREATION_FIELDS = {
    "id": lambda c, info: gid("DiscountRedeemCodeBulkCreation", c.id),
    "createdAt": lambda c, info: iso_utc(c.created_at),
    "done": lambda c, info: c.done,
    "codesCount": lambda c, info: c.codes_count,
    "importedCount": lambda c, info: c.imported_count,
    "failedCount": lambda c, info: c.failed_count,
    "discountCode": lambda c, info: c.discount,
    "codes": _creation_codes,
}


def resolve_by_code(obj, info, code):
    require_access(info, "read_discounts")
    redeem = (DiscountRedeemCode.objects.annotate(uc=Upper("code"))
              .filter(shop=ctx_shop(info), uc=code.upper()).select_related("discount").first())
    return redeem.discount if redeem else None


def resolve_code_discount_node(obj, info, id):
    require_access(info, "read_discounts")
    return _get_node(info, id)


def status_of(node: DiscountNode, now=None) -> str:
    now = now or timezone.now()
    if node.ends_at is not None and node.ends_at <= now:
        return "EXPIRED"
    if node.starts_at > now:
        return "SCHEDULED"
    return "ACTIVE"


def _summary(node: DiscountNode, currency: str) -> str:
    if node.kind == "free_shipping":
        text = "Free shipping on all products"
    elif node.value_type == "percentage":
        text = f"{(node.value * 100).normalize():f}% off entire order"
    else:
        text = f"{decimal_str(node.value)} {currency} off entire order"
    if node.minimum_subtotal is not None:
        text += f" • Minimum purchase of {decimal_str(node.minimum_subtotal)} {currency}"
    if node.applies_once_per_customer:
        text += " • One use per customer"
    return text


def code_discount_view(node: DiscountNode, info) -> dict:
    currency = ctx_shop(info).currency_code
    if node.context_all:
        context = {"__typename": "DiscountBuyerSelectionAll", "all": "ALL"}
        selection = {"__typename": "DiscountCustomerAll", "allCustomers": True}
    else:
        customers = list(Customer.objects.filter(shop_id=node.shop_id, pk__in=node.context_customer_ids))
        context = {"__typename": "DiscountCustomers", "customers": customers}
        selection = context
    minimum = None
    if node.minimum_subtotal is not None:
        minimum = {"__typename": "DiscountMinimumSubtotal",
                   "greaterThanOrEqualToSubtotal": money_v2(node.minimum_subtotal, currency)}
    elif node.minimum_quantity is not None:
        minimum = {"__typename": "DiscountMinimumQuantity", "greaterThanOrEqualToQuantity": str(node.minimum_quantity)}
    usage = DiscountRedeemCode.objects.filter(discount_id=node.id).aggregate(u=Sum("usage_count"))["u"] or 0
    view = {
        "__typename": "DiscountCodeBasic" if node.kind == "basic" else "DiscountCodeFreeShipping",
        "_node": node,
        "title": node.title,
        "status": status_of(node),
        "startsAt": iso_utc(node.starts_at),
        "endsAt": iso_utc(node.ends_at),
        "createdAt": iso_utc(node.created_at),
        "updatedAt": iso_utc(node.updated_at),
        "usageLimit": node.usage_limit,
        "appliesOncePerCustomer": node.applies_once_per_customer,
        "asyncUsageCount": usage,
        "codesCount": {"count": DiscountRedeemCode.objects.filter(discount_id=node.id).count(), "precision": "EXACT"},
        "combinesWith": {"orderDiscounts": node.combines_with_order, "productDiscounts": node.combines_with_product,
                         "shippingDiscounts": node.combines_with_shipping,
                         "productDiscountsWithTagsOnSameCartLine": None},
        "context": context,
        "customerSelection": selection,
        "minimumRequirement": minimum,
        "summary": _summary(node, currency),
        "shortSummary": _summary(node, currency).split(" • ")[0],
        "discountClasses": ["ORDER"] if node.kind == "basic" else ["SHIPPING"],
        "discountClass": "ORDER" if node.kind == "basic" else "SHIPPING",
        "tags": node.tags,
        "recurringCycleLimit": 0,
        "hasTimelineComment": False,
        "totalSales": None,
        "shareableUrls": [],
        "appliesOnOneTimePurchase": True,
        "appliesOnSubscription": False,
    }
    if node.kind == "basic":
        if node.value_type == "percentage":
            value = {"__typename": "DiscountPercentage", "percentage": float(node.value)}
        else:
            value = {"__typename": "DiscountAmount", "amount": money_v2(node.value, currency),
                     "appliesOnEachItem": node.applies_on_each_item}
        view["customerGets"] = {"value": value, "items": {"__typename": "AllDiscountItems", "allItems": True},
                                "appliesOnOneTimePurchase": True, "appliesOnSubscription": False}
    else:
        view["maximumShippingPrice"] = (money_v2(node.maximum_shipping_price, currency)
                                        if node.maximum_shipping_price is not None else None)
        view["destinationSelection"] = (
            {"__typename": "DiscountCountryAll", "allCountries": True} if node.destination_all and
            not node.destination_countries else
            {"__typename": "DiscountCountries", "countries": node.destination_countries,
             "includeRestOfWorld": node.destination_all})
    return view


def _view_codes(view, info, first=None, last=None, after=None, before=None, reverse=False, query=None,
                sortKey=None, savedSearchId=None):
    qs = DiscountRedeemCode.objects.filter(discount_id=view["_node"].id)
    if query:
        qs = qs.filter(code__icontains=query.split(":", 1)[-1].strip("'\""))
    return paginate(qs, sort_field="id", is_datetime=False, first=first, last=last, after=after, before=before,
                    reverse=reverse, connection_name="codes")


REDEEM_CODE_FIELDS = {
    "id": lambda r, info: gid("DiscountRedeemCode", r.id),
    "code": lambda r, info: r.code,
    "asyncUsageCount": lambda r, info: r.usage_count,
    "createdBy": lambda r, info: None,
}

register("Mutation", "discountCodeBasicCreate",
         lambda obj, info, basicCodeDiscount: _create(info, "basic", "basicCodeDiscount", basicCodeDiscount))
register("Mutation", "discountCodeFreeShippingCreate",
         lambda obj, info, freeShippingCodeDiscount: _create(info, "free_shipping", "freeShippingCodeDiscount",
                                                              freeShippingCodeDiscount))
register("Mutation", "discountCodeBasicUpdate", resolve_basic_update)
register("Mutation", "discountCodeFreeShippingUpdate", resolve_free_shipping_update)
register("Mutation", "discountCodeDelete", resolve_delete)
register("Mutation", "discountCodeActivate", resolve_activate)
register("Mutation", "discountCodeDeactivate", resolve_deactivate)
register("Mutation", "discountRedeemCodeBulkAdd", resolve_bulk_add)
register("QueryRoot", "discountRedeemCodeBulkCreation", resolve_bulk_creation)
register("QueryRoot", "codeDiscountNodeByCode", resolve_by_code)
register("QueryRoot", "codeDiscountNode", resolve_code_discount_node)
register("DiscountCodeNode", "id", lambda n, info: gid("DiscountCodeNode", n.id))
register("DiscountCodeNode", "codeDiscount", lambda n, info: code_discount_view(n, info))
register("DiscountCodeBasic", "codes", _view_codes)
register("DiscountCodeFreeShipping", "codes", _view_codes)
for _name, _fn in BULK_CREATION_FIELDS.items():
    register("DiscountRedeemCodeBulkCreation", _name, _fn)
for _name, _fn in REDEEM_CODE_FIELDS.items():
    register("DiscountRedeemCode", _name, _fn)

__all__ = ["GraphQLError", "status_of"]
