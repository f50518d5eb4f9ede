"""Markets the development store seeds: currency, language, country, time zone, VAT and names."""
from dataclasses import dataclass
from decimal import Decimal

# Standard VAT rates (2026) of the markets devshop knows; prices in these shops include tax.
VAT = {"DE": Decimal("0.19"), "SE": Decimal("0.25"), "EE": Decimal("0.24"), "GR": Decimal("0.24"),
       "MK": Decimal("0.18"), "AT": Decimal("0.20"), "FI": Decimal("0.255"), "US": Decimal("0")}

# Presentment currency -> units per 1 EUR (fixed, so seeded shops are deterministic).
EUR_RATES = {"EUR": Decimal("1"), "SEK": Decimal("11.20"), "MKD": Decimal("61.50"), "USD": Decimal("1.08"),
             "GBP": Decimal("0.85"), "DKK": Decimal("7.46"), "NOK": Decimal("11.60"), "PLN": Decimal("4.30"),
             "CHF": Decimal("0.95")}


def tax_rate(country_code: str) -> Decimal:
    return VAT.get(country_code, Decimal("0.20"))


def fx_rate(shop_currency: str, presentment_currency: str) -> Decimal:
    """Presentment units per shop unit."""
    if shop_currency == presentment_currency:
        return Decimal(1)
    if shop_currency not in EUR_RATES or presentment_currency not in EUR_RATES:
        raise ValueError(f"devshop has no exchange rate {shop_currency}->{presentment_currency}")
    return EUR_RATES[presentment_currency] / EUR_RATES[shop_currency]


@dataclass(frozen=True)
class Preset:
    key: str
    domain: str
    name: str
    currency: str
    locale: str
    country: str
    timezone: str
    other_currencies: tuple[str, ...]
    first_names_f: tuple[str, ...]
    first_names_m: tuple[str, ...]
    last_names: tuple[str, ...]
    email_domains: tuple[str, ...]
    phone_prefix: str
    cities: tuple[str, ...]
    price_scale: Decimal  # catalogue prices relative to EUR (MKD prices are ~60x)
    shipping: Decimal
    free_shipping_over: Decimal


