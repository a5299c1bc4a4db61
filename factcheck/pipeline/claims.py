"""Claims: given by the user, or extracted from an article as its check-worthy sentences.

An extracted claim keeps its sentence's span in the article, and for reported
speech ("…, the newspaper said, quoting an official") who is said to have said
it. Attribution is found with a few patterns over the sentence: the spaCy and
NER models that would do it from a parse cannot be downloaded here, and news
attribution is formulaic enough ("X said", "according to X", "X told Y that").
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from factcheck.pipeline.ingest import Document, as_id, id_error, json_lines, json_type_name
from factcheck.pipeline.segment import Sentence, split_sentences


@dataclass
class Claim:
    text: str
    id: str
    document_id: str | None = None  # the article it was extracted from, if any
    start: int | None = None  # span of ``text`` in that article
    end: int | None = None
    speaker: str | None = None  # who is said to have said it (reported speech)
    reported_by: str | None = None  # who reports the speaker's words ("the newspaper said, quoting ...")
    # The other fields of the claim's record in a claims file (source, claimant, a gold label...), carried into
    # every result unchanged: what a user gave is never dropped on the way to the report.
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.id = as_id(self.id, "claim")
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"claim {self.id!r}: text must be a non-empty string")
        if self.metadata == {}:
            return  # nothing to check: every claim a checker extracts
        try:
            if not isinstance(self.metadata, dict) or not all(isinstance(key, str) for key in self.metadata):
                raise TypeError("not an object with string keys")
            json.dumps(self.metadata)  # results serialise to JSON, so must everything they carry
        except (TypeError, ValueError) as error:
            raise ValueError(f"claim {self.id!r}: metadata must be a JSON object ({error})") from None

    def to_dict(self) -> dict:
        return asdict(self)


def free_claim_id(number: int, given: set) -> str:
    """The id of a claim given without one: ``claim-<number>``, or ``claim-<number> (no id)`` where another claim
    was given that id, so that a made-up id never clashes with one the user chose."""
    made = f"claim-{number}"
    return made if made not in given else f"{made} (no id)"


def given_claim_ids(records: list) -> set:
    """The ids the records of a claims file (or a batch job's claims) give themselves."""
    return {str(r["id"]) for r in records if isinstance(r, dict) and r.get("id") is not None}


def as_claims(items: Iterable[str | Claim] | str | Claim) -> list[Claim]:
    """Strings become claims ``claim-1``, ``claim-2``, …; ids must be unique. A lone string or claim is one claim."""
    items = [items] if isinstance(items, (str, Claim)) else list(items)  # a lone string is not its characters
    given = {item.id for item in items if isinstance(item, Claim)}
    claims = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, Claim):
            claims.append(item)
        elif isinstance(item, str):
            claims.append(Claim(text=item.strip(), id=free_claim_id(number, given)))
        else:
            raise TypeError(f"claim {number}: expected a string or Claim, got {type(item).__name__}")
    seen: dict[str, int] = {}
    for number, claim in enumerate(claims, start=1):
        if claim.id in seen:
            raise ValueError(f"claims {seen[claim.id]} and {number} share the id {claim.id!r}")
        seen[claim.id] = number
    return claims


