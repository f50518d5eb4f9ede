"""Product words per shop language and transliteration for e-mail addresses."""
import unicodedata

PRODUCT_WORDS = {
    "de": (("Klassik", "Bio", "Premium", "Alltags", "Fein", "Wald", "Haus", "Sommer"),
           ("Kaffee", "Espresso", "Filterkaffee", "Tasse", "Mühle", "Kanne", "Geschenkset", "Entkoffeiniert",
            "Kaltbrüh-Set", "Milchschäumer")),
    "sv": (("Klassisk", "Mjuk", "Varm", "Ekologisk", "Nordisk", "Fjäll", "Skärgård", "Vinter"),
           ("Tröja", "Mössa", "Vantar", "Sockor", "Halsduk", "Filt", "Kofta", "Garn", "Pläd", "Tofflor")),
    "et": (("Klassikaline", "Käsitöö", "Metsa", "Rabamaa", "Saare", "Talve", "Villane", "Puidust"),
           ("Kindad", "Müts", "Sokid", "Sall", "Korv", "Lusikas", "Lõikelaud", "Küünal", "Seep", "Tekk")),
    "el": (("Κλασικό", "Βιολογικό", "Κρητικό", "Παρθένο", "Αρωματικό", "Παραδοσιακό", "Εκλεκτό", "Ορεινό"),
           ("Ελαιόλαδο", "Μέλι", "Ελιές", "Ρίγανη", "Σαπούνι", "Τσάι", "Θυμάρι", "Παστέλι", "Κρασί", "Ξίδι")),
    "mk": (("Класичен", "Домашен", "Охридски", "Планински", "Свеж", "Традиционален", "Рачно", "Сончев"),
           ("Ајвар", "Мед", "Чај", "Сапун", "Накит", "Вино", "Ракија", "Сирење", "Килим", "Бисер")),
    "en": (("Classic", "Organic", "Premium", "Everyday", "Fine", "Forest", "Home", "Summer"),
           ("Coffee", "Mug", "Grinder", "Kettle", "Gift Set", "Tea", "Blanket", "Candle", "Soap", "Scarf")),
}

VARIANT_SETS = (("Default Title",), ("S", "M", "L"), ("250 g", "500 g", "1 kg"), ("Natur", "Schwarz"))

_MAP = {
    # Greek
    "α": "a", "ά": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "έ": "e", "ζ": "z", "η": "i", "ή": "i",
    "θ": "th", "ι": "i", "ί": "i", "ϊ": "i", "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o",
    "ό": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t", "υ": "y", "ύ": "y", "φ": "f", "χ": "ch",
    "ψ": "ps", "ω": "o", "ώ": "o",
    # Macedonian Cyrillic
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ѓ": "gj", "е": "e", "ж": "zh", "з": "z", "ѕ": "dz",
    "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "ќ": "kj", "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "ch", "џ": "dz",
    "ш": "sh",
    # German and Nordic letters with established spellings
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "å": "a",
}


def ascii_slug(text: str) -> str:
    out = []
    for ch in text.lower():
        if ch in _MAP:
            out.append(_MAP[ch])
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        out.append(base if base.isascii() and (base.isalnum()) else "")
    return "".join(out)
