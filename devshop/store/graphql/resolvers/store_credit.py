"""Store credit: Mutation.storeCreditAccountCredit, Customer.storeCreditAccounts and the StoreCreditAccount /
StoreCreditAccountCreditTransaction types (also reachable by node(id)).

As on Shopify:
- `id` is a customer's GID (the account of `creditAmount.currencyCode` is created on first credit) or a
  StoreCreditAccount's GID (the currency must then be the account's: MISMATCHING_CURRENCY);
- the currency must be the shop's currency or one of its enabled presentment currencies (UNSUPPORTED_CURRENCY);
- the amount must be positive (NEGATIVE_OR_ZERO_AMOUNT); `expiresAt` must be in the future (EXPIRES_AT_IN_PAST);
- scopes: `write_store_credit_account_transactions` to credit, `read_store_credit_accounts` to read accounts;
- the mutation is NOT idempotent (its description does not document `@idempotent` support): every accepted
  call adds a new credit transaction, so a client that retries after a lost answer credits twice.
Not modelled: company locations as owners, debits, expiry of credit at `expiresAt`, CREDIT_LIMIT_EXCEEDED,
the `notify` email (recorded only), and spending credit at devshop's checkout (see storefront.py).
"""
import datetime as dt
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone
from graphql import GraphQLError

from ...formats import InvalidGid, gid, iso_utc, money_v2, parse_gid
from ...models import Customer, StoreCreditAccount, StoreCreditTransaction
from ..registry import register
from ..search import SearchError, SearchField, parse_search
from .common import MODEL_TYPE_NAMES, ctx_installation, ctx_shop, paginate, require_access

READ_SCOPE = "read_store_credit_accounts"
WRITE_SCOPE = "write_store_credit_account_transactions"
# The money columns hold 20 digits with 3 decimals.
MAX_BALANCE = Decimal("99999999999999999")

MODEL_TYPE_NAMES.setdefault("StoreCreditAccount", "StoreCreditAccount")
MODEL_TYPE_NAMES.setdefault("StoreCreditTransaction", "StoreCreditAccountCreditTransaction")


def supported_currencies(shop) -> set[str]:
    return {shop.currency_code, *(c for c in (shop.enabled_presentment_currencies or []) if c)}


def _err(field: list[str], code: str, message: str) -> dict:
    return {"field": field, "code": code, "message": message}


def _payload(txn=None, errors=None) -> dict:
    return {"storeCreditAccountTransaction": txn, "userErrors": errors or []}


def _parse_time(value):
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphQLError(f"Invalid DateTime '{value}'", extensions={"code": "BAD_REQUEST"}) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def resolve_credit(obj, info, id, creditInput):
    require_access(info, WRITE_SCOPE)
    shop = ctx_shop(info)
    try:
        type_name, pk = parse_gid(id)
    except InvalidGid as exc:
        raise GraphQLError(str(exc), extensions={"code": "INVALID_ID"}) from exc
    money = creditInput.get("creditAmount") or {}
    try:
        amount = Decimal(str(money.get("amount")))
    except InvalidOperation as exc:
        raise GraphQLError(f"Invalid Decimal '{money.get('amount')}'", extensions={"code": "BAD_REQUEST"}) from exc
    currency = money.get("currencyCode")
    expires_at = _parse_time(creditInput.get("expiresAt"))
    now = timezone.now()

    customer = account = None
    if type_name == "Customer":
        customer = Customer.objects.filter(shop=shop, pk=pk).first()
        if customer is None:
            return _payload(errors=[_err(["id"], "OWNER_NOT_FOUND", "Owner does not exist.")])
    elif type_name == "StoreCreditAccount":
        account = StoreCreditAccount.objects.filter(shop=shop, pk=pk).first()
        if account is None:
            return _payload(errors=[_err(["id"], "ACCOUNT_NOT_FOUND", "Store credit account does not exist.")])
    else:
        # CompanyLocation owners are not modelled in devshop; anything else is no owner either.
        return _payload(errors=[_err(["id"], "OWNER_NOT_FOUND", "Owner does not exist.")])

    amount_field = ["creditInput", "creditAmount", "amount"]
    currency_field = ["creditInput", "creditAmount", "currencyCode"]
    if not amount.is_finite() or amount <= 0:
        return _payload(errors=[_err(amount_field, "NEGATIVE_OR_ZERO_AMOUNT",
                                     "A positive amount must be used to credit a store credit account.")])
    if account is not None and currency != account.currency:
        return _payload(errors=[_err(currency_field, "MISMATCHING_CURRENCY",
                                     "The currency provided does not match the currency of the store credit account.")])
    if currency not in supported_currencies(shop):
        return _payload(errors=[_err(currency_field, "UNSUPPORTED_CURRENCY",
                                     "The currency provided is not currently supported.")])
    if expires_at is not None and expires_at <= now:
        return _payload(errors=[_err(["creditInput", "expiresAt"], "EXPIRES_AT_IN_PAST",
                                     "The expiry date must be in the future.")])
    amount = amount.quantize(Decimal("0.001"))
    app = getattr(ctx_installation(info), "app", None)

    with transaction.atomic():
        if account is None:
            account = StoreCreditAccount.objects.select_for_update().filter(
                shop=shop, customer=customer, currency=currency).first()
            if account is None:
                try:
                    with transaction.atomic():
                        account = StoreCreditAccount.objects.create(
                            shop=shop, customer=customer, currency=currency, balance=0, created_at=now, updated_at=now)
                except IntegrityError:  # a concurrent first credit created it
                    account = None
                account = StoreCreditAccount.objects.select_for_update().get(
                    shop=shop, customer=customer, currency=currency) if account is None else account
        else:
            account = StoreCreditAccount.objects.select_for_update().get(pk=account.pk)
        if account.balance + amount > MAX_BALANCE:
            return _payload(errors=[_err(amount_field, "CREDIT_LIMIT_EXCEEDED",
                                         "The operation would cause the account's credit limit to be exceeded.")])
        account.balance += amount
        account.updated_at = now
        account.save(update_fields=["balance", "updated_at"])
        txn = StoreCreditTransaction.objects.create(
            shop=shop, account=account, kind="credit", amount=amount, balance_after=account.balance,
            remaining_amount=amount, expires_at=expires_at, notify=bool(creditInput.get("notify")),
            created_by_app=getattr(app, "client_id", None), created_at=now,
        )
    return _payload(txn)


