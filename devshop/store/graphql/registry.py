"""Field resolvers by (type name, field name), attached to the official schema when it is built.

Both devshop apps register here: the store's own modules in `devshop.store.graphql.resolvers`, the partners
app in `devshop/partners/graphql_resolvers.py` (imported by `schema.get_schema()`). A resolver has
graphql-core's signature `(obj, info, **args)`; `info.context` is a dict with `shop`, `installation`,
`request` (and store-internal keys).

Objects returned to abstract types (interfaces, unions) name their GraphQL type either as a
`"__typename"` key (dicts) or a `graphql_type_name` attribute / class attribute (other objects); models of
the store are mapped in `schema.py`.
"""
from collections.abc import Callable
from typing import Any

Resolver = Callable[..., Any]

_resolvers: dict[tuple[str, str], Resolver] = {}
_listeners: list[Callable[[str, str, Resolver], None]] = []


def register(type_name: str, field_name: str, resolver: Resolver) -> None:
    """Register (or replace) the resolver of `type_name.field_name`."""
    _resolvers[(type_name, field_name)] = resolver
    for listener in _listeners:
        listener(type_name, field_name, resolver)


def resolver(type_name: str, field_name: str) -> Callable[[Resolver], Resolver]:
    """Decorator form of `register`."""

    def decorate(fn: Resolver) -> Resolver:
        register(type_name, field_name, fn)
        return fn

    return decorate


def registered() -> dict[tuple[str, str], Resolver]:
    return dict(_resolvers)


def on_register(listener: Callable[[str, str, Resolver], None]) -> None:
    """Called for registrations made after the schema was built (late imports)."""
    _listeners.append(listener)
