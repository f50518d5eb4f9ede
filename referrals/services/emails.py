"""The two referral e-mails, each sent at most once: the friend's code, and the referrer's reward.

Both are transactional (the friend asked for the code; the referrer is told about a reward they earned),
so marketing consent does not apply. "Once" is a claim: an UPDATE that sets the sent-at column only where
it is empty; whoever claims sends. A crash between the claim and the SMTP hand-over loses that e-mail
rather than risking a duplicate (campaigns.services.sending makes the same choice).
"""
from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import quote

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, npgettext

from shops.models import Shop
from shops.shopify_urls import shop_url

from ..models import Referral, ReferralProgramme, ReferrerReward
from .links import shop_language

log = logging.getLogger(__name__)


def offer_text(shop: Shop, programme: ReferralProgramme) -> str:
    """The friend's offer in plain words, in the active language."""
    Kind = ReferralProgramme.FriendRewardKind
    if programme.friend_reward_kind == Kind.FREE_SHIPPING:
        text = _("free shipping on your first order")
    elif programme.friend_reward_kind == Kind.FIXED_AMOUNT:
        text = _("%(amount)s %(currency)s off your first order") % {
            "amount": f"{programme.friend_reward_value:.2f}", "currency": shop.currency}
    else:
        text = _("%(percent)s%% off your first order") % {"percent": f"{programme.friend_reward_value.normalize():f}"}
    if programme.friend_minimum_subtotal:
        text += " " + _("(orders from %(amount)s %(currency)s)") % {
            "amount": f"{programme.friend_minimum_subtotal:.2f}", "currency": shop.currency}
    return text


def referrer_reward_text(shop: Shop, programme: ReferralProgramme) -> str:
    Kind = ReferralProgramme.ReferrerRewardKind
    if programme.referrer_reward_kind == Kind.POINTS:
        return npgettext("referral reward", "%(points)s point", "%(points)s points",
                         programme.referrer_points) % {"points": programme.referrer_points}
    if programme.referrer_reward_kind == Kind.FIXED_AMOUNT:
        return _("a %(amount)s %(currency)s discount code") % {
            "amount": f"{programme.referrer_reward_value:.2f}", "currency": shop.currency}
    return _("a %(percent)s%% discount code") % {"percent": f"{programme.referrer_reward_value.normalize():f}"}


def _send(shop: Shop, *, to: str, template: str, context: dict, language: str, message_id: str) -> None:
    with translation.override(language):
        subject = str(context["subject"])
        text = render_to_string(f"referrals/email/{template}.txt", context)
        html = render_to_string(f"referrals/email/{template}.html", context)
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1]
    msg = EmailMultiAlternatives(
        subject=subject, body=text, from_email=f"{shop.name or shop.domain} <{settings.DEFAULT_FROM_EMAIL}>", to=[to],
        reply_to=[shop.email] if shop.email else None, headers={"Message-ID": f"<{message_id}@{domain}>"},
    )
    msg.attach_alternative(html, "text/html")
    msg.send()


def friend_email_send(*, shop: Shop, referral_id: int, now: dt.datetime | None = None) -> bool:
    """E-mail the friend their code (once). True when this call sent it."""
    from .programme import programme_get

    now = now or timezone.now()
    claimed = Referral.objects.filter(
        shop=shop, pk=referral_id, friend_email_sent_at__isnull=True, friend_code_state=Referral.CodeState.ISSUED,
    ).exclude(friend_email="").update(friend_email_sent_at=now)
    if not claimed:
        return False
    referral = Referral.objects.get(shop=shop, pk=referral_id)
    language = referral.friend_language or shop_language(shop)
    with translation.override(language):
        context = {
            "subject": _("Your welcome gift from %(shop)s") % {"shop": shop.name or shop.domain},
            "first_name": referral.friend_first_name or _("there"),
            "shop_name": shop.name or shop.domain,
            "offer": offer_text(shop, programme_get(shop)),
            "code": referral.friend_code,
            "apply_url": shop_url(shop.domain, f"/discount/{quote(referral.friend_code)}?redirect=/"),
            "ends_at": referral.friend_discount.ends_at if referral.friend_discount_id else None,
        }
    _send(shop, to=referral.friend_email, template="friend_code", context=context, language=language,
          message_id=f"referral.{shop.pk}.{referral.pk}.friend")
    return True


def reward_email_send(*, shop: Shop, reward_id: int, now: dt.datetime | None = None) -> bool:
    """E-mail the referrer that they earned a reward (once). True when this call sent it."""
    from commerce.models import Customer

    now = now or timezone.now()
    reward = ReferrerReward.objects.filter(shop=shop, pk=reward_id, status=ReferrerReward.Status.ISSUED).first()
    referrer = Customer.objects.filter(shop=shop, shopify_id=reward.referrer_customer_shopify_id).first() if reward else None
    if reward is None or referrer is None or not referrer.email:
        return False
    if not ReferrerReward.objects.filter(shop=shop, pk=reward_id, email_sent_at__isnull=True).update(email_sent_at=now):
        return False
    language = shop_language(shop)
    with translation.override(language):
        if reward.kind == ReferralProgramme.ReferrerRewardKind.POINTS:
            what = ngettext("%(points)s point has been added to your account.",
                            "%(points)s points have been added to your account.", reward.points) % {
                "points": reward.points}
        else:
            what = _("Here is your discount code: %(code)s") % {"code": reward.code}
        context = {
            "subject": _("Thank you! Your friend's order earned you a reward"),
            "first_name": referrer.first_name or _("there"),
            "shop_name": shop.name or shop.domain,
            "what": what,
            "code": reward.code,
            "apply_url": shop_url(shop.domain, f"/discount/{quote(reward.code)}?redirect=/") if reward.code else "",
            "shop_url": shop_url(shop.domain, "/"),
        }
    _send(shop, to=referrer.email, template="reward_earned", context=context, language=language,
          message_id=f"referral.{shop.pk}.{reward.referral_id}.reward")
    return True
