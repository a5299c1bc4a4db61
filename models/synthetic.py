"""Synthetic hard cases for NLI training, made from real sentences of the training sets.

NLI models trained on crowd-sourced pairs learn that high word overlap means
entailment, and so miss the one-token edits fact-checking lives on: a negation,
a wrong number, date, place or name, an antonym. Each generator here takes a
real sentence and makes a minimal edit whose label is known by construction:

* ``negation``   insert or remove "not"/"n't"                       -> contradiction
* ``number``     change a quantity (digits or number words)          -> contradiction
* ``date``       change a month, weekday or year                     -> contradiction
* ``place``      swap a country or city for another one              -> contradiction
* ``name``       swap a person's first name for another one          -> contradiction
* ``antonym``    replace a word with its antonym                     -> contradiction
* ``clause``     one clause of a coordinated sentence                -> entailment
* ``identity``   the sentence itself                                 -> entailment
* ``restate``    the same statement in other words: a contraction
                 spelled out or made, a discourse marker or focus
                 adverb dropped, a number word written in digits     -> entailment
* ``missing-clause``  premise: one clause of a coordinated sentence;
                 hypothesis: the whole sentence                      -> neutral
* ``missing-detail``  premise: the sentence without one time or place
                 phrase ("in Geneva", "on Friday", "in 2014");
                 hypothesis: the whole sentence                      -> neutral

The two ``missing-`` kinds teach that a claim with a detail the passage lacks
is not supported: the checker met "opened on Monday" against "opened on
schedule" and read the overlap as support.

The first shipped model saw only minimal edits labelled contradiction and so
read any near-identical pair as one (a sentence against itself scored 0.74-0.94
contradiction). ``identity`` and ``restate`` are the counterweight: small
surface changes that keep the meaning.

Negation alone does not make a contradiction. ``negated_hypotheses`` takes
real labelled pairs and negates the hypothesis: a neutral hypothesis stays
neutral when negated, an entailed one becomes a contradiction. (A contradicted
one has no reliable label once negated, so it is not used.)

The word lists are small and hand-written: WordNet and NER taggers need model
or corpus downloads we cannot make, and a few hundred frequent news words cover
the edits that matter.
"""

from __future__ import annotations

import random
import re
from collections import Counter

