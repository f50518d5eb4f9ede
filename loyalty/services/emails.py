"""Members' loyalty e-mails: points earned, reward code ready, tier reached, points about to expire.

Once per event: `member_email_queue` inserts a MemberEmail row whose (shop, customer, kind, event_key) is
unique, and only a newly inserted row is enqueued; the send task moves QUEUED -> SENDING with one
conditional UPDATE before it talks to the mail server, so two workers never both send a row. A worker
that dies between the SMTP hand-over and marking the row SENT leaves it SENDING: it is not retried
(a lost e-mail is better than a duplicate).

Consent: the member asked for these by joining the programme (service messages), but anybody who
unsubscribed through one of our links (campaigns' Unsubscribe, per shop and address) gets none, checked
when the row is made and again just before sending. Every message carries the same signed one-click
unsubscribe link as campaign e-mails.

Where the merchant switched on the matching marketing campaign (campaigns' VIP tier or points-expiring
e-mail), the event is handed to it instead (status CAMPAIGN) so the member gets one e-mail, the
merchant's version.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from urllib.parse import quote

from django.apps import apps
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from shops.models import Shop
from shops.shopify_urls import shop_url

from ..models import MemberEmail, PointsAccount, PointsEntry, Programme, Redemption
from .maintenance import accounts_due_expiry_reminder

log = logging.getLogger(__name__)
Kind, Status = MemberEmail.Kind, MemberEmail.Status
MAX_SEND_ATTEMPTS = 5
LANGUAGES = {code for code, _name in settings.LANGUAGES}


class TransientSendError(Exception):
    """The mail server did not take the message; the task retries with backoff."""


def _language(shop: Shop, preferred: str | None = None) -> str:
    for candidate in (preferred, (shop.primary_locale or "").split("-")[0]):
        if candidate and candidate.split("-")[0] in LANGUAGES:
            return candidate.split("-")[0]
    return settings.LANGUAGE_CODE


def _unsubscribed(shop: Shop, email: str) -> bool:
    if not apps.is_installed("campaigns"):
        return False
    from campaigns.services.consent import is_unsubscribed

    return is_unsubscribed(shop=shop, email=email)


def _campaign_takes_over(shop: Shop, kind: str) -> bool:
    if not apps.is_installed("campaigns") or kind not in (Kind.TIER_REACHED, Kind.POINTS_EXPIRING):
        return False
    from campaigns.models import Campaign

    campaign_kind = Campaign.Kind.VIP_TIER if kind == Kind.TIER_REACHED else Campaign.Kind.POINTS_EXPIRING
    return Campaign.objects.filter(shop=shop, kind=campaign_kind, enabled=True).exists()


def _hand_to_campaign(shop: Shop, kind: str, customer_shopify_id: int, context: dict[str, Any]) -> None:
    from campaigns.services import runs

    if kind == Kind.TIER_REACHED:
        runs.campaign_vip_tier_reached(shop=shop, customer_shopify_id=customer_shopify_id,
                                       tier_key=str(context["tier_id"]), tier_name=context["tier_name"])
    else:
        runs.campaign_points_expiring(shop=shop, customer_shopify_id=customer_shopify_id, points=context["points"],
                                      expires_on=dt.date.fromisoformat(context["expires_on"]))


def member_email_queue(
    *, shop: Shop, customer_shopify_id: int, kind: str, event_key: str, context: dict[str, Any],
    language: str | None = None,
) -> MemberEmail | None:
    """Record one e-mail for one event and enqueue its sending after commit. Returns None when this
    event was recorded before (nothing is sent twice)."""
    from commerce.models import Customer

    customer = Customer.objects.filter(shop=shop, shopify_id=customer_shopify_id, deleted_at__isnull=True).first()
    address = (customer.email if customer else "").strip()
    context = {**context, "first_name": customer.first_name if customer else ""}
    if not address or _unsubscribed(shop, address):
        status = Status.SUPPRESSED
    elif _campaign_takes_over(shop, kind):
        status = Status.CAMPAIGN
    else:
        status = Status.QUEUED
    try:
        with transaction.atomic():
            row = MemberEmail.objects.create(
                shop=shop, customer_shopify_id=customer_shopify_id, kind=kind, event_key=event_key[:120],
                email=address, language=_language(shop, language), context=context, status=status,
                created_at=timezone.now(),
            )
            if status == Status.CAMPAIGN:
                _hand_to_campaign(shop, kind, customer_shopify_id, context)
    except IntegrityError:
        return None  # this event was handled before
    if status == Status.QUEUED:
        from ..tasks import send_member_email

        shop_id, row_id = shop.pk, row.pk
        transaction.on_commit(lambda: send_member_email.apply_async((shop_id, row_id), queue="mail"))
    return row


# --- the events ------------------------------------------------------------------------------------


def member_emails_for_entries(*, shop: Shop, customer_shopify_id: int, entries: list[PointsEntry],
                              tier_before: int | None) -> list[MemberEmail]:
    """After points moved for a customer (an order, a bonus): "points earned" per credit, and "tier
    reached" when the member moved to a higher tier than `tier_before` (the tier id before the change)."""
    queued = []
    for entry in entries:
        if entry.kind in (PointsEntry.Kind.EARN_ORDER, PointsEntry.Kind.BONUS) and entry.delta > 0:
            row = member_email_queue(
                shop=shop, customer_shopify_id=customer_shopify_id, kind=Kind.POINTS_EARNED,
                event_key=entry.idempotency_key,
                context={"points": entry.delta, "pending": entry.bucket == PointsEntry.Bucket.PENDING,
                         "available_on": entry.available_at.date().isoformat(), "balance": entry.balance_after,
                         "reason_kind": entry.kind, "bonus": entry.source_id.split(":", 1)[0]
                         if entry.kind == PointsEntry.Kind.BONUS else ""},
            )
            if row is not None:
                queued.append(row)
    account = PointsAccount.objects.select_related("tier").filter(
        shop=shop, customer_shopify_id=customer_shopify_id).first()
    if account is not None and account.tier_id and account.tier_id != tier_before:
        from ..models import Tier

        before = Tier.objects.filter(shop=shop, pk=tier_before).first() if tier_before else None
        if before is None or account.tier.threshold > before.threshold:
            achieved = account.tier_achieved_at or timezone.now()
            row = member_email_queue(
                shop=shop, customer_shopify_id=customer_shopify_id, kind=Kind.TIER_REACHED,
                event_key=f"tier:{account.tier_id}:{achieved.strftime('%Y%m%d%H%M%S')}",
                context={"tier_id": account.tier_id, "tier_name": account.tier.name,
                         "multiplier": str(account.tier.multiplier)},
            )
            if row is not None:
                queued.append(row)
    return queued


