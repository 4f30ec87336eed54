"""A corpus for redaction: personal data in many formats and positions, and look-alikes that must survive.

Each case is (text, secrets, keep): every string in `secrets[kind]` must be gone from the redacted text and
`[KIND]` must stand in its place; every string in `keep` (amounts, dates, times, plain numbers) must still be
there; a case without secrets (see NEGATIVES) must come back unchanged. Cards and IBANs are valid numbers (Luhn,
mod-97); phones cover many countries and writing styles; addresses several countries' formats.
"""

from __future__ import annotations

import itertools
import random

EMAILS = [
    "anna.schmidt@example.com",
    "JOHN_DOE@Example.CO.UK",
    "li.wei+orders@mail.example.cn",
    "m-o'brien@example.ie",
    "x@ex.io",
    "first.last@sub.domain.example.org",
    "support123@example.net",
    "peter.jones2019@example.com",
    "o.okafor@example.com.ng",
    "a.b-c_d@example-shop.de",
    "yuki.tanaka@example.jp",
    "carlos+test@example.es",
    "j@example.museum",
    "info@xn--example-9ta.com",
    "sam.taylor@example.travel",
    "ravi.k@example.in",
    "noreply@notifications.example.com",
    "first_last@example.fr",
    "marie.curie@example.pl",
    "tom@example.co",
]
PHONES = [
    "+44 20 7946 0958",
    "+1 (202) 555-0173",
    "202-555-0173",
    "(202) 555 0173",
    "+49 30 12345678",
    "0049 30 1234567",
    "+33 1 23 45 67 89",
    "01 23 45 67 89",
    "07700 900123",
    "+91 98765 43210",
    "98765-43210",
    "+61 2 9876 5432",
    "+81 3-1234-5678",
    "020 7946 0958",
    "+353 1 234 5678",
    "1-800-555-0199",
    "+1.202.555.0173",
    "202.555.0173",
    "+852 2345 6789",
    "+27 21 123 4567",
    "+55 11 91234-5678",
    "+7 495 123-45-67",
    "0800 123 4567",
    "555-0134",
    "+34 612 345 678",
    "+39 06 1234 5678",
    "+31 20 123 4567",
    "(03) 9876 5432",
    "+65 6123 4567",
    "+86 10 1234 5678",
    "2025550173",
    "+442079460958",
]
IBANS = [
    "GB82 WEST 1234 5698 7654 32",
    "GB82WEST12345698765432",
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "FR14 2004 1010 0505 0001 3M02 606",
    "ES91 2100 0418 4502 0005 1332",
    "NL91 ABNA 0417 1643 00",
    "IT60 X054 2811 1010 0000 0123 456",
    "BE68 5390 0754 7034",
    "CH93 0076 2011 6238 5295 7",
    "AT61 1904 3002 3457 3201",
    "IE29 AIBK 9311 5212 3456 78",
    "PL61 1090 1014 0000 0712 1981 2874",
    "SE45 5000 0000 0583 9825 7466",
    "NO93 8601 1117 947",
]
NAMES = [  # (text, the name it holds)
    ("my name is Anna Schmidt and my card was declined", "Anna Schmidt"),
    ("Hello, this is John Carter. I was charged twice.", "John Carter"),
    ("I spoke to Peter Jones yesterday but nothing happened", "Peter Jones"),
    ("Maria Lopez here, my refund has not arrived", "Maria Lopez"),
    ("The parcel was signed for by Ahmed Khan but I never got it", "Ahmed Khan"),
    ("Can you update the account holder to Sophie Martin please", "Sophie Martin"),
    ("my name is priya and i cannot log in", "priya"),
    ("Dear Emily, the app keeps crashing when I pay", "Emily"),
    ("Please cancel my order.\nThanks,\nDavid Miller", "David Miller"),
    ("I want to close my account. Regards, Olivia Brown", "Olivia Brown"),
    ("My husband Robert Wilson set up the transfer", "Robert Wilson"),
    ("This is Kenji Watanabe, the delivery never came", "Kenji Watanabe"),
    ("Agent Laura Becker told me the fee would be refunded", "Laura Becker"),
    ("i am called tomasz and my top up failed", "tomasz"),
    ("Hi, I'm Fatima Al-Sayed and I need a new PIN", "Fatima Al-Sayed"),
    ("The card is in the name of Grace Okafor", "Grace Okafor"),
    ("Thanks for your help, Michael Chen", "Michael Chen"),
    ("Could Daniel Rossi call me back about the dispute", "Daniel Rossi"),
    ("My daughter Chloe Dubois lost her card", "Chloe Dubois"),
    ("name: Lucas Fernandes, issue: double charge", "Lucas Fernandes"),
    ("I transferred money to James Smith and it bounced", "James Smith"),
    ("Ivan Petrov is my account manager and he is not answering", "Ivan Petrov"),
    ("Best regards,\nHannah Schmidt", "Hannah Schmidt"),
    ("my name's liam o'connor, my account is locked", "liam o'connor"),
    ("Please ask Aisha Bello to check my complaint", "Aisha Bello"),
    ("Olumide Petrov, my husband, opened the account last year", "Olumide Petrov"),
    ("Please add Tomasz Nowak, my son, as a second card holder", "Tomasz Nowak"),
    ("my wife Ines Duarte cannot log in to the app", "Ines Duarte"),
    ("My partner, Sven Larsen, made the payment", "Sven Larsen"),
    ("the refund should go to my mother Agnieszka Kowalska", "Agnieszka Kowalska"),
    ("His full name is Jakob McGee and he passed away in May", "Jakob McGee"),
    ("This is Mr. Stull, I need a new card", "Stull"),
    ("The transfer is still pending. Thanks Priyanka", "Priyanka"),
    ("where is my refund?\ncheers, tomek", "tomek"),
    ("Please close my account.\nbr,\nJonas Berg", "Jonas Berg"),
    ("my name is raja booking confirmation number hyu 524", "raja"),
    ("Hi! Im Roberta and I want to check my last bill", "Roberta"),
]
ADDRESSES = [  # house number and street, with or without unit, town and postcode; PO boxes; postcodes after a state
    "Flat 2, 8 Maple Avenue, London NW1 6XE",
    "221B Baker Street, London NW1 6XE",
    "10 Downing St, London SW1A 2AA",
    "Apartment 12, 77 Kings Road, Chelsea, London SW3 4NT",
    "14 Victoria Crescent, Leeds LS6 2AB",
    "Apt 4B, 350 5th Avenue, New York, NY 10118",
    "1600 Amphitheatre Parkway, Mountain View, CA 94043",
    "455 Patterson Road, Garden City, NY",
    "4819 Woodey Boulevard, Pittsburgh, PA 15213",
    "5158 Peck Ave, carlton, KS 67448",
    "Suite 200, 1 Market St, San Francisco, CA 94105-1234",
    "77 Sunset Blvd, Los Angeles, CA 90028",
    "3 Elm Ct",
    "98 Pine Ln",
    "742 Evergreen Terrace, Springfield",
    "1 Infinite Loop, Cupertino, CA 95014",
    "12 oak street",
    "704 buffington road",
    "PO Box 1234",
    "P.O. Box 77, Springfield, IL 62704",
    "24 Sussex Drive, Ottawa, ON K1A 0B1",
    "Unit 5, 40 Harbour Rd, Sydney NSW 2000",
    "Hauptstraße 5, 10115 Berlin",
    "Keizersgracht 123, 1015 CJ Amsterdam",
    "12 rue de la Paix, 75002 Paris",
    "Dallas, TX 75201",
    "Springfield, IL 62704",
    "K1A 0B1",
    "NW1 6XE",
]
IDENTITY_NUMBERS = [  # (text, the number): passport, ID card, licence, tax and National Insurance numbers
    ("my passport number is A1234567", "A1234567"),
    ("my account number is AB12345678", "AB12345678"),
    ("Hola, mi DNI es 12345678Z y no puedo entrar", "12345678Z"),
    ("Mi número de pasaporte es AB1234567", "AB1234567"),
    ("meine Personalausweisnummer ist L01X00T47", "L01X00T47"),
    ("ID: A7654321", "A7654321"),
    ("passport no. C01X00T47 expires soon", "C01X00T47"),
    ("ID card number T22000129", "T22000129"),
    ("driving licence MORGA753116SM9IJ", "MORGA753116SM9IJ"),
    ("tax id DE123456789 on the invoice is wrong", "DE123456789"),
    ("my NI number is AB 12 34 56 C", "AB 12 34 56 C"),
    ("iban gb82west12345698765432 please", "gb82west12345698765432"),  # in lower case: no IBAN check reads it
]
POSTCODES = ["73301", "94105-1234", "nw1 6xe", "K1A 0B1", "1012 AB", "560001"]  # only known by the word before them
NEGATIVES = [  # look-alikes of names and addresses that must come back unchanged
    "my card is broken",
    "My card is broken.",
    "it was charged in february",
    "I bought it at best buy",
    "best buy charged me twice",
    "thanks for the help",
    "Thanks for the help!",
    "regards to my last order, nothing came",
    "Do you accept Mastercard?",
    "Can I choose from either Visa or Mastercard?",
    "How do I set up Apple Pay?",
    "My Google Pay top up failed",
    "I was charged on Monday and again on Friday",
    "The payment from January is missing",
    "I swapped Russian Ruble for UK pounds and was charged too much",
    "Where is the nearest Mastercard ATM?",
    "hi there, my card was declined",
    "ya sure",
    "ok thank you bye",
    "nothing else thanks",
    "10 gb data plan",
    "I have 2 cards and 3 accounts",
    "I called 3 times in 5 days",
    "thanks, that works",
    "Thanks, got it",
    "Cancel Transaction",
    "Best, I hope you can help",
    "Sincerely disappointed with the service",
    "thank you so much",
    "the branch on main street closed",
    "there were 2 charges on the road trip",
    "I tried 3 different ways to pay",
    "order 12345 was late",
    "I paid 250 dollars on 15/01/2024 at 10:30",
    "I have been a customer for 12 years",
    "Why was I charged 4 times for the same order?",
    "Thanks\nKind regards",
    "my 2015 VW was towed",
    "the 2 Visa Cards arrived",
    "I need the 4GB plan",
    "Can I pay in Euros?",
    "flight AA 1234 was cancelled",
    "my name is wrong on the card",
    "this is unacceptable",
    "this is of no use to me",
    "How can it be that my Card is not functioning anymore?",
    "I prefer Mastecard.",
    "my iPhone 15 and Galaxy S23 both broke",
    "flight BA2490 was moved, and my covid19 test too",
    "the a320neo seat had no mp3 jack and 4G was off",
    "update KB5034441 failed and my 10000mAh battery died",  # codes of letters and digits, named as no identity
    "error id 0x80070005 after build 20240115a",
    "我的订单12345还没到，请帮忙",
    "my account shows error E12345X when I log in",  # a name, then other words: an error code
    "app id com.acme12345 keeps crashing",
    "the tax invoice lists item PRD123456",
]
KEEP = [  # amounts, dates, times and plain numbers that must not be taken for personal data
    "$1,234.56",
    "€50",
    "1.234,56 EUR",
    "250 dollars",
    "£12.99",
    "USD 1,000",
    "2024-01-15",
    "15/01/2024",
    "01.02.2023",
    "10:30",
    "14:45:00",
    "2023",
    "3 times",
    "15%",
    "2 cards",
    "€ 1 250,00",
    "2024-03-01 09:15",
    "5 days",
    "100 GBP",
    "order 12345",
]

