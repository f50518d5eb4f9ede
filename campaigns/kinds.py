"""What each kind of campaign is: its trigger, the numbers a merchant tunes, the window in which a customer
gets it at most once, and its e-mail (every string translatable; placeholders are %(name)s).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .models import Campaign

K = Campaign.Kind


@dataclass(frozen=True)
class Setting:
    key: str
    label: Any
    default: int
    minimum: int
    maximum: int
    help: Any = ""


@dataclass(frozen=True)
class Kind:
    key: str
    trigger: str  # "daily" (beat, once a day per shop), "event" (loyalty calls a hook), "scheduled" (one date)
    description: Any
    subject: Any
    heading: Any
    paragraphs: tuple[Any, ...]
    settings: tuple[Setting, ...] = ()
    survey: str = ""  # "", "nps", "csat" (chosen by the `survey` setting), "churn_reason"
    cta: Any = _("Visit the shop")
    window: Any = ""
    extra: dict = field(default_factory=dict)

    def defaults(self) -> dict[str, int]:
        return {s.key: s.default for s in self.settings}

    def clean_settings(self, raw: dict[str, Any]) -> dict[str, int]:
        """The kind's settings from `raw`, each clamped to its range; unknown keys dropped."""
        out = self.defaults()
        for s in self.settings:
            if s.key in raw and raw[s.key] not in (None, ""):
                out[s.key] = min(s.maximum, max(s.minimum, int(raw[s.key])))
        return out


DISCOUNT = Setting("discount_percent", _("Discount in the e-mail (%)"), 15, 0, 90,
                   _("0 sends no code. Each customer gets a unique single-customer code."))