_REPORTING_VERBS = r"(?:said|says|added|adds|told|tells|reported|reports|stated|noted|claimed|announced|explained|acknowledged|insisted|wrote|warned)"
_PRONOUNS = {"he", "she", "they", "it", "we", "i"}
_NAME = r"(?P<speaker>(?:[Tt]he |[Aa]n? |[Aa]nother )?[\w’'.-]+(?: [\w’'.-]+){0,6}?)"
_PATTERNS = [
    # “…,” the newspaper said, quoting another official.
    re.compile(rf"[,”\"] *(?P<via>(?:the |The )?[\w’'. -]+?) {_REPORTING_VERBS}, quoting (?P<speaker>[^,.]+)"),
    # “…,” he added.  /  …, the Washington Post reported.  /  “…,” she told reporters outside parliament.
    # ("…, according to reports." is the next pattern's: "according to" is no name, "reports" no verb there.)
    re.compile(
        rf"[,”\"] *(?![Aa]ccording to ){_NAME} {_REPORTING_VERBS}"
        r"(?: (?:in|at|on|during|after|before|outside|from|to|reporters|journalists)(?: [\w’'-]+){0,5})?[.!]?[”\"]?$"
    ),
    # According to the newspaper, …
    re.compile(r"(?:^|, )[Aa]ccording to (?P<speaker>[^,]+)"),
    # [At a press conference,] Lavrov told reporters that …  /  Sources also told the Washington Post that …
    re.compile(rf"(?:^|, ){_NAME} (?:also )?{_REPORTING_VERBS}(?: [\w ]+?)? that\b"),
    # Mayor Ana Ribeiro said the delay was caused by … (no "that"): a capitalised speaker opening the sentence, a
    # verb that takes a clause, and the clause's first word in lower case ("The company reported a loss" is a
    # report of a loss, not reported speech, so "reported" and "announced" are not among these verbs).
    re.compile(
        r"^(?P<speaker>(?:The |An? )?[A-Z][\w’'.-]*(?: [\w’'.-]+){0,5}?)"
        r"(?<! was)(?<! were)(?<! is)(?<! are)(?<! has)(?<! have)(?<! had) (?:also )?"  # not "The hearing was told"
        r"(?:said|says|added|stated|claimed|insisted|warned|told \w+)(?: on \w+)? (?=[a-z])"
    ),
]


# What the patterns can take for a name and is none: a relative pronoun or a conjunction ("…, who said that",
# "But he said that"), or a passive ("the tribunal was told that").
_NOT_A_SPEAKER = re.compile(
    r"^(?:who|whom|which|that|but|and|or|so|yet|while|as|if)\b|\b(?:was|were|is|are|has|have|had|been|be)$", re.IGNORECASE
)


def attribution(sentence: str) -> tuple[str | None, str | None]:
    """(speaker, reported_by) of a sentence of reported speech, or (None, None)."""
    for pattern in _PATTERNS:
        match = pattern.search(sentence.strip())
        if match:
            groups = match.groupdict()
            via = groups.get("via")
            # "..., according to the port authority." ends the sentence, not the name.
            speaker = groups["speaker"].strip(" '‘’`\"“”")
            if not re.search(r"(?:\b[A-Z]\.){2,}$", speaker):  # but "the U.S." keeps its dots
                speaker = speaker.rstrip(".!?”\"")
            if _NOT_A_SPEAKER.search(speaker):
                return None, None
            return speaker, via.strip() if via else None
    return None, None


_BOILERPLATE = re.compile(
    r"(all rights reserved|©|copyright|subscribe|sign up|click here|read more|follow us|newsletter|cookie|"
    r"^photo:|^image:|^video:|https?://)",
    re.IGNORECASE,
)
MIN_WORDS = 5


def is_check_worthy(sentence: str) -> bool:
    """A factual statement: long enough, not a question, not page furniture."""
    text = sentence.strip()
    if len(text.split()) < MIN_WORDS or text.rstrip("”\"' ").endswith("?"):
        return False
    return not _BOILERPLATE.search(text)


def extract_claims(document: Document, sentences: list[Sentence] | None = None) -> list[Claim]:
    """The check-worthy sentences of ``document`` as claims, with spans and attribution."""
    claims = []
    last_named_speaker: str | None = None
    last_via: str | None = None
    for sentence in sentences if sentences is not None else split_sentences(document):
        speaker, via = attribution(sentence.text)
        if speaker and speaker.lower() in _PRONOUNS and last_named_speaker:
            # "“…,” he added." continues the quote of the last named speaker.
            speaker, via = last_named_speaker, via or last_via
        elif speaker:
            last_named_speaker, last_via = speaker, via
        if not is_check_worthy(sentence.text):
            continue
        claims.append(
            Claim(
                text=sentence.text,
                id=f"{document.id}#{sentence.index}",
                document_id=document.id,
                start=sentence.start,
                end=sentence.end,
                speaker=speaker,
                reported_by=via,
            )
        )
    return claims


