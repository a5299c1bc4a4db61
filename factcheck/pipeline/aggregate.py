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
* **mismatch** (``factcheck.pipeline.mismatch``): the passage is about the same thing
  but gives another date, number, place or name -> it contradicts, with the
  NLI's belief that it bears on the claim, max(P(entailment), P(contradiction)),
  as the strength;
* **negation**, only where the NLI model is unsure: the passage shares the
  claim's words and exactly one of the claim and the passage's clause about it
  is negated -> it contradicts, with the same strength, where it negates a word
  of the claim itself or the model leans towards contradiction; else it is
  **unclear**: neither support nor contradiction.

The verdict, by default, comes from the strongest passages: the strongest support S (P(entailment), or a
rule's strength) and contradiction C over all of a claim's passages, against ``Thresholds`` chosen on development
data (``eval/choose_thresholds.py``). A learned verdict is there to opt into (``Checker(verdicts="learned")``:
``VerdictModel``, the model folder's ``decision.json``, fitted on development data by ``models/fit_decision.py``):
a multinomial logistic regression over features of all of a claim's passages (the strongest and second-strongest
support and contradiction, how many passages agree, how related they are, which rules fired, where retrieval
ranked them) gives calibrated P(supported), P(contradicted) and P(not mentioned), so that one spurious passage is
weighed against the others. Either way, with p the decision's probabilities:

* ``conflicting`` if the strongest support and contradiction of single passages both reach ``conflict``;
* ``contradicted`` if p(contradicted) reaches ``contradict`` (an operating point chosen for precision: a false
  "contradicted" accuses a source of saying the opposite of what it says) and either is at least p(supported)
  or p(supported) misses ``support``;
* ``supported`` if p(supported) reaches ``support``;
* ``not_mentioned`` otherwise; the confidence is always the decision's probability of the verdict, so an
  unclear case comes back with a low one.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from factcheck.nli.key_spans import span_from_scores, words_of
from factcheck.pipeline.mismatch import (
    NEGATIONS,
    content_coverage,
    find_mismatches,
    negated_phrase,
    negates_claim_word,
    negation_clash,
    shares_topic,
)
from factcheck.results import (
    CONFLICTING,
    CONTRADICTED,
    NOT_MENTIONED,
    SUPPORTED,
    ClaimResult,
    Evidence,
    Span,
)

# eval/thresholds.json: the best macro-F1 on D pairs for a verdict from the strongest passage's probabilities.
# Asking the model the other way round too (the claim as premise, the passage as hypothesis) and taking the smaller
# P(contradiction) of the two, or their mean, separates real contradictions no better than a higher threshold: on D
# data (3,939 held-out FNC-1 headline-body pairs, 2,900 NLI D items among distractors, 2,900 alone), the smaller at
# 0.45 is right 58.4% of the time at recall 0.411 over all, the forward probability at 0.65 61.3% at 0.398, and
# on FNC-1 alone the smaller loses most of the recall (0.337 -> 0.101).
STRONGEST_SUPPORT, STRONGEST_CONTRADICT = 0.35, 0.45


@dataclass(frozen=True)
class Thresholds:
    """Verdict thresholds (see the module docstring). Users may move them; the defaults are learned.

    ``support`` and ``contradict`` apply to the decision's probabilities; their defaults are the operating points
    ``models/fit_decision.py`` chose on development data and wrote to the shipped model's ``decision.json``
    (``contradict`` for precision first). The two relatedness thresholds were chosen on development data by
    ``eval/choose_thresholds.py`` (``eval/thresholds.json``): together with the NLI thresholds of that script,
    best macro-F1 over annotated pairs plus as many "most similar other premise" pairs. The negation and conflict
    thresholds have no development data that tells them apart and are set by hand.
    """

    support: float | None = None  # None: the default of the decision in use (see ``resolved``)
    contradict: float | None = None
    conflict: float = 0.8
    unsure: float = 0.6  # below this top probability the negation check may decide a passage
    topic: float = 0.6  # share of the claim's content words a passage needs for the negation check
    related_similarity: float = 0.55  # a passage at least this similar to the claim is about it ...
    related_coverage: float = 0.3  # ... and so is one holding at least this share of its content words

    def __post_init__(self):
        for name, value in vars(self).items():
            if value is None and name in ("support", "contradict"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"Thresholds({name}={value!r}): a probability or share, from 0 to 1")

    def resolved(self, verdicts: VerdictModel | None = None) -> Thresholds:
        """These thresholds with the operating points left unset filled in: the learned ones of ``verdicts``, or
        for the rule by the strongest passages, those ``eval/choose_thresholds.py`` chose on D data."""
        support, contradict = (verdicts.support, verdicts.contradict) if verdicts else (STRONGEST_SUPPORT, STRONGEST_CONTRADICT)
        return replace(
            self,
            support=support if self.support is None else self.support,
            contradict=contradict if self.contradict is None else self.contradict,
        )


def unrelated(claim: str, passage: str, similarity: float, thresholds: Thresholds) -> bool:
    """Whether the passage is about something else than the claim (the "unrelated" rule).

    It needs no NLI probabilities, so the checker asks it before running the model: an unrelated passage
    counts for nothing whatever the model would say of it.
    """
    return similarity < thresholds.related_similarity and not shares_topic(claim, passage, thresholds.related_coverage)


VERBATIM_MIN_WORDS = 4


# Words around a quotation that deny, doubt or condition what it says: "A spokesman denied that the company will cut
# 5,000 jobs", "Reports that ... are untrue", "whether the bank will raise rates", "If inflation persists, ...".
_DOUBT = frozenset(
    "deny denies denied denying untrue false rejected dismissed whether if unless rumour rumours rumor rumors "
    "alleged allegedly claims doubt doubts doubted unlikely speculation speculated".split()
)


def _quotation(claim: str, text: str) -> re.Match | None:
    """Where ``text`` quotes the claim word for word (whole words, any spacing and case, a number not the start of
    a longer one: "rose to 12" is not "rose to 12,400"), in a sentence that neither denies, doubts nor conditions
    it: a quotation inside "X denied that ..." says the opposite, and there the NLI model decides."""
    words = claim.replace("’", "'").rstrip(". ").split()
    if len(words) < VERBATIM_MIN_WORDS:
        return None
    pattern = r"\s+".join(re.escape(w).replace("'", "['’]") for w in words)
    quote = re.search(rf"(?<!\w){pattern}(?!\w|[.,]\d)", text, re.IGNORECASE)
    if quote is None:
        return None
    sentence_start = max(text.rfind(mark, 0, quote.start()) for mark in (". ", "! ", "? ", "\n")) + 1
    ends = [i for i in (text.find(mark, quote.end()) for mark in (". ", "! ", "? ", "\n")) if i >= 0]
    around = text[sentence_start : quote.start()] + " " + text[quote.end() : min(ends, default=len(text))]
    words_around = {w.lower() for w in re.findall(r"[\w’']+", around)}
    if words_around & (NEGATIONS | _DOUBT) or any(w.endswith(("n't", "n’t")) for w in words_around):
        return None
    return quote


def _only_questions(text: str) -> bool:
    # A statement that ends by quoting a question ("… after reporters asked: why did you lie?") is no question.
    return text.rstrip().endswith("?") and not re.search(r"[.!]\s|[:“\"]", text)


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
                start, end = negated_phrase(evidence.text, *evidence_negations[0])
                key = Span(evidence.document_id, offset + start, offset + end, evidence.text[start:end])
            p = evidence.probabilities
            # On the NLI D sets (lingnli, sick, joci, mpe, cad-snli dev), where the check fired with a strength of at
            # least 0.45: a passage that negates a word of the claim itself ("did not attend" for "attended") was a
            # contradiction 14 times of 16, whichever way the model leaned; one negating something else was 11 of 23
            # where the model leaned towards contradiction, and 7 of 27 where it leaned towards entailment ("did not
            # lay off any workers" for "avoided layoffs", "did not cure them of their dream" for "had a dream").
            # The last are unclear: no support, and no accusation either.
            if p["contradiction"] < p["entailment"] and not negates_claim_word(claim, evidence.text, evidence_negations):
                return replace(evidence, key_span=key, rule="unclear")
            return replace(evidence, key_span=key, rule="negation")
    return evidence


def strengths(evidence: Evidence) -> tuple[float, float]:
    """(support, contradiction) a passage lends, after the checks beyond NLI."""
    p = evidence.probabilities
    if evidence.rule in ("unrelated", "question", "unclear"):
        return 0.0, 0.0
    if evidence.rule == "verbatim":
        return 1.0, 0.0
    if evidence.rule in ("mismatch", "negation"):
        return 0.0, max(p["entailment"], p["contradiction"])
    return p["entailment"], p["contradiction"]


DECISION_FILE = "decision.json"
FEATURES = (
    "support_1",  # strongest support of a passage
    "support_2",  # second strongest
    "contradiction_1",
    "contradiction_2",
    "supporting_share",  # share of passages with support >= 0.5
    "contradicting_share",
    "related_share",  # share of passages the "unrelated" rule lets through
    "similarity_max",
    "coverage_max",  # the largest share of the claim's content words one passage holds
    "support_similarity",  # similarity and coverage of the strongest supporting passage
    "support_coverage",
    "contradiction_similarity",  # ... and of the strongest contradicting one
    "contradiction_coverage",
    "contradiction_neutral",  # P(neutral) of the strongest contradicting passage
    "contradiction_rank",  # its retrieval rank, 0 for the first, 1 for the last
    "first_support",  # support and contradiction of the passage retrieval ranked first
    "first_contradiction",
    "mismatch",  # a rule decided a passage: mismatch, negation, verbatim
    "negation",
    "verbatim",
)
VERDICT_CLASSES = (SUPPORTED, CONTRADICTED, NOT_MENTIONED)


def decision_features(claim: str, passages: list[Evidence]) -> np.ndarray:
    """The features ``VerdictModel`` decides from: one row for a claim and the judged passages of one source."""
    strength = np.array([strengths(e) for e in passages])
    support, contradiction = strength[:, 0], strength[:, 1]
    s_order, c_order = np.argsort(-support, kind="stable"), np.argsort(-contradiction, kind="stable")
    coverage = np.array([content_coverage(claim, e.text) if e.rule != "unrelated" else 0.0 for e in passages])
    similarity = np.array([e.similarity for e in passages])
    rank = np.argsort(np.argsort([-e.retrieval_score for e in passages], kind="stable"), kind="stable")
    first = int(np.argmin(rank))
    lead_c = passages[c_order[0]]
    second = lambda values, order: float(values[order[1]]) if len(values) > 1 else 0.0  # noqa: E731
    row = {
        "support_1": float(support[s_order[0]]),
        "support_2": second(support, s_order),
        "contradiction_1": float(contradiction[c_order[0]]),
        "contradiction_2": second(contradiction, c_order),
        "supporting_share": float((support >= 0.5).mean()),
        "contradicting_share": float((contradiction >= 0.5).mean()),
        "related_share": float(np.mean([e.rule != "unrelated" for e in passages])),
        "similarity_max": float(similarity.max()),
        "coverage_max": float(coverage.max()),
        "support_similarity": float(similarity[s_order[0]]),
        "support_coverage": float(coverage[s_order[0]]),
        "contradiction_similarity": float(similarity[c_order[0]]),
        "contradiction_coverage": float(coverage[c_order[0]]),
        "contradiction_neutral": float(lead_c.probabilities["neutral"]) if lead_c.probabilities else 1.0,
        "contradiction_rank": float(rank[c_order[0]] / max(1, len(passages) - 1)),
        "first_support": float(support[first]),
        "first_contradiction": float(contradiction[first]),
        "mismatch": float(any(e.rule == "mismatch" for e in passages)),
        "negation": float(any(e.rule == "negation" for e in passages)),
        "verbatim": float(any(e.rule == "verbatim" for e in passages)),
    }
    return np.array([row[name] for name in FEATURES])


@dataclass(frozen=True)
class VerdictModel:
    """A multinomial logistic regression from ``decision_features`` to P(supported, contradicted, not mentioned).

    Stored as plain JSON numbers beside the NLI checkpoint it was fitted for (no pickle: a file that runs code
    when loaded has no place in a model folder people download); ``fit`` records how it was made.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coefficients: tuple[tuple[float, ...], ...]  # one row per class of ``VERDICT_CLASSES``
    intercepts: tuple[float, ...]
    support: float  # the learned operating points, the defaults of ``Thresholds``
    contradict: float
    fit: dict  # data, metrics and choices of models/fit_decision.py

    @classmethod
    def uninformed(cls) -> VerdictModel:
        """A model that knows nothing (1/3 each): what ``models/fit_decision.py`` runs the checker with, since it
        needs only the judged passages, before any decision has been fitted."""
        zeros = (0.0,) * len(FEATURES)
        return cls(FEATURES, zeros, (1.0,) * len(FEATURES), (zeros,) * 3, (0.0,) * 3, 1.0, 1.0, {"uninformed": True})

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(rows) - np.array(self.mean)) / np.array(self.scale)
        logits = z @ np.array(self.coefficients).T + np.array(self.intercepts)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / DECISION_FILE
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> VerdictModel:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            model = cls(**{k: tuple(map(tuple, v)) if k == "coefficients" else tuple(v) if isinstance(v, list) else v for k, v in data.items()})
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(f"{path}: not a verdict model ({error})") from error
        if model.features != FEATURES:
            raise ValueError(f"{path}: fitted on features {model.features}, this version computes {FEATURES}")
        return model


@lru_cache(maxsize=8)
def verdict_model_for(model_folder: str | None) -> VerdictModel:
    """The verdict model fitted for an NLI checkpoint: its folder's ``decision.json``, or, for a checkpoint
    without one (any hub model), the shipped model's, whose features are NLI probabilities any 3-way model gives."""
    from factcheck.nli.infer import default_model_path

    for folder in (model_folder, str(default_model_path())):
        if folder and (Path(folder) / DECISION_FILE).is_file():
            return VerdictModel.load(Path(folder) / DECISION_FILE)
    raise FileNotFoundError(
        f"no {DECISION_FILE} beside {model_folder} or the shipped model at {default_model_path()}; "
        "install factcheck from its source tree (pip install -e .) or fit one with models/fit_decision.py"
    )


def decide(
    claim, document_id: str, passages: list[Evidence], thresholds: Thresholds, verdicts: VerdictModel | None = None
) -> ClaimResult:
    """The verdict of one source on one claim, from its judged passages (rules already applied): by the strongest
    passages (``verdicts`` None, the default) or by a learned ``VerdictModel``. ``thresholds`` must be resolved
    (``Thresholds.resolved``) for the same ``verdicts``."""
    if not passages:
        return ClaimResult(claim, document_id, NOT_MENTIONED, 1.0, [])
    support = max(passages, key=lambda e: strengths(e)[0])
    contradiction = max(passages, key=lambda e: strengths(e)[1])
    s, c = strengths(support)[0], strengths(contradiction)[1]
    probabilities = None
    if verdicts is None:
        p_support, p_contradict, p_silent = s, c, 1.0 - max(s, c)
    else:
        p_support, p_contradict, p_silent = verdicts.probabilities(decision_features(claim.text, passages))[0]
        probabilities = {name: round(float(p), 6) for name, p in zip(VERDICT_CLASSES, (p_support, p_contradict, p_silent))}
    if s >= thresholds.conflict and c >= thresholds.conflict:
        verdict, confidence, lead = CONFLICTING, min(s, c), contradiction
    elif p_contradict >= thresholds.contradict and p_contradict >= p_support:
        verdict, confidence, lead = CONTRADICTED, p_contradict, contradiction
    elif p_support >= thresholds.support:
        verdict, confidence, lead = SUPPORTED, p_support, support
    elif p_contradict >= thresholds.contradict:
        verdict, confidence, lead = CONTRADICTED, p_contradict, contradiction
    else:
        verdict, confidence = NOT_MENTIONED, p_silent
        lead = max(passages, key=lambda e: e.retrieval_score)
    ordered = [lead] + [e for e in passages if e is not lead]
    return ClaimResult(
        claim,
        document_id,
        verdict,
        round(float(confidence), 6),
        ordered,
        best_support=support if s >= thresholds.support else None,
        best_contradiction=contradiction if c >= thresholds.contradict else None,
        verdict_probabilities=probabilities,
    )


# Occlusion works on words; a window of three removes short phrases ("will not contain") whose
# words mean little one at a time.
OCCLUSION_WINDOW = 3
# Coarse to fine: removing every window of a 40-word passage would cost 38 model calls an explanation (86% of a
# check's NLI work). Halves are removed first, and the search narrows to the half whose removal moves the verdict
# more, until at most FINE_REGION words are left; only there, and FINE_MARGIN words either side, is every window
# removed. The halves overlap by a window, so a phrase across the middle stays whole in one of them.
# Gradient x input (one backward pass, at the word embeddings or at any of the six layers' outputs, of the
# verdict's log-probability or its logit margin over neutral) was measured instead on the 24 passages of
# `eval/bench.py --quick`: character Jaccard 0.17-0.35 with the exhaustive search's spans, against 0.65 for this
# search; it mostly points at the wrong clause, so occlusion stays. Nor did a small network over the NLI model's
# word states (last layer, its product with [CLS], each word's best cosine with a claim word) trained to pick the
# exhaustive search's span (one forward pass a passage): on 52 held-out FNC-1 train passages (300 to train on,
# about 6 minutes of exhaustive search per 100) it overlapped that span on 31-65% of them at character Jaccard
# 0.10-0.22, against 58% and 0.53 for this search. Cheaper still and worse, on `eval/bench.py`'s 107 explanations
# (12.0 model calls each here, character Jaccard 0.63 with the exhaustive search): one variant a coarse round (drop
# the left half; keep it if the verdict fell by a quarter or more, else go right), 9.0 calls at Jaccard 0.50; for
# supported passages, no model call but the run of the passage's words that are the claim's content words, 0.27-0.33.
FINE_REGION = 8
FINE_MARGIN = 1


class KeySpanSearch:
    """The search for one passage's key span, by occlusion, a round of model calls at a time.

    >>> search = KeySpanSearch(passage, probability)   # the verdict's probability on the whole passage
    >>> while not search.done:                          # doctest: +SKIP
    ...     search.update(probabilities_of(search.variants()))
    >>> search.key_span(evidence)                       # doctest: +SKIP

    ``Checker.explain`` runs the searches of a whole report side by side, one batched model call a round.
    """

    def __init__(self, text: str, probability: float, *, fine_region: float = FINE_REGION):
        """``fine_region=math.inf`` removes every window of the passage at once: the exhaustive search that
        ``eval/bench.py`` measures this one against."""
        self.text = text
        self.probability = probability
        self.fine_region = fine_region
        self.words = words_of(text)
        self.region = (0, len(self.words))
        self.ranges: list[tuple[int, int]] = []  # the word ranges removed in this round
        self.fine_ranges: list[tuple[int, int]] = []
        self.fine_drops = np.zeros(0)
        self.done = not self.words
        self._plan()

    def _plan(self) -> None:
        first, last = self.region
        self._narrowing = last - first > self.fine_region
        if self._narrowing:
            middle = (first + last) // 2
            overlap = OCCLUSION_WINDOW // 2
            self.ranges = [(first, middle + overlap), (middle - overlap, last)]
        else:
            low, high = max(0, first - FINE_MARGIN), min(len(self.words), last + FINE_MARGIN)
            starts = range(low, max(low + 1, high - OCCLUSION_WINDOW + 1))
            self.ranges = [(start, min(start + OCCLUSION_WINDOW, high)) for start in starts]

    def variants(self) -> list[str]:
        """The passage without each range of this round."""
        return [(self.text[: self.words[a][0]] + self.text[self.words[b - 1][1] :]).strip() for a, b in self.ranges]

    def update(self, probabilities: np.ndarray) -> None:
        """The verdict's probability on each variant of ``variants()``; plans the next round or ends the search."""
        drops = self.probability - np.asarray(probabilities, dtype=float)
        if self._narrowing:
            self.region = self.ranges[int(drops.argmax())]
            self._plan()
        else:
            self.fine_ranges, self.fine_drops = self.ranges, drops
            self.ranges, self.done = [], True

    def key_span(self, evidence: Evidence) -> Span | None:
        return key_span_from_drops(evidence, self.words, self.fine_ranges, self.fine_drops)


def key_span_from_drops(evidence: Evidence, words, ranges, drops: np.ndarray) -> Span | None:
    """The contiguous words whose removal moves the verdict most.

    A word's importance is the largest drop in the verdict's probability among the windows that remove it;
    the key span is the run of words around the most important one whose importance is at least half of it.
    """
    return span_of_evidence(evidence, span_from_scores(words, word_importance(len(words), ranges, drops)))


def word_importance(n_words: int, ranges, drops) -> np.ndarray:
    """Per word, the largest drop among the removed word ranges that hold it (0 where none does)."""
    importance = np.zeros(n_words)
    for (first, last), drop in zip(ranges, drops):
        importance[first:last] = np.maximum(importance[first:last], drop)
    return importance


def span_of_evidence(evidence: Evidence, offsets: tuple[int, int] | None) -> Span | None:
    """The span of the document at these character offsets of the passage."""
    if offsets is None:
        return None
    start, end = offsets
    return Span(evidence.document_id, evidence.start + start, evidence.start + end, evidence.text[start:end])
