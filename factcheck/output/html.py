"""A self-contained HTML report: one file that a browser opens without any network.

For a ``Report``: per claim a verdict badge and confidence, then each source
with its deciding passage shown inside its neighbouring sentences and the key
span highlighted; contradictions come first. For a ``Comparison`` the findings
come with both articles side by side, each claim and its evidence marked and
numbered, and each number linking to its counterpart in the other article.

The page holds no script at all (its Content-Security-Policy forbids them and
any fetch), and every text that comes from a user goes through Jinja2's
autoescaping, so markup inside an article shows as text and never runs.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise

from factcheck.pipeline.ingest import Document
from factcheck.pipeline.segment import split_sentences
from factcheck.results import (
    CONTRADICTED,
    NOT_MENTIONED,
    SUPPORTED,
    VERDICT_ORDER,
    ClaimResult,
    Comparison,
    Evidence,
    Report,
)

# Most alarming first: a reader triages contradictions before anything else.


@dataclass
class Mark:
    """A highlighted range of a document; ``anchor`` is a numbered link placed where the range starts."""

    start: int
    end: int
    css: str
    anchor: dict | None = None


@dataclass
class Segment:
    text: str
    css: str  # classes of every mark covering it; empty for plain text
    anchors: list[dict] = field(default_factory=list)


def segments(text: str, start: int, end: int, marks: Iterable[Mark]) -> list[Segment]:
    """``text[start:end]`` cut at every mark boundary, each piece with the classes of the marks covering it.

    Marks may nest and overlap (a key span inside its passage, one passage evidence for two claims).
    """
    marks = sorted((m for m in marks if start <= m.start < m.end <= end), key=lambda m: (m.start, -m.end))
    cuts = sorted({start, end, *(m.start for m in marks), *(m.end for m in marks)})
    pieces, active, following = [], [], 0
    for left, right in pairwise(cuts):
        opening = []
        while following < len(marks) and marks[following].start == left:
            opening.append(marks[following])
            following += 1
        active = [m for m in active if m.end > left] + opening
        pieces.append(
            Segment(text[left:right], " ".join(m.css for m in active), [m.anchor for m in opening if m.anchor])
        )
    return pieces


class _Article:
    """A document with its sentences, to show a passage among its neighbours."""

    def __init__(self, document: Document):
        self.document = document

    @cached_property
    def _sentences(self) -> tuple[list[int], list[int]]:
        sentences = split_sentences(self.document)
        return [s.start for s in sentences], [s.end for s in sentences]

    def context(self, start: int, end: int) -> tuple[int, int]:
        """The range from the sentence before ``start`` to the sentence after ``end``."""
        starts, ends = self._sentences
        if not starts:
            return start, end
        first = max(bisect_right(starts, start) - 2, 0)
        last = min(bisect_left(ends, end) + 1, len(ends) - 1)
        return min(starts[first], start), max(ends[last], end)


def _lead(result: ClaimResult) -> Evidence | None:
    return result.evidence[0] if result.evidence and result.verdict != NOT_MENTIONED else None


def _passage(evidence: Evidence, role: str, verdict: str, article: _Article) -> dict:
    marks = [Mark(evidence.start, evidence.end, "passage")]
    if evidence.key_span:
        marks.append(Mark(evidence.key_span.start, evidence.key_span.end, f"key key-{verdict}"))
    start, end = article.context(evidence.start, evidence.end)
    text = article.document.text
    return {
        "role": role,
        "probabilities": evidence.probabilities,
        "rule": evidence.rule,
        "mismatches": evidence.mismatches,
        "segments": segments(text, start, end, marks),
        # An ellipsis only where text is left out, not a line break or spaces.
        "cut_before": bool(text[:start].strip()),
        "cut_after": bool(text[end:].strip()),
    }


def _source(result: ClaimResult, article: _Article) -> dict:
    """One source's verdict on a claim: the deciding passage, and the strongest other side if it differs."""
    shown = []
    lead = _lead(result)
    if lead:
        shown.append(_passage(lead, "deciding passage", result.verdict, article))
        for other, role, verdict in (
            (result.best_support, "strongest support", SUPPORTED),
            (result.best_contradiction, "strongest contradiction", CONTRADICTED),
        ):
            if other is not None and (other.start, other.end) != (lead.start, lead.end):
                shown.append(_passage(other, role, verdict, article))
    return {
        "document_id": result.document_id,
        "verdict": result.verdict,
        "confidence": result.confidence,
        "passages": shown,
        "warnings": result.warnings,
    }