KINDS: dict[str, Kind] = {
    K.WIN_BACK: Kind(
        key=K.WIN_BACK, trigger="daily",
        description=_("Customers whose last order is older than the lapse threshold get a unique code."),
        subject=_("We miss you, %(first_name)s"),
        heading=_("It has been a while"),
        paragraphs=(
            _("Hello %(first_name)s, we have not seen you at %(shop_name)s for some time, and we would love to "
              "welcome you back."),
            _("Here is something to make your next order a little sweeter."),
        ),
        settings=(
            Setting("lapse_days", _("Lapsed after (days without an order)"), 0, 0, 1095,
                    _("0 uses the threshold suggested from your shop's own time between orders.")),
            Setting("max_lapse_days", _("Do not write to customers lapsed longer than (days)"), 730, 30, 3650),
            DISCOUNT,
        ),
        window=_("once per lapse: a customer who orders again and lapses again can receive it again"),
    ),
    K.CHURN_SURVEY: Kind(
        key=K.CHURN_SURVEY, trigger="daily",
        description=_("Lapsed customers are asked one question: why did you stop?"),
        subject=_("Can we ask you one question, %(first_name)s?"),
        heading=_("Why did you stop shopping with us?"),
        paragraphs=(
            _("Hello %(first_name)s, you have not ordered from %(shop_name)s for a while. One click tells us "
              "why, and helps us do better."),
        ),
        settings=(
            Setting("lapse_days", _("Lapsed after (days without an order)"), 0, 0, 1095,
                    _("0 uses the suggested threshold plus 30 days, so it follows the win-back e-mail.")),
            Setting("max_lapse_days", _("Do not write to customers lapsed longer than (days)"), 730, 30, 3650),
        ),
        survey="churn_reason",
        window=_("once per lapse"),
    ),
    K.BIRTHDAY: Kind(
        key=K.BIRTHDAY, trigger="daily",
        description=_("On their birthday (from the customer's birth date), with an optional code."),
        subject=_("Happy birthday, %(first_name)s!"),
        heading=_("Happy birthday!"),
        paragraphs=(_("Everyone at %(shop_name)s wishes you a wonderful birthday, %(first_name)s."),),
        settings=(Setting("discount_percent", DISCOUNT.label, 10, 0, 90, DISCOUNT.help),),
        window=_("once a year"),
    ),
    K.ANNIVERSARY: Kind(
        key=K.ANNIVERSARY, trigger="daily",
        description=_("On the anniversary of the customer's first order."),
        subject=_("One more year together, %(first_name)s"),
        heading=_("Happy anniversary!"),
        paragraphs=(
            _("On this day you placed your first order with %(shop_name)s. Thank you for being with us, "
              "%(first_name)s."),
        ),
        settings=(Setting("discount_percent", DISCOUNT.label, 10, 0, 90, DISCOUNT.help),),
        window=_("once a year"),
    ),
    K.POST_PURCHASE: Kind(
        key=K.POST_PURCHASE, trigger="daily",
        description=_("A thank-you some days after an order, with a short feedback question."),
        subject=_("Thank you for your order, %(first_name)s"),
        heading=_("Thank you!"),
        paragraphs=(
            _("Thank you for your order %(order_name)s at %(shop_name)s, %(first_name)s. We hope you love it."),
            _("Would you answer one quick question? It takes a second."),
        ),
        settings=(
            Setting("delay_days", _("Days after the order"), 7, 1, 60),
            Setting("survey_csat", _("Ask satisfaction (1-5) instead of recommendation (0-10)"), 0, 0, 1),
        ),
        survey="nps",
        window=_("once per order"),
    ),
    K.VIP_TIER: Kind(
        key=K.VIP_TIER, trigger="event",
        description=_("When a customer reaches a VIP tier of your loyalty programme."),
        subject=_("Welcome to %(tier_name)s, %(first_name)s"),
        heading=_("You reached %(tier_name)s"),
        paragraphs=(_("Congratulations %(first_name)s: you are now %(tier_name)s at %(shop_name)s."),),
        window=_("once per tier"),
    ),
    K.REWARD_WAITING: Kind(
        key=K.REWARD_WAITING, trigger="event",
        description=_("A reminder when a redeemed reward has not been used."),
        subject=_("Your reward is waiting, %(first_name)s"),
        heading=_("Don't forget your reward"),
        paragraphs=(_("You redeemed %(reward_name)s at %(shop_name)s and have not used it yet."),),
        settings=(Setting("wait_days", _("Days after redeeming"), 7, 1, 60),),
        window=_("once per reward"),
    ),
    K.POINTS_EXPIRING: Kind(
        key=K.POINTS_EXPIRING, trigger="event",
        description=_("A reminder before loyalty points expire."),
        subject=_("%(points)s points expire soon, %(first_name)s"),
        heading=_("Your points expire on %(expires_on)s"),
        paragraphs=(_("You have %(points)s points at %(shop_name)s. Use them before %(expires_on)s."),),
        window=_("once per expiry date"),
    ),
    K.SEASONAL: Kind(
        key=K.SEASONAL, trigger="scheduled",
        description=_("A one-off send to a segment on a date you choose."),
        subject=pgettext_lazy("seasonal e-mail subject", "%(campaign_name)s at %(shop_name)s"),
        heading=pgettext_lazy("seasonal e-mail heading", "%(campaign_name)s"),
        paragraphs=(_("Hello %(first_name)s, we have something for you at %(shop_name)s."),),
        settings=(Setting("discount_percent", DISCOUNT.label, 0, 0, 90, DISCOUNT.help),),
        window=_("once"),
    ),
}

CHURN_REASONS = ("moved_on", "competitor", "unhappy", "ignored", "other")


def kind_of(campaign: Campaign) -> Kind:
    return KINDS[campaign.kind]


def campaign_settings(campaign: Campaign) -> dict[str, int]:
    return kind_of(campaign).clean_settings(campaign.settings or {})


def discount_percent(campaign: Campaign) -> int:
    return int(campaign_settings(campaign).get("discount_percent", 0))


def survey_question(campaign: Campaign) -> str:
    kind = kind_of(campaign)
    if kind.key == K.POST_PURCHASE:
        return "csat" if campaign_settings(campaign).get("survey_csat") else "nps"
    return kind.survey