PRESETS = {
    "de": Preset(
        "de", "demo-de.myshopify.com", "Kaffeerösterei Sommer", "EUR", "de", "DE", "Europe/Berlin",
        ("CHF", "DKK", "PLN"),
        ("Anna", "Lena", "Sophie", "Marie", "Laura", "Julia", "Katharina", "Hannah", "Lea", "Sarah", "Emma",
         "Mia", "Johanna", "Clara", "Charlotte", "Ursula", "Sabine", "Petra", "Monika", "Jana"),
        ("Lukas", "Jonas", "Leon", "Felix", "Maximilian", "Paul", "Tobias", "Jan", "Niklas", "Florian", "Stefan",
         "Thomas", "Michael", "Andreas", "Matthias", "Jürgen", "Klaus", "Wolfgang", "Tim", "Moritz"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
         "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
         "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann"),
        ("gmx.de", "web.de", "t-online.de", "gmail.com", "posteo.de", "outlook.de"), "+49",
        ("Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Stuttgart", "Leipzig", "Dresden"),
        Decimal("1"), Decimal("4.90"), Decimal("49"),
    ),
    "se": Preset(
        "se", "demo-se.myshopify.com", "Nordisk Ull", "SEK", "sv", "SE", "Europe/Stockholm", ("EUR", "NOK", "DKK"),
        ("Anna", "Eva", "Maria", "Karin", "Sara", "Lena", "Emma", "Kristina", "Elin", "Ida", "Maja", "Ebba",
         "Linnéa", "Astrid", "Saga", "Ingrid"),
        ("Erik", "Lars", "Karl", "Anders", "Johan", "Per", "Nils", "Mikael", "Oskar", "Lucas", "William",
         "Hugo", "Axel", "Gustav", "Björn", "Måns"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
         "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Lindström",
         "Lindqvist", "Åberg", "Söderberg", "Ekström"),
        ("gmail.com", "hotmail.se", "telia.com", "outlook.com", "live.se"), "+46",
        ("Stockholm", "Göteborg", "Malmö", "Uppsala", "Västerås", "Örebro", "Linköping", "Umeå"),
        Decimal("11"), Decimal("59"), Decimal("599"),
    ),
    "ee": Preset(
        "ee", "demo-ee.myshopify.com", "Metsamaja Käsitöö", "EUR", "et", "EE", "Europe/Tallinn", ("SEK", "USD"),
        ("Mari", "Kadri", "Liis", "Kristiina", "Anu", "Piret", "Triin", "Maarja", "Kätlin", "Helen", "Sandra",
         "Laura", "Eliise", "Mirjam"),
        ("Andres", "Tõnu", "Jaan", "Toomas", "Rein", "Märt", "Kristjan", "Siim", "Rasmus", "Martin", "Priit",
         "Indrek", "Karl", "Ott"),
        ("Tamm", "Saar", "Sepp", "Mägi", "Kask", "Kukk", "Rebane", "Ilves", "Pärn", "Koppel", "Lepik", "Põder",
         "Oja", "Kivi", "Mets", "Vaher", "Luik", "Raudsepp"),
        ("gmail.com", "hot.ee", "mail.ee", "online.ee"), "+372",
        ("Tallinn", "Tartu", "Narva", "Pärnu", "Kohtla-Järve", "Viljandi"),
        Decimal("1"), Decimal("3.99"), Decimal("40"),
    ),
    "gr": Preset(
        "gr", "demo-gr.myshopify.com", "Ελαιώνας Κρήτης", "EUR", "el", "GR", "Europe/Athens", ("USD", "GBP"),
        ("Μαρία", "Ελένη", "Αικατερίνη", "Βασιλική", "Σοφία", "Αγγελική", "Γεωργία", "Δήμητρα", "Κωνσταντίνα",
         "Παναγιώτα", "Ιωάννα", "Χριστίνα"),
        ("Γιώργος", "Κωνσταντίνος", "Γιάννης", "Δημήτρης", "Νίκος", "Παναγιώτης", "Βασίλης", "Χρήστος",
         "Αθανάσιος", "Μιχάλης", "Ευάγγελος", "Σπύρος"),
        ("Παπαδόπουλος", "Βλάχος", "Αγγελόπουλος", "Νικολάου", "Γεωργίου", "Παπαδάκης", "Οικονόμου",
         "Καραγιάννης", "Μακρής", "Δημητρίου", "Ιωάννου", "Κωνσταντίνου", "Αντωνίου", "Παπανικολάου"),
        ("gmail.com", "yahoo.gr", "hotmail.gr", "otenet.gr"), "+30",
        ("Αθήνα", "Θεσσαλονίκη", "Πάτρα", "Ηράκλειο", "Λάρισα", "Βόλος", "Χανιά"),
        Decimal("1"), Decimal("3.50"), Decimal("50"),
    ),
    "mk": Preset(
        "mk", "demo-mk.myshopify.com", "Охридски Бисер", "MKD", "mk", "MK", "Europe/Skopje", ("EUR",),
        ("Марија", "Елена", "Ана", "Ивана", "Сара", "Јована", "Билјана", "Снежана", "Весна", "Катерина",
         "Магдалена", "Теодора"),
        ("Александар", "Никола", "Стефан", "Марко", "Горан", "Дејан", "Зоран", "Филип", "Бојан", "Игор",
         "Давид", "Петар"),
        ("Петровски", "Николовски", "Стојановски", "Трајковски", "Јовановски", "Илиевски", "Ристовски",
         "Димитровски", "Костовски", "Андоновски", "Атанасовски", "Спасовски", "Митревски"),
        ("gmail.com", "yahoo.com", "t-home.mk", "hotmail.com"), "+389",
        ("Скопје", "Битола", "Куманово", "Прилеп", "Тетово", "Охрид", "Велес"),
        Decimal("61"), Decimal("150"), Decimal("3000"),
    ),
}
