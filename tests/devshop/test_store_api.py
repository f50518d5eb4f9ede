"""The development store's Admin GraphQL API, bulk operations, control API and seeder, over HTTP.

devshop runs as a subprocess (tests/devshop_harness.py) on its own database; the app under test is
installed by token exchange with a toml written here (it needs read_all_orders to see seeded history
older than 60 days, and subscribes to bulk_operations/finish).
"""
import json
import time

import httpx
import pytest

from tests.devshop_harness import DevshopServer

pytestmark = pytest.mark.e2e

API = "/admin/api/2026-10/graphql.json"
SCOPES = "read_orders,read_all_orders,read_customers,write_customers,read_discounts,write_discounts,read_products"
TOML = f"""
client_id = "store-test-client-id"
name = "Store Test App"
handle = "store-test-app"
application_url = "https://retention.example.com"
embedded = true

[access_scopes]
scopes = "{SCOPES}"
use_legacy_install_flow = false

[auth]
redirect_urls = ["https://retention.example.com/auth/callback"]

[webhooks]
api_version = "2026-10"

  [[webhooks.subscriptions]]
  topics = ["bulk_operations/finish", "orders/create", "orders/updated", "refunds/create", "customers/create"]
  uri = "https://retention.example.com/webhooks"
"""
SEED = {"customers": 300, "years": 2, "seed": 42, "end": "2026-10-01T00:00:00+00:00"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    server = DevshopServer(db_name="devshop_store_test").start()
    try:
        toml = tmp_path_factory.mktemp("store") / "shopify.app.toml"
        toml.write_text(TOML)
        server.register_app(toml=toml)
        shop = server.create_shop("store-test")
        server.create_staff(shop, account_owner=True)  # session tokens are minted for a staff member
        seeded = server._post(f"/_devshop/shops/{shop.domain}/seed", SEED)
        token = _token(server, shop)
        yield Store(server, shop, token, seeded)
    finally:
        server.stop()


def _token(server, shop) -> str:
    id_token = server.session_token(shop)
    response = server.http.post(f"/store/{shop.domain}/admin/oauth/access_token", json={
        "client_id": server.client_id, "client_secret": server.client_secret,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": id_token, "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
    })
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


class Store:
    def __init__(self, server: DevshopServer, shop, token: str, seeded: dict):
        self.server, self.shop, self.token, self.seeded = server, shop, token, seeded

    def post(self, query: str, variables: dict | None = None, token: str | None = None) -> httpx.Response:
        return self.server.http.post(f"/store/{self.shop.domain}{API}",
                                     json={"query": query, "variables": variables or {}},
                                     headers={"X-Shopify-Access-Token": token or self.token})

    def gql(self, query: str, variables: dict | None = None) -> dict:
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body

    def control(self, path: str, body: dict | None = None, method: str = "POST") -> dict:
        response = self.server.http.request(method, f"/_devshop/shops/{self.shop.domain}{path}", json=body or {})
        assert response.status_code in (200, 201), response.text
        return response.json()


def test_a_document_runs_against_the_official_schema(store):
    body = store.gql("""{ shop { name myshopifyDomain currencyCode ianaTimezone primaryDomain { host url }
                          billingAddress { countryCodeV2 } plan { publicDisplayName shopifyPlus } }
                          orders(first: 2, sortKey: CREATED_AT, reverse: true) {
                            nodes { id name createdAt displayFinancialStatus displayFulfillmentStatus
                                    presentmentCurrencyCode discountCodes test
                                    totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount } }
                                    customer { id defaultEmailAddress { emailAddress marketingState } }
                                    lineItems(first: 5) { nodes { title quantity sku
                                      originalUnitPriceSet { shopMoney { amount } } } }
                                    refunds { createdAt totalRefundedSet { shopMoney { amount } } } } } }""")
    data = body["data"]
    assert data["shop"]["myshopifyDomain"] == "store-test.myshopify.com"
    assert data["shop"]["currencyCode"] == "EUR"
    orders = data["orders"]["nodes"]
    assert len(orders) == 2 and orders[0]["createdAt"] >= orders[1]["createdAt"]
    assert orders[0]["id"].startswith("gid://shopify/Order/")
    assert int(orders[0]["id"].rsplit("/", 1)[1]) > 2**53  # Shopify-size ids
    assert orders[0]["lineItems"]["nodes"], "an order has lines"
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] > cost["actualQueryCost"] > 0
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0
    assert cost["throttleStatus"]["restoreRate"] == 100.0