def member_email_reward_ready(*, shop: Shop, redemption: Redemption, language: str | None = None) -> MemberEmail | None:
    """The code of a redeemed reward, by e-mail too (the customer may close the page before using it)."""
    if not redemption.code:
        return None
    from ..selectors import reward_description

    reward = redemption.reward
    with translation.override(_language(shop, language or translation.get_language())):
        description = reward_description(reward, amount=redemption.value_amount,
                                         percentage=redemption.value_percentage, currency=redemption.currency,
                                         cart_subtotal=redemption.cart_subtotal)
    return member_email_queue(
        shop=shop, customer_shopify_id=redemption.account.customer_shopify_id, kind=Kind.REWARD_READY,
        event_key=f"redemption:{redemption.pk}", language=language or translation.get_language(),
        context={"code": redemption.code, "reward_name": reward.name, "description": description,
                 "expires_on": redemption.expires_at.date().isoformat() if redemption.expires_at else ""},
    )


def member_emails_expiry_reminders(*, shop: Shop, now: dt.datetime | None = None) -> int:
    """Remind members whose points expire within the programme's lead time; once per inactivity period
    (the key names the last activity, and `expiry_reminded_at` keeps them out of the next scan)."""
    now = now or timezone.now()
    programme = Programme.objects.filter(shop=shop).first()
    if programme is None or programme.expiry_inactivity_days is None:
        return 0
    reminded = 0
    for account in accounts_due_expiry_reminder(shop=shop, now=now):
        expires_at = account.last_activity_at + dt.timedelta(days=programme.expiry_inactivity_days)
        with transaction.atomic():
            # Only this task writes expiry_reminded_at; activity clears it (ledger.entry_post). The
            # conditional update skips an account that became active since the scan.
            marked = PointsAccount.objects.filter(
                shop=shop, pk=account.pk, expiry_reminded_at__isnull=True, last_activity_at=account.last_activity_at,
            ).update(expiry_reminded_at=now)
            if not marked:
                continue
            member_email_queue(
                shop=shop, customer_shopify_id=account.customer_shopify_id, kind=Kind.POINTS_EXPIRING,
                event_key=f"expiry:{account.last_activity_at.timestamp():.6f}",
                context={"points": account.balance, "expires_on": expires_at.date().isoformat()},
            )
            reminded += 1
    return reminded


