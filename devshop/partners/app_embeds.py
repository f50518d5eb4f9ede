"""Theme app extensions' app embeds on the development store's storefront.

Shopify renders an app embed block (`blocks/*.liquid` whose schema has `"target": "body"`, switched on in
the theme editor) before `</body>` of every storefront page and loads the schema's `javascript` (deferred)
and `stylesheet` from its CDN. devshop does the same for every installed app whose deployed toml has
extensions in Shopify CLI's layout (`<toml dir>/extensions/*/shopify.extension.toml`, `type = "theme"`):
embeds count as switched on, and assets are served from `/cdn/extensions/{client_id}/{extension}/assets/`.

devshop has no Liquid engine. The block is rendered by substituting the few constructs app embeds need
and refusing anything else, so a block that grows beyond them fails loudly here instead of rendering
wrong:
- `{% comment %}…{% endcomment %}` (dropped) and `{% schema %}…{% endschema %}` (read, dropped);
- output tags `{{ x | f | g }}` where x is a quoted string or one of VARIABLES below, and the filters
  are `t` (the extension's locales/<lang>.json, falling back to en.default.json), `json`, `escape`,
  `asset_url` and `default: '…'`.
Variables: `request.origin` (what `https://{shop}` is here: the storefront base URL), `request.locale.iso_code`
(the shop's primary locale, or `?locale=` on the page), `routes.root_url`, `routes.cart_url`,
`routes.account_login_url`, `routes.account_register_url`, `customer.id` (blank for guests),
`shop.name`, and `block.settings.<id>` (the schema's defaults).
"""
from __future__ import annotations

import html
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from .models import App, Installation

COMMENT_RE = re.compile(r"{%-?\s*comment\s*-?%}.*?{%-?\s*endcomment\s*-?%}", re.S)
SCHEMA_RE = re.compile(r"{%-?\s*schema\s*-?%}(.*?){%-?\s*endschema\s*-?%}", re.S)
OUTPUT_RE = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)
TAG_RE = re.compile(r"{%.*?%}", re.S)
STRING_RE = re.compile(r"""^(['"])(.*)\1$""", re.S)


class UnsupportedLiquid(ValueError):
    pass


@dataclass(frozen=True)
class Embed:
    app: App
    extension: str
    directory: Path
    source: str
    schema: dict


def extensions_dir(app: App) -> Path | None:
    return Path(app.toml_source).parent / "extensions" if app.toml_source else None


def _theme_extensions(app: App) -> list[Path]:
    root = extensions_dir(app)
    if root is None or not root.is_dir():
        return []
    found = []
    for toml_path in sorted(root.glob("*/shopify.extension.toml")):
        config = tomllib.loads(toml_path.read_text())
        types = [config.get("type")] + [e.get("type") for e in config.get("extensions", [])]
        if "theme" in types:
            found.append(toml_path.parent)
    return found


def app_embeds_for(shop) -> list[Embed]:
    apps = App.objects.filter(pk__in=Installation.objects.filter(shop=shop, uninstalled_at__isnull=True)
                              .values("app_id")).order_by("pk")
    embeds = []
    for app in apps:
        for directory in _theme_extensions(app):
            for block in sorted((directory / "blocks").glob("*.liquid")):
                source = block.read_text()
                match = SCHEMA_RE.search(source)
                schema = json.loads(match.group(1)) if match else {}
                if schema.get("target") == "body":
                    embeds.append(Embed(app, directory.name, directory, source, schema))
    return embeds


def _translations(directory: Path, locale: str) -> tuple[dict, dict]:
    def load(name: str) -> dict:
        path = directory / "locales" / name
        return json.loads(path.read_text()) if path.exists() else {}

    default = next((load(p.name) for p in sorted((directory / "locales").glob("*.default.json"))), {})
    return load(f"{locale}.json"), default


def _lookup(tree: dict, key: str):
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str) else None


def asset_url(embed: Embed, name: str) -> str:
    return f"{settings.DEVSHOP_PUBLIC_URL}/cdn/extensions/{embed.app.client_id}/{embed.extension}/assets/{name}"


def render_embed(embed: Embed, *, shop, customer, locale: str) -> SafeString:
    storefront = f"{settings.DEVSHOP_PUBLIC_URL}/store/{shop.domain}"
    variables = {
        "request.origin": storefront,
        "request.locale.iso_code": locale,
        "routes.root_url": f"/store/{shop.domain}/",
        "routes.cart_url": f"/store/{shop.domain}/cart",
        "routes.account_login_url": f"/store/{shop.domain}/account/login",
        # devshop has no sign-up page: customers are created through the control API.
        "routes.account_register_url": f"/store/{shop.domain}/account/login",
        "customer.id": str(customer.pk) if customer else "",
        "shop.name": shop.name,
    }
    for setting in embed.schema.get("settings", []):
        if "id" in setting:
            variables[f"block.settings.{setting['id']}"] = setting.get("default", "")
    own, default = _translations(embed.directory, locale)

    def output(match: re.Match) -> str:
        expr, *filters = [part.strip() for part in match.group(1).split("|")]
        literal = STRING_RE.match(expr)
        if literal:
            value = literal.group(2)
        elif expr in variables:
            value = variables[expr]
        else:
            raise UnsupportedLiquid(f"{embed.extension}: devshop does not know the Liquid variable {expr!r}")
        escaped = False
        for f in filters:
            name, _, arg = f.partition(":")
            name = name.strip()
            if name == "t":
                value = _lookup(own, value) or _lookup(default, value) or f"translation missing: {locale}.{value}"
            elif name == "json":
                value, escaped = json.dumps(value, ensure_ascii=False).replace("</", "<\\/"), True
            elif name == "escape":
                value, escaped = html.escape(str(value)), True
            elif name == "asset_url":
                value = asset_url(embed, value)
            elif name == "default":
                value = value or STRING_RE.match(arg.strip()).group(2)
            else:
                raise UnsupportedLiquid(f"{embed.extension}: devshop does not know the Liquid filter {name!r}")
        # Liquid prints raw; a value that no filter escaped is escaped here so a customer's data can never
        # inject markup into the development store's pages.
        return str(value) if escaped else html.escape(str(value))

    body = SCHEMA_RE.sub("", COMMENT_RE.sub("", embed.source))
    leftover = TAG_RE.search(body)
    if leftover:
        raise UnsupportedLiquid(f"{embed.extension}: devshop does not render the Liquid tag {leftover.group(0)!r}")
    rendered = OUTPUT_RE.sub(output, body)
    tags = []
    if embed.schema.get("stylesheet"):
        tags.append(f'<link rel="stylesheet" href="{html.escape(asset_url(embed, embed.schema["stylesheet"]))}">')
    if embed.schema.get("javascript"):
        tags.append(f'<script src="{html.escape(asset_url(embed, embed.schema["javascript"]))}" defer></script>')
    return mark_safe("\n".join(tags) + "\n" + rendered)  # noqa: S308 - the app's own extension, as Shopify renders it


def storefront_embeds(request, shop, customer) -> list[SafeString]:
    locale = (request.GET.get("locale") or shop.primary_locale or "en").split("-")[0]
    return [render_embed(e, shop=shop, customer=customer, locale=locale) for e in app_embeds_for(shop)]