NUMBER_WORDS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve", "twenty", "hundred"]
MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
PLACES = [
    "Afghanistan", "Australia", "Austria", "Belgium", "Brazil", "Canada", "China", "Egypt", "England", "France",
    "Germany", "Greece", "India", "Iran", "Iraq", "Ireland", "Israel", "Italy", "Japan", "Kenya", "Mexico",
    "Nigeria", "Norway", "Pakistan", "Poland", "Russia", "Scotland", "Spain", "Sweden", "Switzerland", "Syria",
    "Turkey", "Ukraine", "Vietnam", "America", "Europe", "Africa", "Asia",
    "London", "Paris", "Berlin", "Moscow", "Washington", "Beijing", "Tokyo", "Rome", "Madrid", "Vienna", "Geneva",
    "Brussels", "Chicago", "Boston", "Texas", "California", "Florida", "New York", "Los Angeles", "Sydney",
    "Toronto", "Delhi", "Cairo", "Istanbul", "Kiev", "Kyiv", "Warsaw", "Dublin", "Oxford", "Cambridge",
]  # fmt: skip
FIRST_NAMES = [
    "John", "Mary", "James", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
    "Daniel", "Paul", "Mark", "George", "Peter", "Susan", "Linda", "Elizabeth", "Jennifer", "Sarah", "Karen",
    "Anna", "Emily", "Jane", "Helen", "Laura", "Maria", "Frank", "Henry", "Jack", "Tom", "Bill", "Sam", "Steve",
    "Sergei", "Vladimir", "Anthony", "Joe", "Donald", "Barack", "Hillary", "Emma", "Alice", "Kate", "Nancy",
]  # fmt: skip
ANTONYM_PAIRS = [
    ("increase", "decrease"), ("increased", "decreased"), ("rose", "fell"), ("rise", "fall"), ("up", "down"),
    ("higher", "lower"), ("more", "fewer"), ("won", "lost"), ("win", "lose"), ("open", "closed"),
    ("opened", "closed"), ("before", "after"), ("accepted", "rejected"), ("accept", "reject"),
    ("allowed", "banned"), ("approved", "rejected"), ("agreed", "refused"), ("supported", "opposed"),
    ("support", "oppose"), ("always", "never"), ("large", "small"), ("big", "small"),
    ("old", "young"), ("long", "short"), ("early", "late"), ("first", "last"), ("good", "bad"), ("best", "worst"),
    ("true", "false"), ("inside", "outside"), ("left", "right"), ("hot", "cold"), ("rich", "poor"),
    ("happy", "sad"), ("strong", "weak"), ("legal", "illegal"), ("possible", "impossible"), ("public", "private"),
    ("start", "end"), ("started", "ended"), ("begin", "finish"), ("arrived", "left"), ("entered", "left"),
    ("bought", "sold"), ("buy", "sell"), ("gained", "lost"), ("success", "failure"), ("succeeded", "failed"),
    ("increase", "cut"), ("raised", "lowered"), ("maximum", "minimum"), ("majority", "minority"),
    ("men", "women"), ("man", "woman"), ("boy", "girl"), ("day", "night"), ("sitting", "standing"),
    ("asleep", "awake"), ("empty", "full"), ("wet", "dry"), ("fast", "slow"), ("cheap", "expensive"),
]  # fmt: skip
AUXILIARIES = {
    "is", "are", "was", "were", "will", "can", "could", "should", "would", "has", "have", "had", "does", "do", "did",
    "must", "may", "might",
}  # fmt: skip
CONTRACTIONS = {
    "isn't": "is", "aren't": "are", "wasn't": "was", "weren't": "were", "won't": "will", "can't": "can",
    "couldn't": "could", "shouldn't": "should", "wouldn't": "would", "hasn't": "has", "haven't": "have",
    "hadn't": "had", "doesn't": "does", "don't": "do", "didn't": "did", "mustn't": "must",
}  # fmt: skip

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_DIGITS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})*(?:\.\d+)?(?![\d,]*\d)")
_YEAR = re.compile(r"\b(1[89]\d\d|20[0-3]\d)\b")


def _replace_word(sentence: str, pattern: str, replacement: str) -> str:
    return re.sub(rf"\b{re.escape(pattern)}\b", replacement, sentence, count=1)


def negate(sentence: str, rng: random.Random) -> str | None:
    words = sentence.split(" ")
    for i, word in enumerate(words):
        bare = word.lower().replace("’", "'")
        if bare in CONTRACTIONS:
            positive = CONTRACTIONS[bare]
            words[i] = positive.capitalize() if word[0].isupper() else positive
            return " ".join(words)
        if i + 1 < len(words) and words[i + 1].lower() == "not" and bare in AUXILIARIES:
            return " ".join(words[: i + 1] + words[i + 2 :])
    for i, word in enumerate(words[:-1]):
        following = words[i + 1]
        if word.lower() not in AUXILIARIES or not (following.isalpha() and following.islower()):
            continue
        # "had a role" is the main verb have, whose negation needs do-support; only auxiliary have is safe.
        if word.lower() in {"has", "have", "had"} and not (following.endswith(("ed", "en")) or following == "been"):
            continue
        return " ".join(words[: i + 1] + ["not"] + words[i + 1 :])
    return None


def change_number(sentence: str, rng: random.Random) -> str | None:
    year = _YEAR.search(sentence)
    for match in _DIGITS.finditer(sentence):
        if year and match.start() == year.start():
            continue
        text = match.group()
        value = float(text.replace(",", ""))
        new = value + rng.choice([1, 2, 3, 5, 10]) if value < 20 else value * rng.choice([0.5, 2, 3, 1.5])
        new_text = f"{new:,.0f}" if "," in text else (f"{new:g}" if "." in text else str(int(new)))
        if new_text != text:
            return sentence[: match.start()] + new_text + sentence[match.end() :]
    for word in NUMBER_WORDS:
        if re.search(rf"\b{word}\b", sentence, flags=re.IGNORECASE):
            other = rng.choice([w for w in NUMBER_WORDS if w != word])
            return re.sub(rf"\b{word}\b", other, sentence, count=1, flags=re.IGNORECASE)
    return None