TEMPLATES = {
    "EMAIL": [
        "my email is {}",
        "please write to {} instead",
        "{} never got the receipt",
        "Contact: {}",
        "I changed my address from {} and now I can't log in",
    ],
    "PHONE": [
        "call me on {}",
        "my number is {} please call back",
        "{} is my mobile",
        "Tel: {}",
        "I tried calling {} but nobody answered",
    ],
    "CARD": [
        "my card {} was charged twice",
        "card number: {}",
        "please block {} immediately",
        "the payment with {} failed",
        "{} is the card I lost",
    ],
    "IBAN": ["send the refund to {}", "my IBAN is {}", "IBAN: {} (old account)", "the transfer to {} bounced"],
    "ADDRESS": [
        "I live at {}",
        "please send the new card to {} instead",
        "my address is {} and the card never came",
        "Address: {}",
        "I moved to {} last month",
    ],
}
POSTCODE_TEMPLATES = ["my zip code is {}", "postcode: {}", "the postal code {} is wrong", "zip {} please"]


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in range(10):
        candidate = digits + str(check)
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return candidate


def card_numbers(rng: random.Random) -> list[str]:
    """Valid numbers of the main schemes, written plain, in groups of four, with dashes, and Amex 4-6-5."""
    out = []
    for prefix, length in [
        ("4", 16),
        ("51", 16),
        ("55", 16),
        ("2221", 16),
        ("34", 15),
        ("37", 15),
        ("6011", 16),
        ("35", 16),
        ("36", 14),
        ("4", 13),
        ("62", 19),
    ]:
        number = luhn_complete(prefix, length, rng)
        if length == 15:
            out += [number, f"{number[:4]} {number[4:10]} {number[10:]}"]
        else:
            out += [
                number,
                " ".join(number[i : i + 4] for i in range(0, length, 4)),
                "-".join(number[i : i + 4] for i in range(0, length, 4)),
            ]
    return out


