"""Staff accounts of a shop's admin."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from ..models import StaffMember


@transaction.atomic
def staff_member_create(
    *,
    shop,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    locale: str = "en",
    account_owner: bool = False,
) -> StaffMember:
    """Create (or update) the login `email` / `password` for `shop`'s admin.

    One Django user per e-mail address may be staff of several shops, as on Shopify.
    """
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=email.lower(), defaults={"email": email})
    user.email = email
    user.first_name, user.last_name = first_name, last_name
    user.set_password(password)
    user.save()
    staff, _ = StaffMember.objects.update_or_create(
        shop=shop,
        user=user,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "locale": locale,
            "account_owner": account_owner,
        },
    )
    return staff