def change_date(sentence: str, rng: random.Random) -> str | None:
    for vocabulary in (MONTHS, WEEKDAYS):
        for word in vocabulary:
            if re.search(rf"\b{word}\b", sentence):
                return _replace_word(sentence, word, rng.choice([w for w in vocabulary if w != word]))
    year = _YEAR.search(sentence)
    if year:
        new_year = int(year.group()) + rng.choice([-10, -5, -3, -2, -1, 1, 2, 3, 5, 10])
        return sentence[: year.start()] + str(new_year) + sentence[year.end() :]
    return None


def _swap_from(vocabulary: list[str]):
    def swap(sentence: str, rng: random.Random) -> str | None:
        present = [w for w in vocabulary if re.search(rf"\b{re.escape(w)}\b", sentence)]
        if not present:
            return None
        word = rng.choice(present)
        return _replace_word(sentence, word, rng.choice([w for w in vocabulary if w not in present]))

    return swap


_ANTONYMS = {a: b for a, b in ANTONYM_PAIRS} | {b: a for a, b in ANTONYM_PAIRS}


def antonym(sentence: str, rng: random.Random) -> str | None:
    candidates = [m for m in _WORD.finditer(sentence) if m.group() in _ANTONYMS]
    if not candidates:
        return None
    match = rng.choice(candidates)
    return sentence[: match.start()] + _ANTONYMS[match.group()] + sentence[match.end() :]


# A comma is required before the conjunction: "a red and white shirt" coordinates words, not clauses.
_CLAUSE_BREAK = re.compile(r", (?:and|but|while|whereas) |; ")
_SUBJECT_START = re.compile(r"^(?:[A-Z][a-z]+|the|a|an|he|she|they|it|we|i|his|her|their|this|these)\b", re.IGNORECASE)


def clause(sentence: str, rng: random.Random) -> str | None:
    """A clause of a coordinated sentence, as a sentence of its own (entailed)."""
    parts = _CLAUSE_BREAK.split(sentence.rstrip(". "), maxsplit=1)
    if len(parts) != 2:
        return None
    left, right = (p.strip() for p in parts)
    options = [left] if len(left.split()) >= 4 else []
    if len(right.split()) >= 4 and _SUBJECT_START.match(right):
        options.append(right)
    if not options:
        return None
    chosen = rng.choice(options)
    return chosen[0].upper() + chosen[1:] + "."