def test_invalid_documents_get_shopify_like_errors(store):
    body = store.post("{ shop { nmae } }").json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "undefinedField"
    assert error["locations"] == [{"line": 1, "column": 10}]
    assert "data" not in body
    assert store.post("{ shop { name }").json()["errors"][0]["extensions"]["code"] == "PARSE_ERROR"
    missing = store.post("{ customer { id } }").json()["errors"][0]
    assert missing["extensions"]["code"] == "missingRequiredArguments"
    assert store.post("{ shop { name } }", token="shpat_wrong").status_code == 401  # noqa: S106
    assert store.server.http.post(f"/store/{store.shop.domain}/admin/api/2019-01/graphql.json",
                                  json={"query": "{ shop { name } }"},
                                  headers={"X-Shopify-Access-Token": store.token}).status_code == 404


def test_pagination_and_the_updated_at_filter(store):
    query = """query($after: String, $q: String) {
      orders(first: 50, after: $after, query: $q, sortKey: UPDATED_AT) {
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id updatedAt } } } }"""
    seen, after, pages = [], None, 0
    while True:
        page = store.gql(query, {"after": after, "q": "updated_at:>'2026-06-01T00:00:00Z'"})["data"]["orders"]
        pages += 1
        seen += [e["node"] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages > 1
    assert len({o["id"] for o in seen}) == len(seen)
    assert all(o["updatedAt"] > "2026-06-01T00:00:00Z" for o in seen)
    assert [o["updatedAt"] for o in seen] == sorted(o["updatedAt"] for o in seen)
    # Same count as the ORM-free answer of the control API would need: check against a full id scan.
    total = store.gql("""{ orders(first: 250, query: "updated_at:>='2026-06-01' AND test:false") {
                            nodes { id } } }""")["data"]["orders"]["nodes"]
    assert total
    # `last`/`before` walk backwards from a cursor.
    last_page = store.gql("""query($before: String) { orders(last: 3, before: $before, sortKey: UPDATED_AT,
                              query: "updated_at:>'2026-06-01T00:00:00Z'") { nodes { id } } }""",
                          {"before": after})["data"]["orders"]["nodes"]
    idx = [o["id"] for o in seen].index(last_page[-1]["id"])
    assert [o["id"] for o in seen[idx - 2: idx + 1]] == [o["id"] for o in last_page]
    # An unknown search field is ignored with a warning, like Shopify.
    warned = store.gql('{ customers(first: 1, query: "favourite_colour:blue") { nodes { id } } }')
    assert warned["extensions"]["search"][0]["warnings"][0]["field"] == "favourite_colour"


def test_throttled_when_the_bucket_is_small(store):
    store.control("/api/limits", {"bucket_size": 60, "restore_rate": 1})
    try:
        query = "{ orders(first: 20) { nodes { id } } }"  # requested cost 2 + 20 * 1 = 22
        first = store.post(query).json()
        assert first["extensions"]["cost"]["requestedQueryCost"] == 22
        second = store.post(query).json()
        third = store.post(query).json()
        assert "errors" not in second
        assert third["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert third["errors"][0]["message"] == "Throttled"
        assert third["extensions"]["cost"]["actualQueryCost"] is None
        assert third["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 60
        too_big = store.post("{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }").json()
        assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    finally:
        store.control("/api/limits", method="DELETE")


def test_injected_faults_fail_the_next_requests(store):
    store.control("/api/faults", {"status": 429, "count": 1, "retry_after": 2})
    store.control("/api/faults", {"status": 503, "count": 1})
    limited = store.post("{ shop { name } }")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert store.post("{ shop { name } }").status_code == 503
    assert store.post("{ shop { name } }").status_code == 200


def test_bulk_operation_writes_jsonl_with_parent_ids_and_queues_the_finish_webhook(store):
    run = store.gql("""mutation($q: String!) { bulkOperationRunQuery(query: $q) {
        bulkOperation { id status } userErrors { field message code } } }""", {"q": """{
        orders(query: "created_at:>='2026-01-01'") { edges { node { id name createdAt
          totalPriceSet { shopMoney { amount currencyCode } }
          customer { id }
          lineItems { edges { node { id sku quantity } } } } } } }"""})["data"]["bulkOperationRunQuery"]
    assert run["userErrors"] == []
    op_id = run["bulkOperation"]["id"]
    numeric_id = op_id.rsplit("/", 1)[1]
    state = store.server.http.get(f"/_devshop/shops/{store.shop.domain}/bulk-operations/{numeric_id}/wait").json()
    assert state["status"] == "COMPLETED", state
    op = store.gql("query($id: ID!) { bulkOperation(id: $id) { status url objectCount rootObjectCount fileSize } }",
                   {"id": op_id})["data"]["bulkOperation"]
    lines = [json.loads(x) for x in httpx.get(op["url"], trust_env=False).text.splitlines()]
    roots = [x for x in lines if "__parentId" not in x]
    children = [x for x in lines if "__parentId" in x]
    assert len(lines) == int(op["objectCount"]) and len(roots) == int(op["rootObjectCount"])
    assert roots and children
    positions = {x["id"]: i for i, x in enumerate(lines)}
    assert all(positions[c["__parentId"]] < positions[c["id"]] for c in children)
    assert all(r["createdAt"] >= "2026-01-01" for r in roots)
    # The same orders through the paginated API.
    api = store.gql("""{ orders(first: 250, query: "created_at:>='2026-01-01'") { nodes { id } } }""")
    assert {r["id"] for r in roots} >= {o["id"] for o in api["data"]["orders"]["nodes"]}
    current = store.gql("{ currentBulkOperation { id status } }")["data"]["currentBulkOperation"]
    assert current == {"id": op_id, "status": "COMPLETED"}
    finish = store.server.wait_for_deliveries(store.shop, lambda rows: rows, topic="bulk_operations/finish",
                                              payload="1")
    assert finish[0]["payload"]["admin_graphql_api_id"] == op_id
    assert finish[0]["payload"]["status"] == "completed"
    bad = store.gql("""mutation { bulkOperationRunQuery(query: "{ shop { name } }") {
                         bulkOperation { id } userErrors { field code message } } }""")
    assert bad["data"]["bulkOperationRunQuery"]["userErrors"][0]["field"] == ["query"]


def test_discount_code_create_and_taken(store):
    mutation = """mutation($input: DiscountCodeBasicInput!) { discountCodeBasicCreate(basicCodeDiscount: $input) {
        codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { title status
          codes(first: 1) { nodes { code } } customerGets { value { ... on DiscountPercentage { percentage } } }
          context { ... on DiscountBuyerSelectionAll { all } } } } }
        userErrors { field code message } } }"""
    data = {"title": "Welcome 20%", "code": "STORE-TEST-20", "startsAt": "2026-01-01T00:00:00Z",
            "context": {"all": "ALL"}, "customerGets": {"value": {"percentage": 0.2}, "items": {"all": True}},
            "appliesOncePerCustomer": True, "usageLimit": 1}
    created = store.gql(mutation, {"input": data})["data"]["discountCodeBasicCreate"]
    assert created["userErrors"] == []
    discount = created["codeDiscountNode"]["codeDiscount"]
    assert discount["status"] == "ACTIVE" and discount["codes"]["nodes"][0]["code"] == "STORE-TEST-20"
    assert discount["customerGets"]["value"]["percentage"] == 0.2 and discount["context"]["all"] == "ALL"
    taken = store.gql(mutation, {"input": {**data, "code": "store-test-20"}})["data"]["discountCodeBasicCreate"]
    assert taken["codeDiscountNode"] is None
    assert taken["userErrors"][0]["code"] == "TAKEN"
    assert taken["userErrors"][0]["field"] == ["basicCodeDiscount", "code"]
    no_context = {k: v for k, v in data.items() if k != "context"} | {"code": "OTHER-CODE"}
    blank = store.gql(mutation, {"input": no_context})["data"]["discountCodeBasicCreate"]["userErrors"]
    assert blank[0]["field"] == ["basicCodeDiscount", "context"]
    by_code = store.gql('{ codeDiscountNodeByCode(code: "STORE-TEST-20") { id } }')["data"]["codeDiscountNodeByCode"]
    assert by_code["id"] == created["codeDiscountNode"]["id"]
    # An order with the code uses it up (usageLimit 1) and the webhooks carry the REST shape.
    customer = store.control("/customers", {"first_name": "Jürgen", "email": "juergen@example.com"})
    order = store.control("/orders", {"customer_id": customer["id"], "discount_codes": ["STORE-TEST-20"],
                                      "line_items": [{"title": "Espresso", "price": "20.00", "quantity": 2}],
                                      "shipping": "4.90"})
    assert order["discount_codes"] == [{"code": "STORE-TEST-20", "amount": "8.00", "type": "percentage"}]
    assert order["discount_applications"][0]["value"] == "20"
    assert order["total_price"] == "36.90" and order["total_price_set"]["shop_money"]["amount"] == "36.90"
    assert order["customer"]["id"] == customer["id"] and order["customer"]["id"] > 2**53
    refused = store.server.http.post(f"/_devshop/shops/{store.shop.domain}/orders", json={
        "discount_codes": ["STORE-TEST-20"], "email": "guest@example.com",
        "line_items": [{"title": "Tasse", "price": "9.00"}]})
    assert refused.status_code == 422


def test_metafields_set_on_a_customer(store):
    customer = store.gql("{ customers(first: 1) { nodes { id } } }")["data"]["customers"]["nodes"][0]
    mutation = """mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) {
        metafields { key namespace value type } userErrors { field code message elementIndex } } }"""
    ok = store.gql(mutation, {"m": [{"ownerId": customer["id"], "namespace": "facts", "key": "birth_date",
                                     "type": "date", "value": "1990-04-12"}]})["data"]["metafieldsSet"]
    assert ok["userErrors"] == [] and ok["metafields"][0]["value"] == "1990-04-12"
    read = store.gql("""query($id: ID!) { customer(id: $id) { metafield(namespace: "facts", key: "birth_date")
                          { value type } } }""", {"id": customer["id"]})
    assert read["data"]["customer"]["metafield"] == {"value": "1990-04-12", "type": "date"}
    bad = store.gql(mutation, {"m": [{"ownerId": customer["id"], "namespace": "facts", "key": "birth_date",
                                      "type": "date", "value": "12.04.1990"}]})["data"]["metafieldsSet"]
    assert bad["userErrors"][0]["code"] == "INVALID_VALUE" and bad["userErrors"][0]["elementIndex"] == 0
    too_many = [{"ownerId": customer["id"], "namespace": "custom", "key": f"k{i:02d}", "type": "number_integer",
                 "value": str(i)} for i in range(26)]
    assert store.gql(mutation, {"m": too_many})["data"]["metafieldsSet"]["userErrors"][0]["code"] \
        == "LESS_THAN_OR_EQUAL_TO"


def test_refunds_and_cancellations_emit_webhooks(store):
    order = store.control("/orders", {"email": "guest2@example.com", "line_items": [
        {"title": "Mühle", "price": "59.00", "quantity": 1}, {"title": "Filter", "price": "5.00", "quantity": 3}]})
    refund = store.control(f"/orders/{order['id']}/refunds", {"line_items": [
        {"line_item_id": order["line_items"][1]["id"], "quantity": 1}]})
    assert refund["refund_line_items"][0]["subtotal_set"]["shop_money"]["amount"] == "5.00"
    cancelled = store.control(f"/orders/{order['id']}/cancel", {"reason": "customer"})
    assert cancelled["financial_status"] == "refunded" and cancelled["cancel_reason"] == "customer"
    assert cancelled["current_total_price"] == "0.00"
    store.server.wait_for_deliveries(store.shop, lambda rows: len(rows) >= 2, topic="refunds/create")


def test_seeding_is_deterministic(store):
    stats = store.control("/stats", method="GET")
    for name in ("a", "b"):
        other = store.server.create_shop(f"store-seed-{name}")
        store.server._post(f"/_devshop/shops/{other.domain}/seed", SEED)
    a = store.server.http.get("/_devshop/shops/store-seed-a.myshopify.com/stats").json()
    b = store.server.http.get("/_devshop/shops/store-seed-b.myshopify.com/stats").json()
    assert a == b
    assert a["orders"] == store.seeded["orders"] and a["customers"] == SEED["customers"]
    assert a["guest_orders"] > 0 and a["refunds"] > 0 and a["customers_with_birthday"] > 0
    assert stats["orders"] >= a["orders"]
    c = store.server._post("/_devshop/shops", {"domain": "store-seed-c.myshopify.com"})
    store.server._post(f"/_devshop/shops/{c['domain']}/seed", {**SEED, "seed": 43})
    assert store.server.http.get(f"/_devshop/shops/{c['domain']}/stats").json() != a
    time.sleep(0)


def test_cart_attributes_and_the_orders_note_attributes(store):
    # The Ajax Cart API: a theme app extension records a referral visit as a cart attribute.
    storefront = httpx.Client(base_url=store.server.base_url, trust_env=False)
    cart_url = f"/store/{store.shop.domain}/cart"
    updated = storefront.post(f"{cart_url}/update.js", json={"attributes": {"ref": "ANNA-7K2P", "gift": "yes"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["attributes"] == {"ref": "ANNA-7K2P", "gift": "yes"}
    storefront.post(f"{cart_url}/update.js", json={"attributes": {"gift": ""}})  # empty removes, as on Shopify
    assert storefront.get(f"/store/{store.shop.domain}/cart.js").json()["attributes"] == {"ref": "ANNA-7K2P"}
    assert storefront.post(f"{cart_url}/update.js", json={"attributes": ["ref"]}).status_code == 422
    # An order carries them: note_attributes in REST (and its webhooks), customAttributes in GraphQL.
    order = store.control("/orders", {"email": "friend@example.com", "note_attributes": {"ref": "ANNA-7K2P"},
                                      "line_items": [{"title": "Mühle", "price": "59.00"}]})
    assert order["note_attributes"] == [{"name": "ref", "value": "ANNA-7K2P"}]
    node = store.gql("query($id: ID!) { order(id: $id) { customAttributes { key value } } }",
                     {"id": f"gid://shopify/Order/{order['id']}"})["data"]["order"]
    assert node["customAttributes"] == [{"key": "ref", "value": "ANNA-7K2P"}]
