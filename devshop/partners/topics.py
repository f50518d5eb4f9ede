"""Webhook topics: GraphQL enum `ORDERS_CREATE` <-> REST `orders/create`.

The mapping is read from the descriptions in Shopify's own schema ("The webhook topic for
`orders/create` events."), because splitting the enum name is ambiguous
(BULK_OPERATIONS_FINISH is `bulk_operations/finish`, ORDERS_PARTIALLY_FULFILLED is
`orders/partially_fulfilled`).
"""
from __future__ import annotations

import gzip
import json
import re
from functools import lru_cache

from django.conf import settings

_TOPIC_IN_DESCRIPTION = re.compile(r"`([a-z0-9_]+/[a-z0-9_]+)`")


@lru_cache(maxsize=1)
def enum_to_topic() -> dict[str, str]:
    with gzip.open(settings.DEVSHOP_SCHEMA_PATH) as fh:
        schema = json.load(fh)["data"]["__schema"]
    mapping: dict[str, str] = {}
    for type_ in schema["types"]:
        if type_["name"] != "WebhookSubscriptionTopic":
            continue
        for value in type_["enumValues"]:
            match = _TOPIC_IN_DESCRIPTION.search(value.get("description") or "")
            mapping[value["name"]] = match.group(1) if match else value["name"].lower().replace("_", "/", 1)
    return mapping


@lru_cache(maxsize=1)
def topic_to_enum() -> dict[str, str]:
    return {topic: enum for enum, topic in enum_to_topic().items()}


def to_topic(enum_value: str) -> str | None:
    return enum_to_topic().get(enum_value)


def to_enum(topic: str) -> str:
    return topic_to_enum().get(topic) or topic.upper().replace("/", "_")
