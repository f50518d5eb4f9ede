"""Pages: embedded pages render for the token's shop only; signed unsubscribe and survey links work
without a login, GET never changes anything, and answers are counted."""
import datetime as dt
import re

import pytest
from django.utils import timezone

from campaigns import signing
from campaigns.models import Campaign, Recipient, SurveyResponse, Unsubscribe
from campaigns.selectors import surveys
from campaigns.services import runs
from tests.shops.conftest import session_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokened_shop(shop):
    from shops.services import shop_tokens_store
    from shops.token_endpoint import TokenGrant

    shop_tokens_store(shop, TokenGrant(access_token="shpat_test", scopes=shop.scopes,  # noqa: S106
                                       expires_at=timezone.now() + dt.timedelta(hours=1),
                                       refresh_token="r", refresh_token_expires_at=None))  # noqa: S106
    shop.save()
    return shop


def _recipient(shop, campaign, **kw):
    return Recipient.objects.create(shop=shop, campaign=campaign, customer_shopify_id=kw.pop("customer", 5),
                                    email=kw.pop("email", "kim@example.com"), window_key=kw.pop("window", "w"),
                                    group="treatment", status="sent", assigned_at=timezone.now(), **kw)


@pytest.mark.parametrize("name", ["campaigns:campaigns", "campaigns:coupons", "campaigns:segments",
                                  "campaigns:surveys", "campaigns:coupon_new"])
def test_embedded_pages_render(client, tokened_shop, name):
    from django.urls import reverse

    token = session_token(tokened_shop.domain)
    response = client.get(reverse(name) + f"?shop={tokened_shop.domain}&id_token={token}")
    assert response.status_code == 200, response.content[:500]


def test_a_reports_link_starts_a_send_aimed_at_its_segment(client, tokened_shop):
    # The predicted-value report's "win them back" link names the segment: the new send starts with it.
    from django.urls import reverse

    token = session_token(tokened_shop.domain)
    url = reverse("campaigns:campaigns") + f"?shop={tokened_shop.domain}&id_token={token}"
    html = client.get(url + "&segment=predicted_to_lapse").content.decode()
    assert re.search(r'<option value="predicted_to_lapse" selected>', html)
    assert len(re.findall(r"<option [^>]*selected>", html)) == 1
    assert not re.search(r"<option [^>]*selected>", client.get(url).content.decode())


def test_campaign_page_previews_every_language(client, tokened_shop):
    from django.urls import reverse

    campaign = runs.campaign_for_kind(shop=tokened_shop, kind=Campaign.Kind.POST_PURCHASE)
    token = session_token(tokened_shop.domain)
    page = client.get(reverse("campaigns:campaign_detail", args=[campaign.pk]) + f"?id_token={token}")
    assert page.status_code == 200
    for language in ("en", "de", "sv", "et", "el", "mk"):
        preview = client.get(reverse("campaigns:campaign_preview", args=[campaign.pk, language]) + f"?id_token={token}")
        assert preview.status_code == 200 and f'lang="{language}"' in preview.content.decode()


def test_other_shops_rows_are_not_found(client, tokened_shop, other_shop):
    from django.urls import reverse

    foreign = runs.campaign_for_kind(shop=other_shop, kind=Campaign.Kind.BIRTHDAY)
    token = session_token(tokened_shop.domain)
    response = client.get(reverse("campaigns:campaign_detail", args=[foreign.pk]) + f"?id_token={token}")
    assert response.status_code == 404


