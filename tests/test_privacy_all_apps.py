"""customers/redact erases one customer's personal data from every app's tables, and only theirs."""
import pytest
from django.utils import timezone

from shopify_sync.privacy import CustomerRef, privacy_customer_data, privacy_customer_redact

JON, ANNA = 191167, 191168


@pytest.fixture
def rows(shop):
    from campaigns.models import Campaign, Recipient, SurveyResponse, Unsubscribe
    from loyalty.models import MemberEmail
    from referrals.models import OrderSignals, Referral, ReferralCode

    now = timezone.now()
    campaign = Campaign.objects.create(shop=shop, kind="win_back", name="Win-back")
    code = ReferralCode.objects.create(shop=shop, customer_shopify_id=ANNA, code="ANNA-7KQ3M9P2", created_at=now)
    for customer, email, name in ((JON, "jon@doe.ca", "Jon"), (ANNA, "anna@example.com", "Anna")):
        Recipient.objects.create(shop=shop, campaign=campaign, customer_shopify_id=customer, email=email,
                                 first_name=name, window_key="w", group="treatment", status="sent",
                                 assigned_at=now, context={"first_name": name})
        Unsubscribe.objects.create(shop=shop, email=email, customer_shopify_id=customer)
        recipient = Recipient.objects.get(shop=shop, customer_shopify_id=customer)
        SurveyResponse.objects.create(shop=shop, recipient=recipient, campaign=campaign,
                                      customer_shopify_id=customer, question="nps", score=9,
                                      comment=f"{name} says hi", answered_at=now)
        MemberEmail.objects.create(shop=shop, customer_shopify_id=customer, kind="points_earned", event_key="o1",
                                   email=email, context={"first_name": name}, created_at=now)
        OrderSignals.objects.create(shop=shop, order_shopify_id=customer * 10, customer_shopify_id=customer,
                                    address_hash="a" * 64, phone_hash="p" * 64, ip_hash="i" * 64, created_at=now)
    Referral.objects.create(shop=shop, referral_code=code, referrer_customer_shopify_id=ANNA,
                            friend_email="j.o.n+shop@gmail.com", friend_email_normalized="jon@gmail.com",
                            friend_customer_shopify_id=JON, friend_first_name="Jon", created_at=now, updated_at=now)


def test_redact_erases_the_customers_personal_data_in_every_app(shop, rows):
    from campaigns.models import Recipient, SurveyResponse, Unsubscribe
    from loyalty.models import MemberEmail
    from referrals.models import OrderSignals, Referral

    report = privacy_customer_data(shop, JON, customer=CustomerRef(JON, email="jon@doe.ca"))
    assert "jon@doe.ca" in str(report)  # the data request finds it first

    privacy_customer_redact(shop, CustomerRef(JON, email="jon@doe.ca", order_ids=(JON * 10,)))

    assert Recipient.objects.get(customer_shopify_id=JON).email == ""
    assert Recipient.objects.get(customer_shopify_id=JON).first_name == ""
    assert not Unsubscribe.objects.filter(customer_shopify_id=JON).exists()
    assert SurveyResponse.objects.get(customer_shopify_id=JON).comment == ""
    assert SurveyResponse.objects.get(customer_shopify_id=JON).score == 9  # anonymous score stays
    assert MemberEmail.objects.get(customer_shopify_id=JON).email == ""
    assert not OrderSignals.objects.filter(customer_shopify_id=JON).exists()
    referral = Referral.objects.get()
    assert (referral.friend_email, referral.friend_email_normalized, referral.friend_first_name) == ("", None, "")
    assert "jon" not in str(privacy_customer_data(shop, JON, customer=CustomerRef(JON, email="jon@doe.ca"))).lower()

    # Anna, the other customer, keeps everything.
    assert Recipient.objects.get(customer_shopify_id=ANNA).email == "anna@example.com"
    assert Unsubscribe.objects.filter(customer_shopify_id=ANNA).exists()
    assert MemberEmail.objects.get(customer_shopify_id=ANNA).email == "anna@example.com"
    assert OrderSignals.objects.filter(customer_shopify_id=ANNA).exists()


def test_redact_never_touches_another_shop(shop, other_shop, rows):
    from campaigns.models import Recipient

    privacy_customer_redact(other_shop, CustomerRef(JON, email="jon@doe.ca"))
    assert Recipient.objects.get(shop=shop, customer_shopify_id=JON).email == "jon@doe.ca"
