import pytest
from django.utils import timezone

pytest_plugins = ["tests.devshop_harness"]


@pytest.fixture(scope="session", autouse=True)
def _report_read_pool(django_db_setup, django_db_blocker):
    """The report pages' read threads (core.concurrency) keep a connection to the test database: close
    them before it is dropped. So do the live server's request threads that a browser still holds open
    with keep-alive at the end of the end-to-end tests (their connections persist between requests,
    CONN_MAX_AGE): those are ended on the server side, or the test database could not be dropped."""
    yield
    from django.db import connection

    from core.concurrency import shutdown

    with django_db_blocker.unblock():
        shutdown()
        with connection.cursor() as cur:
            cur.execute("""SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                           WHERE datname = current_database() AND pid <> pg_backend_pid()""")


@pytest.fixture
def shop(db):
    from shops.models import Shop

    return Shop.objects.create(
        domain="alpha-shop.myshopify.com",
        name="Alpha",
        currency="EUR",
        iana_timezone="Europe/Berlin",
        primary_locale="de",
        installed_at=timezone.now(),
        scopes="read_customers,read_orders,read_all_orders,write_discounts",
    )


@pytest.fixture
def other_shop(db):
    from shops.models import Shop

    return Shop.objects.create(
        domain="beta-shop.myshopify.com",
        name="Beta",
        currency="SEK",
        iana_timezone="Europe/Stockholm",
        primary_locale="sv",
        installed_at=timezone.now(),
    )
