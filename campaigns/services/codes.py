"""Unique codes: generated here, stored first, then added to the Shopify discount 250 at a time with
`discountRedeemCodeBulkAdd`, whose result Shopify computes asynchronously (we poll it).

Every step is recorded on CouponCodeBatch, so an interrupted creation resumes where it stopped: a batch
is pending -> submitting -> submitted (Shopify's bulk creation id stored) -> done. At most
MAX_IN_FLIGHT batches of a coupon are in Shopify's hands at once. Codes Shopify refuses are marked
failed with the reason; a merchant coupon is topped up with replacements (TOP_UP_ROUNDS times at most).
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from shops.models import Shop

from .. import shopify
from ..models import Coupon, CouponCode, CouponCodeBatch, Recipient

log = logging.getLogger(__name__)

BATCH_SIZE = 250  # Shopify: at most 250 codes per discountRedeemCodeBulkAdd
MAX_IN_FLIGHT = 4
# A batch stuck in `submitting` this long was abandoned by a crashed worker: submit it again.
SUBMIT_STALE = dt.timedelta(minutes=2)
TOP_UP_ROUNDS = 2
# No 0/O, 1/I/L: codes are read off screens and typed by hand.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def code_generate(prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def codes_insert(*, shop: Shop, coupon: Coupon, count: int, batched: bool = True,
                 recipients: list[Recipient] | None = None) -> list[CouponCode]:
    """Insert `count` new random codes (one per recipient when given), in batches of BATCH_SIZE.

    Random collisions with our own codes are retried (the unique index on upper(code) decides); a
    collision with a code of another app shows up later as Shopify's TAKEN and is replaced.
    """
    if recipients is not None:
        count = len(recipients)
    created: list[CouponCode] = []
    next_seq = (CouponCodeBatch.objects.filter(shop=shop, coupon=coupon).order_by("-seq")
                .values_list("seq", flat=True).first() or 0) + 1
    for start in range(0, count, BATCH_SIZE):
        size = min(BATCH_SIZE, count - start)
        batch = None
        if batched:
            batch = CouponCodeBatch.objects.create(shop=shop, coupon=coupon, seq=next_seq, codes_count=size)
            next_seq += 1
        for _attempt in range(5):
            rows = [CouponCode(shop=shop, coupon=coupon, batch=batch, code=code_generate(coupon.code_prefix),
                               recipient=recipients[start + i] if recipients is not None else None)
                    for i in range(size)]
            try:
                with transaction.atomic():
                    created += CouponCode.objects.bulk_create(rows)
                break
            except IntegrityError:
                continue
        else:
            raise RuntimeError("could not generate unique codes")  # 31^10 codes: only a bug gets here
    return created


def coupon_codes_add(*, shop: Shop, coupon: Coupon, count: int) -> list[CouponCode]:
    """More unique codes for a coupon (created in Shopify by the batch task after commit)."""
    codes = codes_insert(shop=shop, coupon=coupon, count=count)
    if coupon.shopify_discount_gid:
        codes_schedule(shop=shop, coupon_id=coupon.pk)
    return codes


def codes_schedule(*, shop: Shop, coupon_id: int) -> None:
    """Start (or nudge) the batch task after the current transaction commits."""
    from ..tasks import coupon_codes_advance

    transaction.on_commit(lambda: coupon_codes_advance.delay(shop.pk, coupon_id))


@dataclass(frozen=True, slots=True)
class Step:
    in_flight: int
    remaining: int  # batches not done
    finished_recipients: list[int]  # recipients whose code is now active (ready to send)

    @property
    def done(self) -> bool:
        return self.remaining == 0


def coupon_codes_step(*, shop: Shop, coupon_id: int) -> Step:
    """Advance a coupon's batches once: poll those Shopify is working on, submit pending ones.

    Safe to run concurrently and repeatedly: each transition is a conditional UPDATE.
    Raises ShopifyUnavailable (retry later); a refusal of a whole batch marks its codes failed.
    """
    coupon = Coupon.objects.get(shop=shop, pk=coupon_id)
    ready: list[int] = []
    if not coupon.shopify_discount_gid or coupon.status == Coupon.Status.DELETED:
        return Step(0, _remaining(shop, coupon), [])
    for batch in CouponCodeBatch.objects.filter(shop=shop, coupon=coupon, status=CouponCodeBatch.Status.SUBMITTED):
        ready += _poll(shop, coupon, batch)
    now = timezone.now()
    in_flight = CouponCodeBatch.objects.filter(shop=shop, coupon=coupon, status__in=[
        CouponCodeBatch.Status.SUBMITTED, CouponCodeBatch.Status.SUBMITTING]).count()
    candidates = CouponCodeBatch.objects.filter(shop=shop, coupon=coupon).filter(
        Q(status=CouponCodeBatch.Status.PENDING)
        | Q(status=CouponCodeBatch.Status.SUBMITTING, updated_at__lt=now - SUBMIT_STALE)
    ).order_by("seq")
    for batch in candidates[: max(0, MAX_IN_FLIGHT - in_flight)]:
        # Claim: only one worker moves a given batch to `submitting`.
        claimed = CouponCodeBatch.objects.filter(pk=batch.pk, status=batch.status, updated_at=batch.updated_at).update(
            status=CouponCodeBatch.Status.SUBMITTING, attempts=F("attempts") + 1, updated_at=timezone.now())
        if claimed:
            batch.refresh_from_db()
            ready += _submit(shop, coupon, batch)
    if not _remaining(shop, coupon):
        _top_up(shop, coupon)
    in_flight = CouponCodeBatch.objects.filter(shop=shop, coupon=coupon, status__in=[
        CouponCodeBatch.Status.SUBMITTED, CouponCodeBatch.Status.SUBMITTING]).count()
    return Step(in_flight, _remaining(shop, coupon), ready)


def _remaining(shop: Shop, coupon: Coupon) -> int:
    return CouponCodeBatch.objects.filter(shop=shop, coupon=coupon).exclude(status=CouponCodeBatch.Status.DONE).count()


def _submit(shop: Shop, coupon: Coupon, batch: CouponCodeBatch) -> list[int]:
    codes = list(CouponCode.objects.filter(batch=batch, status=CouponCode.Status.PENDING).values_list("code", flat=True))
    if not codes:
        return _finish(shop, coupon, batch, {})
    try:
        data = shopify.execute(shop, "discount_redeem_code_bulk_add", {
            "discountId": coupon.shopify_discount_gid, "codes": [{"code": c} for c in codes]})
        result = shopify.payload(data, "discountRedeemCodeBulkAdd")
    except shopify.ShopifyRefused as exc:
        message = "\n".join(exc.messages)
        CouponCodeBatch.objects.filter(pk=batch.pk).update(error=message)
        return _finish(shop, coupon, batch, {c: message for c in codes})
    CouponCodeBatch.objects.filter(pk=batch.pk).update(
        status=CouponCodeBatch.Status.SUBMITTED, bulk_creation_gid=result["bulkCreation"]["id"],
        updated_at=timezone.now())
    batch.refresh_from_db()
    if result["bulkCreation"].get("done"):
        return _poll(shop, coupon, batch)
    return []


def _poll(shop: Shop, coupon: Coupon, batch: CouponCodeBatch) -> list[int]:
    data = shopify.execute(shop, "discount_redeem_code_bulk_creation", {"id": batch.bulk_creation_gid})
    creation = data.get("discountRedeemCodeBulkCreation")
    if creation is None:
        raise shopify.ShopifyUnavailable(f"bulk creation {batch.bulk_creation_gid} not found")
    if not creation["done"]:
        CouponCodeBatch.objects.filter(pk=batch.pk).update(
            imported_count=creation.get("importedCount") or 0, failed_count=creation.get("failedCount") or 0)
        return []
    failures: dict[str, str] = {}
    if creation.get("failedCount"):
        # Only now ask for the per-code errors: that query costs ~250x more than the status one.
        detail = shopify.execute(shop, "discount_redeem_code_bulk_creation_codes", {"id": batch.bulk_creation_gid})
        for node in detail["discountRedeemCodeBulkCreation"]["codes"]["nodes"]:
            if node.get("errors"):
                failures[node["code"]] = "\n".join(shopify.plain_errors(node["errors"]))
                if batch.attempts > 1 and any((e.get("code") or "") == "TAKEN" for e in node["errors"]):
                    # A resubmitted batch: the first attempt may have created this code for us.
                    found = shopify.execute(shop, "code_discount_node_by_code", {"code": node["code"]})
                    owner = (found.get("codeDiscountNodeByCode") or {}).get("id")
                    if owner == coupon.shopify_discount_gid:
                        failures.pop(node["code"])
    return _finish(shop, coupon, batch, failures)


def _finish(shop: Shop, coupon: Coupon, batch: CouponCodeBatch, failures: dict[str, str]) -> list[int]:
    """Record the batch's outcome; return the recipients whose code became active."""
    with transaction.atomic():
        locked = CouponCodeBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status == CouponCodeBatch.Status.DONE:
            return []  # another worker finished it
        pending = CouponCode.objects.filter(batch=batch, status=CouponCode.Status.PENDING)
        failed_ids = []
        for code in pending.filter(code__in=list(failures)):
            CouponCode.objects.filter(pk=code.pk).update(status=CouponCode.Status.FAILED, error=failures[code.code][:255])
            failed_ids.append(code.pk)
        activated = list(pending.exclude(pk__in=failed_ids).values_list("pk", "recipient_id"))
        CouponCode.objects.filter(pk__in=[pk for pk, _ in activated]).update(status=CouponCode.Status.ACTIVE)
        counts = CouponCode.objects.filter(batch=batch).aggregate(
            ok=Count("pk", filter=Q(status=CouponCode.Status.ACTIVE)),
            bad=Count("pk", filter=Q(status=CouponCode.Status.FAILED)))
        CouponCodeBatch.objects.filter(pk=batch.pk).update(
            status=CouponCodeBatch.Status.DONE, imported_count=counts["ok"], failed_count=counts["bad"],
            updated_at=timezone.now())
        ready = [rid for _, rid in activated if rid is not None]
        Recipient.objects.filter(pk__in=ready, status=Recipient.Status.WAITING_CODE).update(status=Recipient.Status.QUEUED)
        failed_recipients = CouponCode.objects.filter(pk__in=failed_ids, recipient__isnull=False).values("recipient_id")
        Recipient.objects.filter(pk__in=failed_recipients, status=Recipient.Status.WAITING_CODE).update(
            status=Recipient.Status.FAILED, error="Shopify did not accept the code")
    return ready