def _claim_cards(results: list[ClaimResult], articles: dict[str, _Article], not_checked: dict[str, int]) -> list[dict]:
    by_claim: dict[str, list[ClaimResult]] = {}
    for r in results:
        by_claim.setdefault(r.claim.id, []).append(r)
    cards = []
    for claim_results in by_claim.values():
        ordered = sorted(claim_results, key=lambda r: (VERDICT_ORDER[r.verdict], -r.confidence))
        cards.append(
            {
                "results": ordered,
                "sources": [_source(r, articles[r.document_id]) for r in ordered],
                "links": [],
                "not_checked": not_checked.get(ordered[0].claim.id, 0),
            }
        )
    cards.sort(key=lambda card: VERDICT_ORDER[card["results"][0].verdict])
    for number, card in enumerate(cards, start=1):
        card["number"] = number
    return cards


def _anchor(name: str, href: str, number: int, verdict: str) -> dict:
    return {"id": name, "href": href, "label": number, "verdict": verdict}


def _side_by_side(comparison: Comparison, cards: list[dict], articles: dict[str, _Article]) -> list[dict]:
    """Both articles in full, each claim and its evidence marked, numbered as the findings and cross-linked."""
    side = {comparison.document_a: "a", comparison.document_b: "b"}
    marks: dict[str, list[Mark]] = {"a": [], "b": []}
    for card in cards:
        (result,) = card["results"]
        number, verdict, claim, lead = card["number"], result.verdict, result.claim, _lead(result)
        here, there = side[claim.document_id], side[result.document_id]
        if claim.start is not None:
            counterpart = f"#{there}-{number}" if lead else f"#claim-{number}"
            marks[here].append(
                Mark(
                    claim.start,
                    claim.end,
                    f"claim claim-{verdict}",
                    _anchor(f"{here}-{number}", counterpart, number, verdict),
                )
            )
            card["links"].append((f"claim in {here.upper()}", f"#{here}-{number}"))
        if lead:
            back = _anchor(f"{there}-{number}", f"#{here}-{number}", number, verdict)
            marks[there].append(Mark(lead.start, lead.end, f"evidence evidence-{verdict}", back))
            card["links"].append((f"evidence in {there.upper()}", f"#{there}-{number}"))
            if lead.key_span:
                marks[there].append(Mark(lead.key_span.start, lead.key_span.end, f"key key-{verdict}"))
    columns = []
    for document_id, name in side.items():
        text = articles[document_id].document.text
        columns.append(
            {"side": name, "document_id": document_id, "segments": segments(text, 0, len(text), marks[name])}
        )
    return columns


def render_html(
    report: Report, documents: Iterable[Document], *, title: str | None = None, model: str | None = None
) -> str:
    """The report as one HTML page; ``documents`` are the sources (and, for a comparison, the two articles)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    articles = {d.id: _Article(d) for d in documents}
    missing = sorted({r.document_id for r in report.results} - articles.keys())
    if missing:
        raise ValueError(f"render_html needs the text of every source; not given: {', '.join(missing)}")
    cards = _claim_cards(report.results, articles, report.not_checked)
    comparison = isinstance(report, Comparison)
    columns = _side_by_side(report, cards, articles) if comparison else []
    counts = {v: sum(r.verdict == v for r in report.results) for v in VERDICT_ORDER}
    if title is None:
        title = f"{report.document_a} and {report.document_b}" if comparison else "Claims checked against sources"
    environment = Environment(
        loader=PackageLoader("factcheck"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("report.html.j2").render(
        title=title,
        model=model,
        cards=cards,
        columns=columns,
        counts=counts,
        sources=len({r.document_id for r in report.results}),
        comparison=comparison,
    )
