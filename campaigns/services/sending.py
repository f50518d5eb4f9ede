"""Sending campaign e-mails through Django's e-mail backend, at most once per recipient row.

1. Claim: one UPDATE moves the rows from `queued` to `sending` and returns them; a second worker with the
   same ids (a retried or duplicated task) claims nothing.
2. Check again, at send time: an unsubscribe or a withdrawn consent since selection -> `suppressed`.
3. Send over one SMTP connection; record `sent` per chunk.
A worker that dies between the SMTP server accepting a message and step 3 leaves rows in `sending`; those
are never sent again (the sweeper marks them `unknown` after SENDING_STALE): we prefer a rare lost e-mail to
a duplicate. A connection failure puts the rows not yet attempted back to `queued` for the retry.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass

from django.core.mail import get_connection
from django.db import connection as db
from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower
from django.utils import timezone

from commerce.models import Customer
from shops.models import Shop

from .. import emails
from ..models import Campaign, Recipient, Unsubscribe

log = logging.getLogger(__name__)

SENDING_STALE = dt.timedelta(hours=1)
RECORD_EVERY = 100


class TransientSendError(Exception):
    """The mail server could not be reached or dropped the connection; the rest is queued again."""


@dataclass(frozen=True, slots=True)
class SendResult:
    claimed: int
    sent: int
    failed: int
    suppressed: int


def _claim(shop: Shop, ids: list[int]) -> list[int]:
    with db.cursor() as cur:
        cur.execute(
            "UPDATE campaigns_recipient SET status = 'sending', claimed_at = now() WHERE shop_id = %s AND id = ANY(%s) "
            "AND status = 'queued' RETURNING id",
            [shop.pk, list(ids)],
        )
        return sorted(row[0] for row in cur.fetchall())


def _suppress(shop: Shop, ids: list[int]) -> int:
    """Rows whose customer unsubscribed or no longer accepts marketing since they were selected."""
    rows = Recipient.objects.filter(shop=shop, pk__in=ids, status=Recipient.Status.SENDING)
    unsubscribed = Unsubscribe.objects.filter(shop=shop, email=OuterRef("email_lower"))
    consenting = Customer.objects.filter(shop=shop, shopify_id=OuterRef("customer_shopify_id"),
                                         email_marketing_state="subscribed", deleted_at__isnull=True)
    blocked = rows.alias(email_lower=Lower("email")).filter(Exists(unsubscribed) | ~Exists(consenting))
    return blocked.update(status=Recipient.Status.SUPPRESSED, error="unsubscribed or no marketing consent")


def recipients_send(*, shop: Shop, recipient_ids: list[int]) -> SendResult:
    """Send the queued ones among `recipient_ids` (others are ignored). Raises TransientSendError."""
    claimed = _claim(shop, recipient_ids)
    if not claimed:
        return SendResult(0, 0, 0, 0)
    suppressed = _suppress(shop, claimed)
    rows = list(Recipient.objects.filter(shop=shop, pk__in=claimed, status=Recipient.Status.SENDING)
                .select_related("campaign").order_by("pk"))
    campaigns: dict[int, Campaign] = {}
    sent: list[int] = []
    failed = 0
    connection = get_connection()
    try:
        connection.open()
    except (OSError, smtplib.SMTPException) as exc:
        _requeue(shop, [r.pk for r in rows])
        raise TransientSendError(str(exc)) from exc
    try:
        for index, recipient in enumerate(rows):
            campaign = campaigns.setdefault(recipient.campaign_id, recipient.campaign)
            envelope = emails.Envelope(recipient.pk, recipient.email, recipient.first_name,
                                       recipient.customer_shopify_id, recipient.code, recipient.context)
            msg = emails.message(shop, emails.render(shop, campaign, envelope, recipient.language), recipient.email)
            msg.connection = connection
            try:
                msg.send()
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                # The server answered "no" for this message: final for this row, the others go on.
                failed += 1
                Recipient.objects.filter(pk=recipient.pk).update(status=Recipient.Status.FAILED, error=str(exc)[:500])
                continue
            except (OSError, smtplib.SMTPException) as exc:
                # The connection broke: this message may or may not have been accepted (left in
                # `sending`, never resent); the ones after it were not attempted and go back to the queue.
                _record_sent(sent)
                _requeue(shop, [r.pk for r in rows[index + 1:]])
                raise TransientSendError(str(exc)) from exc
            sent.append(recipient.pk)
            if len(sent) % RECORD_EVERY == 0:
                _record_sent(sent[-RECORD_EVERY:])
        _record_sent(sent[len(sent) - len(sent) % RECORD_EVERY:])
    finally:
        try:
            connection.close()
        except (OSError, smtplib.SMTPException):
            pass
    return SendResult(len(claimed), len(sent), failed, suppressed)


def _record_sent(ids: list[int]) -> None:
    if ids:
        Recipient.objects.filter(pk__in=ids, status=Recipient.Status.SENDING).update(
            status=Recipient.Status.SENT, sent_at=timezone.now())


def _requeue(shop: Shop, ids: list[int]) -> None:
    if ids:
        Recipient.objects.filter(shop=shop, pk__in=ids, status=Recipient.Status.SENDING).update(
            status=Recipient.Status.QUEUED)


def queued_ids(*, shop: Shop, run_id: int | None = None, campaign_id: int | None = None,
               older_than: dt.datetime | None = None) -> list[int]:
    qs = Recipient.objects.filter(shop=shop, status=Recipient.Status.QUEUED)
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    if older_than is not None:
        qs = qs.filter(assigned_at__lt=older_than)
    return list(qs.order_by("pk").values_list("pk", flat=True))


def sending_mark_stale(*, now: dt.datetime | None = None) -> int:
    """Rows left in `sending` by a dead worker: `unknown`, never resent (see the module docstring)."""
    cutoff = (now or timezone.now()) - SENDING_STALE
    return Recipient.objects.filter(status=Recipient.Status.SENDING, claimed_at__lt=cutoff).update(
        status=Recipient.Status.UNKNOWN, error="interrupted while sending; not retried to avoid a duplicate")


def test_send(*, shop: Shop, campaign: Campaign, to: str, language: str) -> None:
    """A sample of the campaign's e-mail to the merchant (subject marked [Test]); no recipient row."""
    envelope = emails.Envelope(None, to, shop.name or "", None, "TEST-CODE" if _has_code(campaign) else "",
                               _sample_context(campaign))
    msg = emails.message(shop, emails.render(shop, campaign, envelope, language, test=True), to)
    msg.send()


def _has_code(campaign: Campaign) -> bool:
    from .. import kinds

    return bool(kinds.discount_percent(campaign))


def _sample_context(campaign: Campaign) -> dict:
    return {"order_name": "#1001", "tier_name": "Gold", "reward_name": "10 % off", "points": 500,
            "expires_on": (timezone.now() + dt.timedelta(days=14)).date().isoformat()}
