"""The results every stage passes on: plain dataclasses that serialise to JSON and to a pandas DataFrame."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from factcheck.pipeline.claims import Claim
from factcheck.pipeline.mismatch import Mismatch

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
NOT_MENTIONED = "not_mentioned"
CONFLICTING = "conflicting"
VERDICTS = (SUPPORTED, CONTRADICTED, NOT_MENTIONED, CONFLICTING)
# Reports show what needs a fact-checker's attention first.
VERDICT_ORDER = {CONTRADICTED: 0, CONFLICTING: 1, SUPPORTED: 2, NOT_MENTIONED: 3}


@dataclass
class Span:
    """``text == document.text[start:end]`` of document ``document_id``."""

    document_id: str
    start: int
    end: int
    text: str


@dataclass
class Evidence:
    """A passage of a source judged against a claim."""

    document_id: str
    start: int
    end: int
    text: str
    # Calibrated NLI: entailment, neutral, contradiction. None for a passage unrelated to the claim
    # (rule "unrelated"), which the NLI model is not run on.
    probabilities: dict[str, float] | None
    retrieval_score: float  # fused rank score of BM25 and embeddings
    similarity: float = 0.0  # cosine of the claim's and the passage's embeddings
    key_span: Span | None = None  # the words inside ``text`` that drive the verdict
    mismatches: list[Mismatch] = field(default_factory=list)  # values the passage gives otherwise
    # Set when a check beyond NLI decided how this passage counts (see factcheck.pipeline.aggregate):
    # "verbatim" (it supports), "mismatch" or "negation" (it contradicts), "unrelated", "question" or "unclear" (a
    # negation the model does not read as contradicting: neither).
    rule: str | None = None


@dataclass
class ClaimResult:
    claim: Claim
    document_id: str
    verdict: str
    confidence: float
    evidence: list[Evidence]  # the deciding passage first
    best_support: Evidence | None = None
    best_contradiction: Evidence | None = None
    # The learned decision's calibrated P(supported), P(contradicted), P(not_mentioned) for this source; None for
    # a source with no passage to judge.
    verdict_probabilities: dict[str, float] | None = None
    # What the reader should know about how this result was reached, e.g. that the claim was too long for the
    # model to read whole.
    warnings: list[str] = field(default_factory=list)
    document_date: str | None = None  # the source's date (ISO YYYY-MM-DD), where it gives one

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    results: list[ClaimResult]
    claims: list[Claim] = field(default_factory=list)  # every claim checked, with or without a result
    # Claim id -> documents of an archive that bear on the claim but were beyond ``top_documents``: not checked, so
    # that no reader takes the sources listed for all there are.
    not_checked: dict[str, int] = field(default_factory=dict)

    def summary(self) -> list[dict]:
        """Per claim across documents: which sources support, contradict, conflict or are silent, and how many of an
        archive's documents bearing on it were not checked. A claim that no document bears on (none given; nothing
        in an archive related to it) has its entry, every list empty."""
        by_claim = {c.id: self._entry(c) for c in self.claims}
        for r in self.results:
            by_claim.setdefault(r.claim.id, self._entry(r.claim))[r.verdict].append(r.document_id)
        return list(by_claim.values())

    def _entry(self, claim: Claim) -> dict:
        lists = {v: [] for v in VERDICTS}
        return {"claim_id": claim.id, "claim": claim.text} | lists | {"not_checked": self.not_checked.get(claim.id, 0)}

    def to_dict(self) -> dict:
        return {"results": [r.to_dict() for r in self.results], "summary": self.summary()}

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def to_records(self) -> list[dict]:
        """One flat row per claim and source (what a spreadsheet wants); the claim's own fields from its claims file
        (``Claim.metadata``) follow as ``claim.<field>`` columns."""
        rows = []
        for r in self.results:
            lead = r.evidence[0] if r.evidence and r.verdict != NOT_MENTIONED else None
            probabilities = lead.probabilities if lead else {}
            rows.append(
                {
                    "claim_id": r.claim.id,
                    "claim": r.claim.text,
                    "document_id": r.document_id,
                    "document_date": r.document_date,
                    "verdict": r.verdict,
                    "confidence": r.confidence,
                    "evidence": lead.text if lead else None,
                    "evidence_start": lead.start if lead else None,
                    "evidence_end": lead.end if lead else None,
                    "key_span": lead.key_span.text if lead and lead.key_span else None,
                    "p_supported": (r.verdict_probabilities or {}).get(SUPPORTED),
                    "p_contradicted": (r.verdict_probabilities or {}).get(CONTRADICTED),
                    "p_entailment": probabilities.get("entailment"),
                    "p_contradiction": probabilities.get("contradiction"),
                    "rule": lead.rule if lead else None,
                    "warnings": "; ".join(r.warnings) or None,
                }
                | {f"claim.{key}": _cell_value(value) for key, value in r.claim.metadata.items()}
            )
        return rows

    def to_dataframe(self):
        import pandas as pd

        frame = pd.DataFrame.from_records(self.to_records())
        # Offsets stay integers where some rows have none (not mentioned): a float column wrote 154.0, which does
        # not slice the document's text.
        for column in ("evidence_start", "evidence_end"):
            if column in frame:
                frame[column] = frame[column].astype("Int64")
        return frame


def _cell_value(value: object) -> object:
    """A metadata value as one spreadsheet cell: lists and objects as JSON text (pandas would write a Python repr)."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


@dataclass
class Comparison(Report):
    """Two articles checked against each other: the claims of A against B and those of B against A."""

    document_a: str = ""
    document_b: str = ""

    def _select(self, source: str, verdicts: tuple[str, ...]) -> list[ClaimResult]:
        return [r for r in self.results if r.claim.document_id == source and r.verdict in verdicts]

    @property
    def agreements(self) -> list[ClaimResult]:
        return [r for r in self.results if r.verdict == SUPPORTED]

    @property
    def contradictions(self) -> list[ClaimResult]:
        return [r for r in self.results if r.verdict in (CONTRADICTED, CONFLICTING)]

    @property
    def only_in_a(self) -> list[ClaimResult]:
        return self._select(self.document_a, (NOT_MENTIONED,))

    @property
    def only_in_b(self) -> list[ClaimResult]:
        return self._select(self.document_b, (NOT_MENTIONED,))

    def to_dict(self) -> dict:
        def ids(results: list[ClaimResult]) -> list[str]:
            return [r.claim.id for r in results]

        return super().to_dict() | {
            "document_a": self.document_a,
            "document_b": self.document_b,
            "agreements": ids(self.agreements),
            "contradictions": ids(self.contradictions),
            "only_in_a": ids(self.only_in_a),
            "only_in_b": ids(self.only_in_b),
        }