# --- sending ---------------------------------------------------------------------------------------


def _render(shop: Shop, row: MemberEmail) -> tuple[str, str, str, dict[str, str]]:
    from campaigns import signing

    unsubscribe = settings.SHOPIFY_APP_URL.rstrip("/") + reverse(
        "campaigns_public:unsubscribe",
        args=[signing.unsubscribe_token(shop_id=shop.pk, email=row.email, customer_shopify_id=row.customer_shopify_id)])
    ctx = dict(row.context)
    with translation.override(row.language):
        for field in ("expires_on", "available_on"):
            if ctx.get(field):
                ctx[f"{field}_text"] = date_format(dt.date.fromisoformat(ctx[field]), "DATE_FORMAT")
        code = ctx.get("code", "")
        context = {
            "kind": row.kind, "shop_name": shop.name or shop.domain, "shop_url": shop_url(shop.domain, "/"),
            "apply_url": shop_url(shop.domain, f"/discount/{quote(code)}") if code else "",
            "unsubscribe_url": unsubscribe, "language": row.language, **ctx,
        }
        subject = " ".join(render_to_string("loyalty/email/subject.txt", context).split())
        text = render_to_string("loyalty/email/member.txt", context)
        html = render_to_string("loyalty/email/member.html", context)
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1]
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        # Stable per event: a receiver can tell a (never intended) second hand-over of the same message.
        "Message-ID": f"<loyalty.{shop.pk}.{row.pk}@{domain}>",
    }
    return subject, text, html, headers


def member_email_send(*, shop: Shop, email_id: int) -> str:
    """Send one queued e-mail. Returns the row's final status; raises TransientSendError to be retried."""
    claimed = MemberEmail.objects.filter(shop=shop, pk=email_id, status=Status.QUEUED).update(status=Status.SENDING)
    if not claimed:
        return MemberEmail.objects.filter(shop=shop, pk=email_id).values_list("status", flat=True).first() or ""
    row = MemberEmail.objects.get(shop=shop, pk=email_id)
    if _unsubscribed(shop, row.email):
        MemberEmail.objects.filter(pk=row.pk).update(status=Status.SUPPRESSED, error="unsubscribed")
        return Status.SUPPRESSED
    subject, text, html, headers = _render(shop, row)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=f"{shop.name or shop.domain} <{settings.DEFAULT_FROM_EMAIL}>",
        to=[row.email], reply_to=[shop.email] if shop.email else None, headers=headers,
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception as exc:  # SMTP refused or unreachable: hand the row back for a retry
        attempts = row.attempts + 1
        final = attempts >= MAX_SEND_ATTEMPTS
        MemberEmail.objects.filter(pk=row.pk).update(
            status=Status.FAILED if final else Status.QUEUED, attempts=attempts, error=repr(exc)[:2000])
        if final:
            log.error("loyalty e-mail %s of %s failed for good: %r", row.pk, shop.domain, exc)
            return Status.FAILED
        raise TransientSendError(repr(exc)) from exc
    MemberEmail.objects.filter(pk=row.pk).update(status=Status.SENT, sent_at=timezone.now(), attempts=row.attempts + 1)
    return Status.SENT