def _top_up(shop: Shop, coupon: Coupon) -> None:
    """Replace codes Shopify refused (e.g. TAKEN by another app), so the merchant gets what they asked for."""
    if coupon.for_campaign or coupon.code_mode != Coupon.CodeMode.UNIQUE:
        return
    active = CouponCode.objects.filter(shop=shop, coupon=coupon, status=CouponCode.Status.ACTIVE).count()
    missing = coupon.codes_requested - active
    planned = math.ceil(max(coupon.codes_requested - 1, 0) / BATCH_SIZE)
    batches = CouponCodeBatch.objects.filter(shop=shop, coupon=coupon).count()
    if missing > 0 and batches < planned + TOP_UP_ROUNDS:
        with transaction.atomic():
            codes_insert(shop=shop, coupon=Coupon.objects.select_for_update().get(pk=coupon.pk), count=missing)


@dataclass(frozen=True, slots=True)
class CodeProgress:
    requested: int
    active: int
    pending: int
    failed: int
    batches_done: int
    batches_total: int
    stalled: bool

    @property
    def percent(self) -> int:
        if not self.requested:
            return 100
        return min(100, int(100 * self.active / self.requested))

    @property
    def finished(self) -> bool:
        return self.batches_done == self.batches_total


def code_progress(*, shop: Shop, coupon: Coupon) -> CodeProgress:
    counts = CouponCode.objects.filter(shop=shop, coupon=coupon).aggregate(
        active=Count("pk", filter=Q(status=CouponCode.Status.ACTIVE)),
        pending=Count("pk", filter=Q(status=CouponCode.Status.PENDING)),
        failed=Count("pk", filter=Q(status=CouponCode.Status.FAILED)))
    batches = CouponCodeBatch.objects.filter(shop=shop, coupon=coupon).aggregate(
        total=Count("pk"), done=Count("pk", filter=Q(status=CouponCodeBatch.Status.DONE)),
        stale=Count("pk", filter=~Q(status=CouponCodeBatch.Status.DONE)
                    & Q(updated_at__lt=timezone.now() - 2 * SUBMIT_STALE)))
    requested = coupon.codes_requested if not coupon.for_campaign else counts["active"] + counts["pending"]
    return CodeProgress(requested, counts["active"], counts["pending"], counts["failed"], batches["done"],
                        batches["total"], bool(batches["stale"]))
