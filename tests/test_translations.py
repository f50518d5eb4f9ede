"""The message catalogues: complete, placeholder-safe, compiled and actually used at render time.

Parses locale/<lang>/LC_MESSAGES/django.po with a small reader (no polib dependency) and checks every entry;
then renders real templates and strings under translation.override.
"""
import ast
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.template.loader import render_to_string
from django.utils import translation

LANGS = ("de", "sv", "et", "el", "mk")
PLURAL_FORMS = {
    "de": "nplurals=2; plural=(n != 1);",
    "sv": "nplurals=2; plural=(n != 1);",
    "et": "nplurals=2; plural=(n != 1);",
    "el": "nplurals=2; plural=(n != 1);",
    "mk": "nplurals=2; plural=(n % 10 == 1 && n % 100 != 11) ? 0 : 1;",
}
LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
# %(name)s-style and bare %s/%d placeholders, and {name} / {{ name }} ones; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%\([^)]*\)[#0 +-]*\d*(?:\.\d+)?[sdifrx]|%[sdifr]|\{\{.*?\}\}|\{\w*\}")


def _unquote(text: str) -> str:
    return ast.literal_eval(text)


def read_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (list of forms), flags; obsolete ones dropped."""
    entries, entry, field = [], None, None

    def finish():
        if entry is not None and "msgid" in entry:
            entries.append(entry)

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if entry is not None and "msgid" in entry and field is not None:
                finish()
                entry, field = None, None
            if entry is None:
                entry = {"flags": set(), "msgstr": {}}
            if line.startswith("#,"):
                entry["flags"].update(f.strip() for f in line[2:].split(","))
            continue
        if line.startswith('"'):
            value = _unquote(line)
            if isinstance(field, int):
                entry["msgstr"][field] += value
            else:
                entry[field] += value
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and entry is not None and "msgid" in entry:
            finish()
            entry = None
        if entry is None:
            entry = {"flags": set(), "msgstr": {}}
        match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        if match:
            field = int(match.group(1))
            entry["msgstr"][field] = _unquote(rest)
        elif keyword == "msgstr":
            field = 0
            entry["msgstr"][0] = _unquote(rest)
        else:
            field = keyword
            entry[field] = _unquote(rest)
    finish()
    for e in entries:
        e["msgstr"] = [e["msgstr"][k] for k in sorted(e["msgstr"])]
    return entries


def placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER.findall(text))


@pytest.fixture(scope="module")
def compiled():
    """Compile the catalogues when a .mo is missing or older than its .po, and drop cached translations."""
    stale = [lang for lang in LANGS
             if not (LOCALE_DIR / lang / "LC_MESSAGES" / "django.mo").exists()
             or (LOCALE_DIR / lang / "LC_MESSAGES" / "django.mo").stat().st_mtime
             < (LOCALE_DIR / lang / "LC_MESSAGES" / "django.po").stat().st_mtime]
    if stale:
        call_command("compilemessages", locale=stale, ignore_patterns=[".venv", "node_modules", "static"],
                     verbosity=0)
        from django.utils.translation import trans_real

        trans_real._translations.clear()
        trans_real._default = None
    yield


@pytest.mark.parametrize("lang", LANGS)
def test_catalogue_is_complete_and_placeholder_safe(lang):
    entries = read_po(LOCALE_DIR / lang / "LC_MESSAGES" / "django.po")
    header, messages = entries[0], entries[1:]
    assert header["msgid"] == ""
    assert "fuzzy" not in header["flags"], "a fuzzy header is ignored by msgfmt (and with it Plural-Forms)"
    assert f"Plural-Forms: {PLURAL_FORMS[lang]}" in header["msgstr"][0]
    assert f"Language: {lang}" in header["msgstr"][0]
    assert len(messages) > 100
    problems = []
    for e in messages:
        where = f"{e.get('msgctxt', '')}|{e['msgid']!r}"
        if "fuzzy" in e["flags"]:
            problems.append(f"fuzzy: {where}")
        forms = e["msgstr"]
        if "msgid_plural" in e:
            if len(forms) != 2:
                problems.append(f"needs 2 plural forms: {where}")
            wanted = (placeholders(e["msgid"]), placeholders(e["msgid_plural"]))
        else:
            wanted = (placeholders(e["msgid"]),)
        for form in forms:
            if not form.strip():
                problems.append(f"untranslated: {where}")
            elif placeholders(form) not in wanted:
                problems.append(f"placeholders {dict(placeholders(form))} != {dict(wanted[-1])}: {where}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang,customers,orders", [
    ("de", "Kunden", "Bestellungen"),
    ("sv", "Kunder", "Ordrar"),
    ("et", "Kliendid", "Tellimused"),
    ("el", "Πελάτες", "Παραγγελίες"),
    ("mk", "Клиенти", "Нарачки"),
])
def test_strings_are_translated_at_runtime(compiled, lang, customers, orders):
    with translation.override(lang):
        assert translation.gettext("Customers") == customers
        assert translation.gettext("Orders") == orders


def test_plural_forms_follow_each_language(compiled):
    def points(n):
        return translation.ngettext("%(points)s point", "%(points)s points", n) % {"points": n}

    with translation.override("de"):
        assert [points(1), points(2)] == ["1 Punkt", "2 Punkte"]
    with translation.override("mk"):
        # Macedonian: singular for 1, 21, 31 … but not 11.
        assert [points(1), points(11), points(21), points(5)] == ["1 поен", "11 поени", "21 поен", "5 поени"]
    with translation.override("el"):
        assert [points(1), points(3)] == ["1 πόντος", "3 πόντοι"]


def test_day_counts_and_referral_points_have_plural_forms(compiled):
    from decimal import Decimal

    from referrals.models import ReferralProgramme
    from referrals.services.emails import referrer_reward_text
    from reports.templatetags.report_format import report_value

    with translation.override("et"):
        assert [report_value(Decimal("1"), "days"), report_value(Decimal("27.4"), "days")] == ["1 päev", "27 päeva"]
    with translation.override("mk"):
        assert [report_value(1, "days"), report_value(21, "days"), report_value(2, "days")] == \
            ["1 ден", "21 ден", "2 дена"]
    programme = ReferralProgramme(referrer_reward_kind=ReferralProgramme.ReferrerRewardKind.POINTS, referrer_points=1)
    with translation.override("el"):
        # "you get 1 point": the accusative, singular
        assert referrer_reward_text(None, programme) == "1 πόντο"
        programme.referrer_points = 500
        assert referrer_reward_text(None, programme) == "500 πόντους"


def test_real_templates_render_translated(compiled):
    with translation.override("de"):
        html = render_to_string("shops/landing.html")
    assert "Kundenbindung für Shopify" in html
    assert "Customer retention" not in html

    context = {"first_name": "Ana", "shop_name": "Alpha", "offer": "10 %", "code": "FRIEND-1",
               "apply_url": "https://alpha.example/discount/FRIEND-1", "ends_at": None}
    with translation.override("mk"):
        text = render_to_string("referrals/email/friend_code.txt", context)
    assert "Здраво Ana," in text
    assert "Пријател Ве покани во Alpha." in text
    assert "Важи за Вашата прва нарачка." in text

    with translation.override("sv"):
        text = render_to_string("referrals/email/friend_code.txt", context)
    assert "En vän har bjudit in dig till Alpha." in text


EXT_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{\w+\}")
EXTENSION_LOCALES = sorted((Path(settings.BASE_DIR) / "extensions").glob("*/locales"))


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


@pytest.mark.parametrize("locales", EXTENSION_LOCALES, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("lang", LANGS)
def test_theme_extension_locales_are_complete(locales, lang):
    source = _flatten(json.loads((locales / "en.default.json").read_text(encoding="utf-8")))
    target = _flatten(json.loads((locales / f"{lang}.json").read_text(encoding="utf-8")))
    assert sorted(source) == sorted(target)
    for key, text in source.items():
        assert target[key].strip(), key
        assert sorted(EXT_PLACEHOLDER.findall(target[key])) == sorted(EXT_PLACEHOLDER.findall(text)), key