_DISCOURSE_MARKER = re.compile(r"^(?:However|Meanwhile|Also|Indeed|In fact|Moreover|Furthermore|But|And),? ")
# Focus adverbs whose removal keeps a positive statement true; after "not" it would not ("not just").
_FOCUS_ADVERB = re.compile(r"(?<!\bnot) \b(?:also|still|already|indeed|actually)\b(?=[ ,])")
_DIGIT_WORDS = {"two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}


def _expand_contraction(sentence: str) -> str | None:
    for contraction, auxiliary in CONTRACTIONS.items():
        if re.search(rf"\b{re.escape(contraction)}\b", sentence, flags=re.IGNORECASE):
            spelled = {"won't": "will not", "can't": "cannot"}.get(contraction, f"{auxiliary} not")
            return re.sub(rf"\b{re.escape(contraction)}\b", spelled, sentence, count=1, flags=re.IGNORECASE)
    return None


def _contract(sentence: str) -> str | None:
    match = re.search(r"\b(is|are|was|were|does|do|did|has|have|had|could|should|would) not\b", sentence)
    if not match:
        return None
    return sentence[: match.start()] + match.group(1) + "n't" + sentence[match.end() :]


def _drop_discourse_marker(sentence: str) -> str | None:
    match = _DISCOURSE_MARKER.match(sentence)
    if not match or len(sentence) - match.end() < 10:
        return None
    rest = sentence[match.end() :]
    return rest[0].upper() + rest[1:]


def _drop_focus_adverb(sentence: str) -> str | None:
    if re.search(r"\bnot\b|n't\b", sentence):
        return None
    edited = _FOCUS_ADVERB.sub("", sentence, count=1)
    return edited if edited != sentence else None


def _digits_for_number_word(sentence: str) -> str | None:
    for word, digits in _DIGIT_WORDS.items():
        if re.search(rf"\b{word}\b", sentence):
            return re.sub(rf"\b{word}\b", digits, sentence, count=1)
    return None


def restate(sentence: str, rng: random.Random) -> str | None:
    """The same statement with a meaning-preserving surface change (entailed)."""
    edits = [_expand_contraction, _contract, _drop_discourse_marker, _drop_focus_adverb, _digits_for_number_word]
    candidates = [edited for edit in edits if (edited := edit(sentence)) is not None]
    return rng.choice(candidates) if candidates else None


def identity(sentence: str, rng: random.Random) -> str:
    return sentence


_DETAIL_PHRASE = re.compile(
    r",? \b(?:in|on|at|near|since|during|by|from) (?:the )?"
    r"(?:(?:January|February|March|April|May|June|July|August|September|October|November|December)(?: \d{1,2})?(?:,? \d{4})?"
    r"|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|(?:1[89]|20)\d\d"
    r"|[A-Z][a-z]+(?: [A-Z][a-z]+){0,2})\b"
    r"|,? \b(?:last|next|this) (?:week|month|year|weekend|Monday|Tuesday|Wednesday|Thursday|Friday)\b"
)


def without_detail(sentence: str, rng: random.Random) -> str | None:
    """The sentence without one of its time or place phrases (the premise of a ``missing-detail`` pair)."""
    phrases = [m for m in _DETAIL_PHRASE.finditer(sentence) if m.start() > 0]
    if not phrases:
        return None
    m = rng.choice(phrases)
    shorter = (sentence[: m.start()] + sentence[m.end() :]).strip()
    return shorter if len(shorter.split()) >= 4 else None


# kind: (edit, label, whether the edited sentence is the premise and the original the hypothesis)
GENERATORS = {
    "negation": (negate, "contradiction", False),
    "number": (change_number, "contradiction", False),
    "date": (change_date, "contradiction", False),
    "place": (_swap_from(PLACES), "contradiction", False),
    "name": (_swap_from(FIRST_NAMES), "contradiction", False),
    "antonym": (antonym, "contradiction", False),
    "clause": (clause, "entailment", False),
    "identity": (identity, "entailment", False),
    "restate": (restate, "entailment", False),
    "missing-clause": (clause, "neutral", True),
    "missing-detail": (without_detail, "neutral", True),
}

# What a negated hypothesis becomes, by the pair's original label.
NEGATED_LABEL = {"neutral": "neutral", "entailment": "contradiction"}


def generate(sentences: list[str], per_kind: int, seed: int) -> tuple[list[dict], Counter]:
    """At most ``per_kind`` pairs of each kind, from distinct source sentences, in a reproducible order."""
    rng = random.Random(seed)
    pool = sorted({s.strip() for s in sentences if 5 <= len(s.split()) <= 60})
    rng.shuffle(pool)
    rows: list[dict] = []
    counts: Counter = Counter()
    for kind, (make, label, reverse) in GENERATORS.items():
        for sentence in pool:
            if counts[kind] >= per_kind:
                break
            edited = make(sentence, rng)
            if edited is None or (edited == sentence and make is not identity):
                continue
            premise, hypothesis = (edited, sentence) if reverse else (sentence, edited)
            rows.append({"premise": premise, "hypothesis": hypothesis, "label": label, "kind": kind})
            counts[kind] += 1
    return rows, counts


def negated_hypotheses(pairs: list[dict], per_kind: int, seed: int) -> tuple[list[dict], Counter]:
    """Real neutral and entailed pairs with the hypothesis negated; at most ``per_kind`` of each."""
    rng = random.Random(seed)
    order = sorted(range(len(pairs)), key=lambda i: (pairs[i]["premise"], pairs[i]["hypothesis"]))
    rng.shuffle(order)
    rows: list[dict] = []
    counts: Counter = Counter()
    for i in order:
        pair = pairs[i]
        new_label = NEGATED_LABEL.get(pair["label"])
        kind = f"negated-{pair['label']}"
        if new_label is None or counts[kind] >= per_kind:
            continue
        negated = negate(pair["hypothesis"], rng)
        if negated is None:
            continue
        rows.append({"premise": pair["premise"], "hypothesis": negated, "label": new_label, "kind": kind})
        counts[kind] += 1
    return rows, counts
