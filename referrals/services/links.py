"""The referral link's side: counting clicks and handing the friend their first-order code.

The friend's code ("new customers only") — what Shopify can and cannot enforce, checked against the
2026-10 schema (DiscountCodeBasicInput, DiscountContextInput):
- Shopify has no "first order only" flag on code discounts. `usageLimit: 1` makes the code work once in
  total, `appliesOncePerCustomer: true` once per buyer, and `context.customers` can pin it to one
  customer — which we do when the friend is logged in; an anonymous friend has no customer id yet, so
  their code's context is `all` (the code itself is unique and single use, so that is safe).
- Customer segments in `context` (e.g. `number_of_orders = 0`) are evaluated for identified buyers only
  and lag behind orders, so they do not make it first-order-only either.
- So "new customers only" is enforced by us, twice: before the code is made (the e-mail or logged-in
  customer already bought here → refused; the referrer's own address → refused) and when the order
  arrives (services.fraud: the friend had earlier orders, or is the referrer → the referral is flagged
  and no reward is paid until the merchant approves).
"""
from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.money import Money
from discounts import services as discounts
from discounts.codes import code_generate
from discounts.models import DiscountCode
from shops.models import Shop

from ..identity import email_normalize
from ..models import Referral, ReferralClick, ReferralCode, ReferralEvent, ReferralProgramme
from .errors import ReferralError, ReferralRefused
from .programme import programme_get

log = logging.getLogger(__name__)

# A claim on issuing a friend's code older than this is considered abandoned (a crashed request).
ISSUING_STALE = dt.timedelta(minutes=2)


def shop_language(shop: Shop) -> str:
    from django.conf import settings

    candidate = (shop.primary_locale or "").split("-")[0].lower()
    return candidate if candidate in {code for code, _n in settings.LANGUAGES} else settings.LANGUAGE_CODE


def referral_code_active(shop: Shop, code: str) -> ReferralCode | None:
    return ReferralCode.objects.filter(shop=shop, code=code, active=True).first() if code else None


def click_record(*, shop: Shop, referral_code: ReferralCode, visitor: str, now: dt.datetime | None = None) -> bool:
    """Count a visit of the link once per visitor and day (a reload is not a new click). True when new."""
    now = now or timezone.now()
    created = ReferralClick.objects.bulk_create(
        [ReferralClick(shop=shop, referral_code=referral_code, visitor=visitor[:64], day=now.date(), created_at=now)],
        ignore_conflicts=True,
    )
    return bool(created and created[0].pk)


def _is_existing_customer(shop: Shop, *, email: str, customer_shopify_id: int | None) -> bool:
    from commerce.models import Customer, CustomerSummary

    ids = set(Customer.objects.filter(shop=shop, email=email.strip().lower(), deleted_at__isnull=True)
              .values_list("shopify_id", flat=True))
    if customer_shopify_id:
        ids.add(customer_shopify_id)
    return bool(ids) and CustomerSummary.objects.filter(shop=shop, customer_shopify_id__in=ids, orders_count__gt=0).exists()


def _referrer_emails(shop: Shop, referrer_id: int) -> set[str]:
    from commerce.models import Customer

    email = Customer.objects.filter(shop=shop, shopify_id=referrer_id).values_list("email", flat=True).first()
    return {email_normalize(email)} - {""}


def _friend_spec(shop: Shop, programme: ReferralProgramme, referral: Referral, now: dt.datetime) -> discounts.CodeSpec:
    kind = programme.friend_reward_kind
    Kind = ReferralProgramme.FriendRewardKind
    with translation.override(shop_language(shop)):
        title = _("Referral: welcome offer for a friend")
    return discounts.CodeSpec(
        title=str(title), prefix="FRIEND", purpose=DiscountCode.Purpose.REFERRAL,
        source=f"referral:{referral.pk}:friend", customer_shopify_id=referral.friend_customer_shopify_id,
        amount=Money(programme.friend_reward_value, shop.currency) if kind == Kind.FIXED_AMOUNT else None,
        percentage=programme.friend_reward_value if kind == Kind.PERCENTAGE else None,
        free_shipping=kind == Kind.FREE_SHIPPING,
        minimum_subtotal=programme.friend_minimum_subtotal,
        starts_at=now, ends_at=now + dt.timedelta(days=programme.friend_code_valid_days),
        # Never stacked with another order discount (a welcome offer on top of a sale code is how
        # referral codes leak to coupon sites); product and shipping combinations are the merchant's call.
        combines_with_order_discounts=False,
        combines_with_product_discounts=programme.friend_combines_with_product_discounts,
        combines_with_shipping_discounts=programme.friend_combines_with_shipping_discounts,
        code=referral.friend_code,
    )


