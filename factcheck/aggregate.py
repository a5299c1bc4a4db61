"""From judged passages to a verdict per claim and source, and the key span inside the deciding passage.

Each passage carries calibrated NLI probabilities; by default it supports the
claim with strength P(entailment) and contradicts it with P(contradiction).
Checks beyond NLI can change how a passage counts (its ``rule``), never the
probabilities it reports:

* **unrelated**: the passage shares too little with the claim (embedding
  similarity below ``related_similarity`` and fewer than ``related_coverage``
  of the claim's content words) -> it neither supports nor contradicts. NLI
  models trained on SNLI read "about something else" as contradiction (there,
  two captions of one photo cannot describe different events); a source that
  talks about something else is silent, not contradicting. The checker does
  not run the NLI model on such a passage at all: its ``probabilities`` are None.
* **question**: the passage is nothing but questions -> it asserts nothing, so it
  neither supports nor contradicts ("Were the bison reduced to 27?" restates a
  claim without vouching for it);
* **verbatim**: the passage contains the claim word for word, and the claim is a
  statement of at least ``VERBATIM_MIN_WORDS`` words -> it supports it fully: a
  quotation needs no inference. (A fragment such as "Gov." is found in any text.)
* **mismatch** (``factcheck.mismatch``): the passage is about the same thing
  but gives another date, number, place or name -> it contradicts, with the
  NLI's belief that it bears on the claim, max(P(entailment), P(contradiction)),
  as the strength;
* **negation**, only where the NLI model is unsure: the passage shares the
  claim's words and exactly one of the claim and the passage's clause about it
  is negated -> it contradicts, with the same strength.

The verdict then compares the strongest support S and the strongest
contradiction C over the passages:

* ``conflicting`` if both S and C reach ``conflict``;
* ``contradicted`` if C reaches ``contradict`` and C >= S;
* ``supported`` if S reaches ``support``;
* ``contradicted`` if C reaches ``contradict``;
* ``not_mentioned`` otherwise, with confidence 1 - max(S, C).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from factcheck.mismatch import find_mismatches, negation_clash, shares_topic
from factcheck.report import (
    CONFLICTING,
    CONTRADICTED,
    NOT_MENTIONED,
    SUPPORTED,
    ClaimResult,
    Evidence,
    Span,
)


@dataclass(frozen=True)
class Thresholds:
    """Verdict thresholds on calibrated probabilities (see the module docstring).

    ``support``, ``contradict`` and the two relatedness thresholds were chosen together on development data by
    ``eval/choose_thresholds.py`` (``eval/thresholds.json``): best macro-F1 of supported / contradicted /
    not-mentioned over the 10,810 pairs of five 3-way D sets, plus as many off-topic pairs made from them (each
    hypothesis against the most similar premise of another pair, as retrieval would offer it): 0.640, against
    0.624 at the earlier 0.40 / 0.40 / 0.50 / 0.35 and 0.600 with no relatedness rule. At these values the rule
    lets 90% of the entailed, 78% of the contradicted and 29% of the off-topic pairs through to NLI.
    The negation and conflict thresholds have no development data that tells them apart and are set by hand.
    """

    support: float = 0.35
    contradict: float = 0.45
    conflict: float = 0.8
    unsure: float = 0.6  # below this top probability the negation check may decide a passage
    topic: float = 0.6  # share of the claim's content words a passage needs for the negation check
    related_similarity: float = 0.55  # a passage at least this similar to the claim is about it ...
    related_coverage: float = 0.3  # ... and so is one holding at least this share of its content words


def unrelated(claim: str, passage: str, similarity: float, thresholds: Thresholds) -> bool:
    """Whether the passage is about something else than the claim (the "unrelated" rule).

    It needs no NLI probabilities, so the checker asks it before running the model: an unrelated passage
    counts for nothing whatever the model would say of it.
    """
    return similarity < thresholds.related_similarity and not shares_topic(claim, passage, thresholds.related_coverage)


VERBATIM_MIN_WORDS = 4


def _quotation(claim: str, text: str) -> re.Match | None:
    """Where ``text`` quotes the claim word for word (whole words, any spacing and case), if it does."""
    words = claim.replace("’", "'").rstrip(". ").split()
    if len(words) < VERBATIM_MIN_WORDS:
        return None
    pattern = r"\s+".join(re.escape(w).replace("'", "['’]") for w in words)
    return re.search(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE)


def _only_questions(text: str) -> bool:
    return text.rstrip().endswith("?") and not re.search(r"[.!]\s", text)


def apply_rules(claim: str, evidence: Evidence, thresholds: Thresholds) -> Evidence:
    """The passage with the checks beyond NLI applied (a new object; the input is unchanged)."""
    if unrelated(claim, evidence.text, evidence.similarity, thresholds):
        return replace(evidence, rule="unrelated")
    if _only_questions(evidence.text):
        return replace(evidence, rule="question")
    quote = _quotation(claim, evidence.text)
    if quote:
        key = Span(evidence.document_id, evidence.start + quote.start(), evidence.start + quote.end(), quote.group())
        return replace(evidence, rule="verbatim", key_span=key)
    offset = evidence.start
    mismatches = find_mismatches(claim, evidence.text, offset)
    if mismatches:
        first = mismatches[0]
        key = Span(evidence.document_id, first.evidence_start, first.evidence_end, first.evidence_text)
        return replace(evidence, mismatches=mismatches, key_span=key, rule="mismatch")
    if max(evidence.probabilities.values()) < thresholds.unsure and shares_topic(claim, evidence.text, thresholds.topic):
        clash, evidence_negations = negation_clash(claim, evidence.text)
        if clash:
            key = None
            if evidence_negations:
                start, end = evidence_negations[0]
                key = Span(evidence.document_id, offset + start, offset + end, evidence.text[start:end])
            return replace(evidence, key_span=key, rule="negation")
    return evidence


def strengths(evidence: Evidence) -> tuple[float, float]:
    """(support, contradiction) a passage lends, after the checks beyond NLI."""
    p = evidence.probabilities
    if evidence.rule in ("unrelated", "question"):
        return 0.0, 0.0
    if evidence.rule == "verbatim":
        return 1.0, 0.0
    if evidence.rule in ("mismatch", "negation"):
        return 0.0, max(p["entailment"], p["contradiction"])
    return p["entailment"], p["contradiction"]


def decide(claim, document_id: str, passages: list[Evidence], thresholds: Thresholds) -> ClaimResult:
    """The verdict of one source on one claim, from its judged passages (rules already applied)."""
    if not passages:
        return ClaimResult(claim, document_id, NOT_MENTIONED, 1.0, [])
    support = max(passages, key=lambda e: strengths(e)[0])
    contradiction = max(passages, key=lambda e: strengths(e)[1])
    s, c = strengths(support)[0], strengths(contradiction)[1]
    if s >= thresholds.conflict and c >= thresholds.conflict:
        verdict, confidence, lead = CONFLICTING, min(s, c), contradiction
    elif c >= thresholds.contradict and c >= s:
        verdict, confidence, lead = CONTRADICTED, c, contradiction
    elif s >= thresholds.support:
        verdict, confidence, lead = SUPPORTED, s, support
    elif c >= thresholds.contradict:
        verdict, confidence, lead = CONTRADICTED, c, contradiction
    else:
        verdict, confidence, lead = NOT_MENTIONED, 1.0 - max(s, c), max(passages, key=lambda e: e.retrieval_score)
    ordered = [lead] + [e for e in passages if e is not lead]
    return ClaimResult(
        claim,
        document_id,
        verdict,
        round(float(confidence), 6),
        ordered,
        best_support=support if s >= thresholds.support else None,
        best_contradiction=contradiction if c >= thresholds.contradict else None,
    )


# Occlusion works on words; a window of three removes short phrases ("will not contain") whose
# words mean little one at a time.
OCCLUSION_WINDOW = 3
MAX_OCCLUSIONS = 60
_WORD = re.compile(r"\S+")


def occlusions(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[str]]:
    """(word spans, removed word ranges, texts with those words removed) for occlusion analysis."""
    words = [m.span() for m in _WORD.finditer(text)]
    if not words:
        return [], [], []
    stride = max(1, int(np.ceil(len(words) / MAX_OCCLUSIONS)))
    ranges, variants = [], []
    for first in range(0, len(words), stride):
        last = min(first + OCCLUSION_WINDOW, len(words))
        ranges.append((first, last))
        variants.append((text[: words[first][0]] + text[words[last - 1][1] :]).strip())
    return words, ranges, variants


def key_span_from_drops(evidence: Evidence, words, ranges, drops: np.ndarray) -> Span | None:
    """The contiguous words whose removal moves the verdict most.

    A word's importance is the largest drop in the verdict's probability among the windows that remove it;
    the key span is the run of words around the most important one whose importance is at least half of it.
    """
    if not words or drops.size == 0 or drops.max() <= 0:
        return None
    importance = np.zeros(len(words))
    for (first, last), drop in zip(ranges, drops):
        importance[first:last] = np.maximum(importance[first:last], drop)
    peak = int(importance.argmax())
    left = right = peak
    while left > 0 and importance[left - 1] >= importance[peak] / 2:
        left -= 1
    while right + 1 < len(words) and importance[right + 1] >= importance[peak] / 2:
        right += 1
    start, end = words[left][0], words[right][1]
    return Span(evidence.document_id, evidence.start + start, evidence.start + end, evidence.text[start:end])
