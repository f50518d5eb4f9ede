"""App proxy forwarding, done server-side like Shopify's storefront does it.

`/store/{shop}/{prefix}/{subpath}/{rest}?q` is fetched from `{proxy_url}/{rest}?q` plus `shop`,
`logged_in_customer_id` (blank for guests), `path_prefix`, `timestamp` and `signature`
(see signing.app_proxy_signature). Cookies are not forwarded either way.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from . import signing
from .models import App

PROXY_TIMEOUT_SECONDS = 10.0
# Parameters devshop sets itself: a visitor must not be able to supply them.
RESERVED_PARAMS = {"shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"}
# Request headers passed to the app; everything else (Cookie above all) stays behind.
FORWARDED_REQUEST_HEADERS = ("accept", "accept-language", "content-type", "user-agent")
PASSED_RESPONSE_HEADERS = ("content-type", "location", "cache-control")


@dataclass
class ProxyResponse:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def is_liquid(self) -> bool:
        return self.headers.get("content-type", "").split(";")[0].strip() == "application/liquid"


def proxy_query(*, app: App, shop_domain: str, customer_id: int | None,
                query_pairs: list[tuple[str, str]], ) -> list[tuple[str, str]]:
    pairs = [(k, v) for k, v in query_pairs if k not in RESERVED_PARAMS]
    pairs += [
        ("shop", shop_domain),
        ("logged_in_customer_id", str(customer_id) if customer_id else ""),
        ("path_prefix", f"/{app.proxy_prefix}/{app.proxy_subpath}"),
        ("timestamp", signing.timestamp()),
    ]
    pairs.append(("signature", signing.app_proxy_signature(pairs, app.client_secret)))
    return pairs


def proxy_forward(*, app: App, shop_domain: str, customer_id: int | None, rest: str, method: str,
                  query_pairs: list[tuple[str, str]], headers: dict[str, str], body: bytes,
                  client_ip: str) -> ProxyResponse:
    pairs = proxy_query(app=app, shop_domain=shop_domain, customer_id=customer_id, query_pairs=query_pairs)
    url = f"{app.proxy_url}/{rest}" if rest else app.proxy_url
    out_headers = {k: v for k, v in headers.items() if k.lower() in FORWARDED_REQUEST_HEADERS}
    out_headers["X-Forwarded-For"] = client_ip
    try:
        with httpx.Client(timeout=PROXY_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client:
            response = client.request(method, f"{url}?{urlencode(pairs)}", headers=out_headers,
                                      content=body or None)
    except httpx.HTTPError as exc:
        return ProxyResponse(502, f"The app did not answer: {type(exc).__name__}".encode(),
                             {"content-type": "text/plain"})
    passed = {k: v for k, v in response.headers.items() if k.lower() in PASSED_RESPONSE_HEADERS}
    return ProxyResponse(response.status_code, response.content, {k.lower(): v for k, v in passed.items()})
