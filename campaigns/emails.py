"""Campaign e-mails: one HTML and one text template for every kind, filled from campaigns.kinds in the
recipient's language, with the signed unsubscribe and survey links and the headers mail providers use
for one-click unsubscribe (RFC 2369 / RFC 8058).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from shops.models import Shop
from shops.shopify_urls import shop_url

from . import kinds, signing
from .models import Campaign, SurveyResponse

LANGUAGES = [code for code, _name in settings.LANGUAGES]


def language_for(shop: Shop, campaign: Campaign) -> str:
    for candidate in (campaign.language, (shop.primary_locale or "").split("-")[0]):
        if candidate in LANGUAGES:
            return candidate
    return settings.LANGUAGE_CODE


def app_url(path: str) -> str:
    return settings.SHOPIFY_APP_URL.rstrip("/") + path


@dataclass
class Envelope:
    """Who the e-mail is for; a Recipient row, or a stand-in for previews and test sends."""

    recipient_id: int | None
    email: str
    first_name: str
    customer_shopify_id: int | None
    code: str = ""
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rendered:
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def _discount_text(campaign: Campaign) -> str:
    percent = kinds.discount_percent(campaign)
    return _("%(percent)s %% off your next order") % {"percent": percent} if percent else ""


def _survey_links(shop: Shop, campaign: Campaign, envelope: Envelope) -> dict[str, Any]:
    question = kinds.survey_question(campaign)
    if not question:
        return {}
    token = signing.survey_token(shop_id=shop.pk, recipient_id=envelope.recipient_id or 0, question=question)
    base = app_url(reverse("campaigns_public:survey", args=[token]))
    if question == "nps":
        options = [(str(i), f"{base}?score={i}") for i in range(11)]
        prompt = _("How likely are you to recommend us to a friend? (0 = not at all, 10 = very likely)")
    elif question == "csat":
        options = [(str(i), f"{base}?score={i}") for i in range(1, 6)]
        prompt = _("How satisfied are you with your order? (1 = not at all, 5 = very)")
    else:
        labels = dict(SurveyResponse.Reason.choices)
        options = [(str(labels[r]), f"{base}?reason={r}") for r in kinds.CHURN_REASONS]
        prompt = _("Why did you stop shopping with us?")
    return {"survey_question": question, "survey_prompt": prompt, "survey_options": options}


def render(shop: Shop, campaign: Campaign, envelope: Envelope, language: str, *, test: bool = False) -> Rendered:
    kind = kinds.kind_of(campaign)
    unsubscribe = app_url(reverse("campaigns_public:unsubscribe", args=[signing.unsubscribe_token(
        shop_id=shop.pk, email=envelope.email, customer_shopify_id=envelope.customer_shopify_id)]))
    with translation.override(language):
        values = {
            "first_name": envelope.first_name or _("there"),
            "shop_name": shop.name or shop.domain,
            "campaign_name": campaign.name or str(kind.heading),
            **{k: v for k, v in envelope.context.items() if isinstance(v, str | int)},
        }
        values.setdefault("order_name", "")
        values.setdefault("tier_name", "")
        values.setdefault("reward_name", "")
        values.setdefault("points", "")
        values.setdefault("expires_on", "")
        subject = str(kind.subject) % values
        if test:
            subject = _("[Test] %(subject)s") % {"subject": subject}
        context = {
            "subject": subject,
            "heading": str(kind.heading) % values,
            "paragraphs": [str(p) % values for p in kind.paragraphs],
            "code": envelope.code,
            "discount_text": _discount_text(campaign) if envelope.code else "",
            "apply_url": shop_url(shop.domain, f"/discount/{quote(envelope.code)}") if envelope.code else "",
            "shop_url": shop_url(shop.domain, "/"),
            "cta": str(kind.cta),
            "unsubscribe_url": unsubscribe,
            "shop_name": values["shop_name"],
            "language": language,
            **_survey_links(shop, campaign, envelope),
        }
        text = render_to_string("campaigns/email/message.txt", context)
        html = render_to_string("campaigns/email/message.html", context)
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if envelope.recipient_id:
        # A stable Message-ID: should a message ever be handed over twice, receivers can tell.
        domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1]
        headers["Message-ID"] = f"<campaign.{shop.pk}.{envelope.recipient_id}@{domain}>"
    return Rendered(subject, text, html, headers)


def message(shop: Shop, rendered: Rendered, to: str) -> EmailMultiAlternatives:
    sender = f"{shop.name or shop.domain} <{settings.DEFAULT_FROM_EMAIL}>"
    msg = EmailMultiAlternatives(
        subject=rendered.subject, body=rendered.text, from_email=sender, to=[to],
        reply_to=[shop.email] if shop.email else None, headers=rendered.headers,
    )
    msg.attach_alternative(rendered.html, "text/html")
    return msg