def cases() -> list[tuple[str, dict[str, list[str]], list[str]]]:
    rng = random.Random(2026)
    values = {"EMAIL": EMAILS, "PHONE": PHONES, "CARD": card_numbers(rng), "IBAN": IBANS, "ADDRESS": ADDRESSES}
    out = []
    for kind, items in values.items():  # each value in two sentences
        templates = itertools.cycle(TEMPLATES[kind])
        for item in items:
            out += [(next(templates).format(item), {kind: [item]}, []) for _ in range(2)]
    for text, name in NAMES:
        out.append((text, {"NAME": [name]}, []))
    out += [(text, {"NUMBER": [number]}, []) for text, number in IDENTITY_NUMBERS]
    templates = itertools.cycle(POSTCODE_TEMPLATES)
    out += [(next(templates).format(code), {"ADDRESS": [code]}, []) for code in POSTCODES for _ in range(2)]
    out += [(text, {}, []) for text in NEGATIVES]
    for keep, (kind, items) in zip(KEEP, itertools.cycle(values.items())):
        item = rng.choice(items)
        out.append((f"I paid {keep} on my card and {TEMPLATES[kind][0].format(item)}", {kind: [item]}, [keep]))
        out.append((f"the charge of {keep} is wrong", {}, [keep]))
    out.append(
        (
            f"call {PHONES[0]} or email {EMAILS[0]}, card {values['CARD'][1]}",
            {"PHONE": [PHONES[0]], "EMAIL": [EMAILS[0]], "CARD": [values["CARD"][1]]},
            [],
        )
    )
    return out