def test_unsubscribe_link_confirms_on_get_and_works_on_post(client, shop, other_shop):
    token = signing.unsubscribe_token(shop_id=shop.pk, email="Kim@Example.com", customer_shopify_id=5)
    assert client.get(f"/c/u/{token}").status_code == 200
    assert not Unsubscribe.objects.exists()  # link scanners open links; GET changes nothing
    assert client.post(f"/c/u/{token}", {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(f"/c/u/{token}").status_code == 200  # twice: still one row
    assert list(Unsubscribe.objects.values_list("shop_id", "email", "source")) == [(shop.pk, "kim@example.com", "one-click")]
    assert client.post(f"/c/u/{token[:-2]}xx").status_code == 400  # tampered


def test_survey_answered_through_a_signed_link_and_counted(client, shop):
    campaign = runs.campaign_for_kind(shop=shop, kind=Campaign.Kind.POST_PURCHASE)
    answers = [10, 9, 8, 3]
    for i, score in enumerate(answers):
        recipient = _recipient(shop, campaign, customer=100 + i, window=f"order:{i}")
        token = signing.survey_token(shop_id=shop.pk, recipient_id=recipient.pk, question="nps")
        page = client.get(f"/c/s/{token}?score={score}")
        assert page.status_code == 200 and re.search(rf'value="{score}" checked', page.content.decode())
        assert client.post(f"/c/s/{token}", {"score": score, "comment": "Lovely" if i == 0 else ""}).status_code == 200
    # answering again replaces; out of range is refused
    assert client.post(f"/c/s/{token}", {"score": 6}).status_code == 200
    assert client.post(f"/c/s/{token}", {"score": 11}).status_code == 400
    assert SurveyResponse.objects.filter(shop=shop, question="nps").count() == 4
    (month,) = surveys.scores_by_month(shop, "nps")
    assert month.answers == 4 and month.value == 25  # 2 promoters, 1 passive, 1 detractor (6)

    churn = runs.campaign_for_kind(shop=shop, kind=Campaign.Kind.CHURN_SURVEY)
    r = _recipient(shop, churn, customer=200, window="lapse:x")
    token = signing.survey_token(shop_id=shop.pk, recipient_id=r.pk, question="churn_reason")
    assert client.post(f"/c/s/{token}", {"reason": "competitor"}).status_code == 200
    assert dict(surveys.churn_reasons(shop))["I found another shop"] == 1
    assert client.get("/c/s/not-a-token").status_code == 400


def test_emails_are_written_in_english_and_german(shop):
    from campaigns import emails

    campaign = runs.campaign_for_kind(shop=shop, kind=Campaign.Kind.WIN_BACK)
    campaign.settings = {"discount_percent": 15}
    envelope = emails.Envelope(7, "kim@example.com", "Kim", 5, "ABC123")
    english = emails.render(shop, campaign, envelope, "en")
    german = emails.render(shop, campaign, envelope, "de")
    assert english.subject == "We miss you, Kim" and "15 % off your next order" in english.text
    assert german.subject == "Wir vermissen Sie, Kim" and "15 % Rabatt auf Ihre nächste Bestellung" in german.text
    assert "Abmelden" in german.html and "/discount/ABC123" in german.html
    assert german.headers["List-Unsubscribe"].startswith("<http")


def test_test_send_reaches_the_local_smtp_server(client, tokened_shop, smtp):
    campaign = runs.campaign_for_kind(shop=tokened_shop, kind=Campaign.Kind.BIRTHDAY)
    auth = {"HTTP_AUTHORIZATION": "Bearer " + session_token(tokened_shop.domain)}
    response = client.post(f"/campaigns/{campaign.pk}/test", {"to": "owner@example.com", "language": "de"}, **auth)
    assert response.status_code == 200, response.content
    (msg,) = smtp.messages
    assert str(msg["To"]) == "owner@example.com" and str(msg["Subject"]).startswith("[Test]")
    assert "Geburtstag" in str(msg["Subject"])
    assert not Recipient.objects.exists()  # a test send is nobody's campaign e-mail


def test_campaign_settings_are_saved_from_the_page(client, tokened_shop):
    campaign = runs.campaign_for_kind(shop=tokened_shop, kind=Campaign.Kind.WIN_BACK)
    auth = {"HTTP_AUTHORIZATION": "Bearer " + session_token(tokened_shop.domain)}
    form = {"enabled": "on", "control_percent": "20", "attribution_days": "21", "send_hour": "9",
            "lapse_days": "120", "max_lapse_days": "400", "discount_percent": "0", "language": "de"}
    assert client.post(f"/campaigns/{campaign.pk}/save", form, **auth).status_code == 200
    campaign.refresh_from_db()
    assert (campaign.enabled, campaign.control_percent, campaign.attribution_days, campaign.language) == (
        True, 20, 21, "de")
    assert campaign.settings == {"lapse_days": 120, "max_lapse_days": 400, "discount_percent": 0}
    bad = client.post(f"/campaigns/{campaign.pk}/save", {**form, "control_percent": "80"}, **auth)
    assert bad.status_code == 400 and bad.json()["errors"]


def test_mailbox_command_prints_what_it_receives(capsys):
    import io
    import smtplib

    from campaigns.mailbox import LocalSMTPServer
    from campaigns.management.commands.mailbox import PrintingMailbox

    out = io.StringIO()
    server = LocalSMTPServer(PrintingMailbox(out, keep=False)).start()
    try:
        with smtplib.SMTP(server.host, server.port) as conn:
            conn.sendmail("a@example.com", ["b@example.com"],
                          "From: a@example.com\r\nTo: b@example.com\r\nSubject: Hi\r\n\r\nHello there\r\n")
    finally:
        server.stop()
    assert "Subject: Hi" in out.getvalue() and "Hello there" in out.getvalue()
