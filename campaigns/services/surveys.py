"""Survey answers from signed links: one answer per recipient and question; answering again replaces it."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shops.models import Shop

from .. import kinds
from ..models import Recipient, SurveyResponse


class SurveyInvalid(Exception):
    pass


def survey_answer(*, shop: Shop, recipient_id: int, question: str, score: int | None = None, reason: str = "",
                  comment: str = "") -> SurveyResponse:
    """Store the answer (insert or replace). Raises SurveyInvalid for an answer outside the question's scale."""
    recipient = Recipient.objects.select_related("campaign").filter(shop=shop, pk=recipient_id).first()
    if recipient is None:
        raise SurveyInvalid(_("This survey link is not valid any more."))
    if question != kinds.survey_question(recipient.campaign) and not (
        question in ("nps", "csat") and recipient.campaign.kind == "post_purchase"
    ):
        raise SurveyInvalid(_("This survey link is not valid any more."))
    if question == "nps" and (score is None or not 0 <= score <= 10):
        raise SurveyInvalid(_("Please choose a number from 0 to 10."))
    if question == "csat" and (score is None or not 1 <= score <= 5):
        raise SurveyInvalid(_("Please choose a number from 1 to 5."))
    if question == "churn_reason":
        score = None
        if reason not in SurveyResponse.Reason.values:
            raise SurveyInvalid(_("Please choose one of the answers."))
    else:
        reason = ""
    defaults = {"campaign": recipient.campaign, "customer_shopify_id": recipient.customer_shopify_id,
                "score": score, "reason": reason, "comment": comment.strip()[:5000], "answered_at": timezone.now()}
    for attempt in range(2):
        try:
            with transaction.atomic():
                response, _created = SurveyResponse.objects.update_or_create(
                    shop=shop, recipient=recipient, question=question, defaults=defaults)
            return response
        except IntegrityError:
            # Two submissions at once (a double click): the other one inserted first; update it.
            if attempt:
                raise
    raise AssertionError("unreachable")