def _claim(
    *, shop: Shop, programme: ReferralProgramme, referral_code: ReferralCode, normalized: str, email: str,
    customer_shopify_id: int | None, first_name: str, language: str, visitor: str, now: dt.datetime,
) -> tuple[Referral, bool, bool]:
    """The friend's Referral, locked and claimed for issuing: (referral, must_issue, look_up_first)."""
    with transaction.atomic():
        Referral.objects.bulk_create([Referral(
            shop=shop, referral_code=referral_code, referrer_customer_shopify_id=referral_code.customer_shopify_id,
            friend_email=email[:255], friend_email_normalized=normalized, friend_first_name=first_name[:255],
            friend_language=language, friend_visitor=visitor[:64], created_at=now, updated_at=now,
        )], ignore_conflicts=True)
        referral = Referral.objects.select_for_update().get(shop=shop, friend_email_normalized=normalized)
        if referral.friend_code_state == Referral.CodeState.ISSUED:
            return referral, False, False
        if referral.friend_code_state == Referral.CodeState.ISSUING and referral.updated_at > now - ISSUING_STALE:
            raise ReferralError(_("Your code is being prepared. Please reload the page in a moment."), code="busy")
        if referral.status != Referral.Status.CLICKED:
            return referral, False, False  # the friend already ordered (e.g. through the link alone)
        # An abandoned claim or an unanswered call may have made the code in Shopify already.
        look_up_first = referral.friend_code_state == Referral.CodeState.ISSUING or bool(referral.friend_code_error)
        if customer_shopify_id and referral.friend_customer_shopify_id is None and not (
            Referral.objects.filter(shop=shop, friend_customer_shopify_id=customer_shopify_id).exists()
        ):
            referral.friend_customer_shopify_id = customer_shopify_id
        referral.friend_code = referral.friend_code or code_generate("FRIEND")
        referral.friend_code_state = Referral.CodeState.ISSUING
        referral.updated_at = now
        referral.save(update_fields=["friend_customer_shopify_id", "friend_code", "friend_code_state", "updated_at"])
        return referral, True, look_up_first


def _settle(*, shop: Shop, referral: Referral, discount: DiscountCode | None, error: str, now: dt.datetime) -> Referral:
    with transaction.atomic():
        referral = Referral.objects.select_for_update().get(shop=shop, pk=referral.pk)
        if discount is not None:
            referral.friend_code, referral.friend_discount = discount.code, discount
            referral.friend_code_state, referral.friend_code_error = Referral.CodeState.ISSUED, ""
            ReferralEvent.objects.create(shop=shop, referral=referral, kind=ReferralEvent.Kind.CODE_ISSUED, created_at=now)
            referral_id = referral.pk
            from ..tasks import friend_email_send_task

            transaction.on_commit(lambda: friend_email_send_task.apply_async((shop.pk, referral_id), queue="mail"))
        else:
            referral.friend_code_state, referral.friend_code_error = Referral.CodeState.NONE, error[:2000]
        referral.updated_at = now
        referral.save(update_fields=["friend_code", "friend_discount", "friend_code_state", "friend_code_error", "updated_at"])
    return referral


def friend_code_issue(
    *, shop: Shop, code: str, email: str, customer_shopify_id: int | None = None, first_name: str = "",
    language: str = "", visitor: str = "", now: dt.datetime | None = None,
) -> Referral:
    """Give the friend who followed `code`'s link (or typed it) their unique first-order discount code.

    One Referral per friend (unique normalized e-mail): asking again returns the same code, and a friend
    already referred by someone else keeps their first referrer. The code is made in Shopify outside any
    transaction; a claim (`friend_code_state` ISSUING) makes sure two clicks make one code.

    Raises ReferralRefused (programme off, unknown link, own link, existing customer, invalid e-mail,
    the link's daily limit) and ReferralError (Shopify could not make the code; nothing to undo).
    """
    now = now or timezone.now()
    programme = programme_get(shop)
    if not programme.enabled:
        raise ReferralRefused(_("The referral programme is not active."), code="programme_off")
    referral_code = referral_code_active(shop, code)
    if referral_code is None:
        raise ReferralRefused(_("This referral link is not valid."), code="unknown_code")
    referrer_id = referral_code.customer_shopify_id
    normalized = email_normalize(email)
    if not normalized:
        raise ReferralRefused(_("Please enter a valid e-mail address."), code="invalid_email")
    if customer_shopify_id == referrer_id or normalized in _referrer_emails(shop, referrer_id):
        raise ReferralRefused(_("This is your own referral link: share it with your friends instead."), code="own_link")
    existing = Referral.objects.filter(shop=shop, friend_email_normalized=normalized).first()
    if existing is None:
        if _is_existing_customer(shop, email=email, customer_shopify_id=customer_shopify_id):
            raise ReferralRefused(_("This offer is for new customers only."), code="existing_customer")
        issued_today = Referral.objects.filter(shop=shop, referral_code=referral_code,
                                               created_at__gte=now - dt.timedelta(days=1)).count()
        if issued_today >= programme.friend_codes_per_day:
            raise ReferralRefused(_("This referral link has been used a lot today. Please try again tomorrow."),
                                  code="daily_limit")
    referral, must_issue, look_up_first = _claim(
        shop=shop, programme=programme, referral_code=referral_code, normalized=normalized, email=email.strip(),
        customer_shopify_id=customer_shopify_id, first_name=first_name, language=language or shop_language(shop),
        visitor=visitor, now=now,
    )
    if not must_issue:
        return referral
    spec = _friend_spec(shop, programme, referral, now)
    try:
        # A previous attempt that lost Shopify's answer may have made the code: look before making it.
        gid = discounts.discount_code_lookup(shop=shop, code=referral.friend_code) if look_up_first else None
        discount = (discounts.discount_code_record_existing(shop=shop, spec=spec, code=referral.friend_code, gid=gid)
                    if gid else discounts.discount_code_create(shop=shop, spec=spec))
    except discounts.DiscountServiceUnavailable as exc:
        _settle(shop=shop, referral=referral, discount=None, error=f"unavailable: {exc.detail}", now=now)
        raise ReferralError(_("We could not reach the shop to create your code. Please try again in a moment."),
                            code="unavailable") from exc
    except discounts.DiscountCodeRefused as exc:
        _settle(shop=shop, referral=referral, discount=None, error=f"refused: {exc.detail}", now=now)
        log.warning("friend code refused in %s: %s", shop.domain, exc.detail)
        raise ReferralError(_("The shop could not create your code right now. Please try again later."),
                            code="refused") from exc
    return _settle(shop=shop, referral=referral, discount=discount, error="", now=now)
