"""Admin GraphQL fields the partners side answers: webhook subscriptions and the app installation.

Imported by devshop.store.graphql.schema when it builds the schema. Objects are returned as dicts
with camelCase keys; the store's default resolver reads dict keys for fields without a resolver.
Only subscriptions created through the API are listed: app-specific (toml) subscriptions are
managed by Shopify and do not show up in `webhookSubscriptions`.
"""
from __future__ import annotations

from graphql import GraphQLError

from devshop.store.formats import InvalidGid, iso_utc, parse_gid
from devshop.store.graphql.registry import register

from .models import WebhookSubscription
from .services import webhook_subscription_create, webhook_subscription_delete
from .services.webhooks import UserError
from .topics import to_enum, to_topic


def _installation(info):
    installation = info.context.get("installation")
    if installation is None:
        raise GraphQLError("This field needs an app installation", extensions={"code": "ACCESS_DENIED"})
    return installation


def _gid(pk: int) -> str:
    return f"gid://shopify/WebhookSubscription/{pk}"


def _subscription(sub: WebhookSubscription) -> dict:
    app = sub.installation.app
    return {
        "__typename": "WebhookSubscription",
        "id": _gid(sub.pk),
        "legacyResourceId": str(sub.pk),
        "topic": to_enum(sub.topic),
        "uri": sub.uri,
        "callbackUrl": sub.uri,
        "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": sub.uri},
        "format": sub.format.upper(),
        "includeFields": list(sub.include_fields),
        "filter": sub.filter or None,
        "metafieldNamespaces": [],
        "metafields": [],
        "name": None,
        "createdAt": iso_utc(sub.created_at),
        "updatedAt": iso_utc(sub.updated_at),
        "apiVersion": {
            "__typename": "ApiVersion",
            "handle": app.webhooks_api_version,
            "displayName": app.webhooks_api_version,
            "supported": True,
        },
    }


def _user_errors(errors: list[UserError]) -> list[dict]:
    return [{"field": e.field, "message": e.message} for e in errors]


def _pk(value: str) -> int | None:
    try:
        return parse_gid(value, "WebhookSubscription")[1]
    except InvalidGid:
        return None


def _api_subscriptions(info):
    return WebhookSubscription.objects.filter(
        installation=_installation(info), source=WebhookSubscription.SOURCE_API
    ).select_related("installation__app")


def resolve_create(obj, info, topic: str, webhookSubscription: dict):
    installation = _installation(info)
    rest_topic = to_topic(topic)
    if rest_topic is None:
        return {"webhookSubscription": None, "userErrors": [{"field": ["topic"], "message": "Topic is invalid"}]}
    spec = webhookSubscription or {}
    uri_field = "uri" if spec.get("uri") else "callbackUrl"
    sub, errors = webhook_subscription_create(
        installation=installation,
        topic=rest_topic,
        uri=spec.get("uri") or spec.get("callbackUrl") or "",
        format=(spec.get("format") or "JSON").lower(),
        include_fields=spec.get("includeFields") or [],
        filter=spec.get("filter") or "",
        uri_field=uri_field,
    )
    return {"webhookSubscription": _subscription(sub) if sub else None, "userErrors": _user_errors(errors)}


def resolve_update(obj, info, id: str, webhookSubscription: dict):
    pk = _pk(id)
    sub = _api_subscriptions(info).filter(pk=pk).first() if pk else None
    if sub is None:
        return {"webhookSubscription": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}
    spec = webhookSubscription or {}
    uri = spec.get("uri") or spec.get("callbackUrl")
    if uri:
        from .services.webhooks import _uri_error

        error = _uri_error(uri)
        if error:
            return {"webhookSubscription": None,
                    "userErrors": [{"field": ["webhookSubscription", "uri"], "message": error}]}
        sub.uri = uri
    if spec.get("includeFields") is not None:
        sub.include_fields = list(spec["includeFields"])
    if spec.get("filter") is not None:
        sub.filter = spec["filter"]
    sub.save()
    return {"webhookSubscription": _subscription(sub), "userErrors": []}


def resolve_delete(obj, info, id: str):
    pk = _pk(id)
    errors = (
        webhook_subscription_delete(installation=_installation(info), subscription_id=pk)
        if pk
        else [UserError(["id"], "Webhook subscription does not exist")]
    )
    return {"deletedWebhookSubscriptionId": None if errors else id, "userErrors": _user_errors(errors)}


def resolve_subscriptions(obj, info, first=None, last=None, after=None, before=None, reverse=False,
                          topics=None, uri=None, callbackUrl=None, format=None, query=None, sortKey=None):
    from devshop.store.graphql.resolvers.common import paginate

    qs = _api_subscriptions(info)
    if topics:
        qs = qs.filter(topic__in=[to_topic(t) for t in topics])
    if uri or callbackUrl:
        qs = qs.filter(uri=uri or callbackUrl)
    sort_field = "created_at" if sortKey == "CREATED_AT" else "id"
    page = paginate(qs, sort_field=sort_field, is_datetime=sort_field == "created_at", first=first, last=last,
                    after=after, before=before, reverse=bool(reverse), connection_name="webhookSubscriptions")
    page["nodes"] = [_subscription(n) for n in page["nodes"]]
    page["edges"] = [{"cursor": e["cursor"], "node": _subscription(e["node"])} for e in page["edges"]]
    return page


def resolve_subscription(obj, info, id: str):
    pk = _pk(id)
    sub = _api_subscriptions(info).filter(pk=pk).first() if pk else None
    return _subscription(sub) if sub else None


def resolve_current_app_installation(obj, info):
    installation = _installation(info)
    app = installation.app
    return {
        "__typename": "AppInstallation",
        "id": f"gid://shopify/AppInstallation/{installation.pk}",
        "accessScopes": [{"handle": s, "description": s.replace("_", " ")} for s in installation.granted_scopes],
        "launchUrl": f"https://{installation.shop.domain}/admin/apps/{app.client_id}",
        "uninstallUrl": None,
        "app": {
            "__typename": "App",
            "id": f"gid://shopify/App/{app.pk}",
            "title": app.name,
            "handle": app.handle or None,
            "apiKey": app.client_id,
            "embedded": app.embedded,
            "appStoreAppUrl": None,
            "developerName": "devshop",
        },
    }


register("Mutation", "webhookSubscriptionCreate", resolve_create)
register("Mutation", "webhookSubscriptionUpdate", resolve_update)
register("Mutation", "webhookSubscriptionDelete", resolve_delete)
register("QueryRoot", "webhookSubscriptions", resolve_subscriptions)
register("QueryRoot", "webhookSubscription", resolve_subscription)
register("QueryRoot", "currentAppInstallation", resolve_current_app_installation)