ACCOUNT_SEARCH_FIELDS = {
    "id": SearchField("id", "id", gid_type="StoreCreditAccount"),
    "currency_code": SearchField("currency", "istr"),
}


def resolve_customer_accounts(customer, info, first=None, last=None, after=None, before=None, query=None):
    require_access(info, READ_SCOPE)
    shop = ctx_shop(info)
    try:
        search = parse_search(query, ACCOUNT_SEARCH_FIELDS, [], shop.iana_timezone)
    except SearchError as exc:
        raise GraphQLError(f"Invalid search query: {exc}", extensions={"code": "BAD_REQUEST"}) from exc
    qs = StoreCreditAccount.objects.filter(shop=shop, customer_id=customer.id).filter(search.q)
    return paginate(qs, sort_field="id", is_datetime=False, first=first, last=last, after=after, before=before,
                    connection_name="storeCreditAccounts")


def resolve_account_transactions(account, info, first=None, last=None, after=None, before=None, reverse=False,
                                 query=None, sortKey=None):
    if sortKey not in (None, "ID", "CREATED_AT"):
        raise GraphQLError(f"devshop supports sortKey ID or CREATED_AT here, not {sortKey}",
                           extensions={"code": "DEVSHOP_NOT_IMPLEMENTED"})
    if query:
        raise GraphQLError("devshop does not support a query on StoreCreditAccount.transactions",
                           extensions={"code": "DEVSHOP_NOT_IMPLEMENTED"})
    # Ids grow with creation time, so ID order is CREATED_AT order.
    return paginate(account.transactions.all(), sort_field="id", is_datetime=False, first=first, last=last,
                    after=after, before=before, reverse=reverse, connection_name="transactions")


ACCOUNT_FIELDS = {
    "id": lambda a, info: gid("StoreCreditAccount", a.id),
    "balance": lambda a, info: money_v2(a.balance, a.currency),
    "owner": lambda a, info: a.customer,
    "transactions": resolve_account_transactions,
}
TRANSACTION_FIELDS = {
    "id": lambda t, info: gid("StoreCreditAccountCreditTransaction", t.id),
    "account": lambda t, info: t.account,
    "amount": lambda t, info: money_v2(t.amount, t.account.currency),
    "balanceAfterTransaction": lambda t, info: money_v2(t.balance_after, t.account.currency),
    "remainingAmount": lambda t, info: money_v2(t.remaining_amount, t.account.currency),
    "createdAt": lambda t, info: iso_utc(t.created_at),
    "expiresAt": lambda t, info: iso_utc(t.expires_at),
    "event": lambda t, info: "ADJUSTMENT",  # credits made through the API
    "origin": lambda t, info: None,
}

register("Mutation", "storeCreditAccountCredit", resolve_credit)
register("Customer", "storeCreditAccounts", resolve_customer_accounts)
for _name, _fn in ACCOUNT_FIELDS.items():
    register("StoreCreditAccount", _name, _fn)
for _name, _fn in TRANSACTION_FIELDS.items():
    register("StoreCreditAccountCreditTransaction", _name, _fn)