def _claim_record(line: str) -> bool:
    """Whether a line is a JSON object that holds a claim."""
    if not line.lstrip().startswith("{"):
        return False
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and ("claim" in record or "text" in record)


class ClaimInputError(ValueError):
    """A claims file that cannot be read; the message names the file and line."""


def claim_from_record(record: object, number: int, given: set = frozenset()) -> Claim:
    """The claim of one JSON object of a claims file: its ``claim`` (or ``text``), its ``id`` (``free_claim_id``
    if it has none; ``given``: the ids of the file's other records) and its other fields as ``metadata``;
    ValueError says what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {json_type_name(record)}")
    text_field = "claim" if "claim" in record else "text"
    text = record.get(text_field)
    if not isinstance(text, str) or not text.strip():
        raise ValueError("field 'claim' (or 'text') must be a non-empty string")
    claim_id = record["id"] if "id" in record else free_claim_id(number, given)
    if problem := id_error(claim_id):
        raise ValueError(problem)
    metadata = {key: value for key, value in record.items() if key not in (text_field, "id")}
    return Claim(text.strip(), id=str(claim_id), metadata=metadata)


def _csv_claims(text: str, source: str, delimiter: str) -> list[Claim]:
    """A table of claims with a header: a ``claim`` (or ``text``) column, an optional ``id``, the other columns the
    claim's metadata (strings, as the table holds them). Read as lines of text, a header became a claim and
    every claim kept its id and quotes in its text."""
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = reader.fieldnames or []
    if "claim" not in columns and "text" not in columns:
        raise ClaimInputError(f"{source}, line 1: a table of claims needs a 'claim' (or 'text') column; its header is {columns}")
    rows = []
    for row in reader:
        where = f"{source}, line {reader.line_num}"
        if None in row:
            raise ClaimInputError(f"{where}: more cells than the header has columns")
        if not any((value or "").strip() for value in row.values()):
            continue
        rows.append((where, {key: value for key, value in row.items() if key != "id" or (value or "").strip()}))
    if not rows:
        raise ClaimInputError(f"{source}: no claims")
    return _claims_of_records(rows, source)


def _claims_of_records(records: list[tuple[str, object]], source: str) -> list[Claim]:
    """The claims of a file's records, each (where, record); an error names the record, or the file for ids."""
    given = given_claim_ids([record for _, record in records])
    claims = []
    for number, (where, record) in enumerate(records, start=1):
        try:
            claims.append(claim_from_record(record, number, given))
        except ValueError as error:
            raise ClaimInputError(f"{where}: {error}") from None
    try:
        return as_claims(claims)
    except ValueError as error:
        raise ClaimInputError(f"{source}: {error}") from error


JSON_LINES_SUFFIXES = frozenset({".jsonl", ".json", ".ndjson"})


def parse_claims(text: str, source: str) -> list[Claim]:
    """Claims from JSON lines (``claim`` or ``text``, optional ``id``, any other fields kept as ``metadata``) or,
    for plain text, one claim a line. A ``.jsonl``/``.json`` file is JSON lines, every line of it; another file is
    plain text unless (stdin, an unknown extension) its first line is a JSON object. A JSON claim record in plain
    text is an error: it would be checked as the claim ``{"id": ...``, its id and fields lost."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise ClaimInputError(f"{source}: no claims")
    suffix = Path(source).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return _csv_claims(text, source, "\t" if suffix == ".tsv" else ",")
    known_plain = suffix in (".txt", ".text", ".md")
    if suffix not in JSON_LINES_SUFFIXES and (known_plain or not lines[0][1].lstrip().startswith("{")):
        for n, line in lines:
            if _claim_record(line):
                raise ClaimInputError(
                    f"{source}, line {n}: a JSON claim record in a file of one claim a line (the lines before it are "
                    "not JSON); make every line a JSON record, in a .jsonl file"
                )
        return as_claims(Claim(line.strip(), id=f"claim-{n}") for n, line in lines)
    return _claims_of_records(json_lines(text, source, ClaimInputError), source)
