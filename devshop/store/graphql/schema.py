"""Shopify's official Admin schema, loaded once per process, with devshop's resolvers attached.

Fields nobody registered a resolver for keep working on plain dicts (payload objects, money, page info)
and fail with a clear "devshop does not implement Type.field" error on anything else, so an unsupported
field is never silently null.
"""
import gzip
import importlib
import json
import logging
import threading

from django.conf import settings
from graphql import (
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
)

from . import registry

log = logging.getLogger(__name__)

_lock = threading.Lock()
_schema: GraphQLSchema | None = None

RESOLVER_MODULES = [
    "devshop.store.graphql.resolvers.shop",
    "devshop.store.graphql.resolvers.customers",
    "devshop.store.graphql.resolvers.orders",
    "devshop.store.graphql.resolvers.metafields",
    "devshop.store.graphql.resolvers.discounts",
    "devshop.store.graphql.resolvers.bulk",
    "devshop.store.graphql.resolvers.store_credit",
    "devshop.store.graphql.resolvers.node",
]
PARTNERS_MODULE = "devshop.partners.graphql_resolvers"


def _unimplemented(type_name: str, field_name: str):
    def resolve(obj, info, **args):
        if isinstance(obj, dict):
            return obj.get(field_name)
        raise GraphQLError(
            f"devshop does not implement {type_name}.{field_name}",
            extensions={"code": "DEVSHOP_NOT_IMPLEMENTED"},
        )

    return resolve


def model_type_name(obj) -> str | None:
    if isinstance(obj, dict):
        return obj.get("__typename")
    name = getattr(obj, "graphql_type_name", None)
    if name:
        return name
    from .resolvers.common import MODEL_TYPE_NAMES

    return MODEL_TYPE_NAMES.get(type(obj).__name__)


def _resolve_type(obj, info, abstract_type):
    name = model_type_name(obj)
    if name is None:
        raise GraphQLError(f"devshop cannot tell the concrete type of {abstract_type.name} for {obj!r}")
    return name


def _attach(schema: GraphQLSchema, type_name: str, field_name: str, resolver) -> None:
    gtype = schema.get_type(type_name)
    if not isinstance(gtype, GraphQLObjectType) or field_name not in gtype.fields:
        # A typo in a registration must not pass silently: it would leave a field unresolved.
        raise RuntimeError(f"cannot register a resolver for unknown field {type_name}.{field_name}")
    gtype.fields[field_name].resolve = resolver


def build_schema() -> GraphQLSchema:
    with gzip.open(settings.DEVSHOP_SCHEMA_PATH) as fh:
        introspection = json.load(fh)["data"]
    # assume_valid: Shopify's schema trips graphql-core's strict check on deprecated interface fields.
    schema = build_client_schema(introspection, assume_valid=True)
    for gtype in schema.type_map.values():
        if gtype.name.startswith("__"):
            continue
        if isinstance(gtype, GraphQLObjectType):
            for fname, field in gtype.fields.items():
                field.resolve = _unimplemented(gtype.name, fname)
        elif isinstance(gtype, (GraphQLInterfaceType, GraphQLUnionType)):
            gtype.resolve_type = _resolve_type
    for module in RESOLVER_MODULES:
        importlib.import_module(module)
    try:
        importlib.import_module(PARTNERS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != PARTNERS_MODULE:
            raise
        log.info("devshop.partners.graphql_resolvers not present; partners' fields stay unimplemented")
    for (type_name, field_name), resolver in registry.registered().items():
        _attach(schema, type_name, field_name, resolver)
    registry.on_register(lambda t, f, r: _attach(schema, t, f, r))
    return schema


def get_schema() -> GraphQLSchema:
    global _schema
    if _schema is None:
        with _lock:
            if _schema is None:
                _schema = build_schema()
    return _schema
