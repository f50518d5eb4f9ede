"""The theme app extension: Shopify's own linter (theme-check, offline) finds nothing, every label
exists in the six languages, and every asset stays within Shopify's 10 kB app-block budget."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "extensions" / "loyalty-widget"
LANGUAGES = ["de", "sv", "et", "el", "mk"]


def test_theme_check_finds_no_offense():
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@shopify" / "theme-check-node").exists():
        pytest.skip("node or @shopify/theme-check-node missing (make assets installs it)")
    result = subprocess.run([node, "scripts/theme-check.js", str(EXTENSION)], cwd=ROOT, capture_output=True,  # noqa: S603
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_every_language_has_every_label():
    def keys(tree, prefix=""):
        return {k for key, value in tree.items()
                for k in (keys(value, f"{prefix}{key}.") if isinstance(value, dict) else [prefix + key])}

    english = keys(json.loads((EXTENSION / "locales" / "en.default.json").read_text()))
    liquid = "".join(block.read_text() for block in sorted((EXTENSION / "blocks").glob("*.liquid")))
    assert all(f"'{key}' | t" in liquid for key in english)
    for language in LANGUAGES:
        assert keys(json.loads((EXTENSION / "locales" / f"{language}.json").read_text())) == english, language


def test_assets_stay_within_the_app_block_budget():
    for asset in sorted((EXTENSION / "assets").iterdir()):
        assert asset.stat().st_size <= 10_000, asset.name
