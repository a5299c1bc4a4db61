import re

import numpy as np
import pytest

from factcheck.pipeline.aggregate import (
    KeySpanSearch,
    Thresholds,
    VerdictModel,
    apply_rules,
    decide,
    key_span_from_drops,
    strengths,
    verdict_model_for,
)
from factcheck.pipeline.claims import Claim
from factcheck.results import Evidence

CLAIM = Claim("The document will contain commitments regarding NATO.", id="c")


def evidence(text, e, n, c, start=100, similarity=0.9):
    probabilities = {"entailment": e, "neutral": n, "contradiction": c}
    return Evidence("doc", start, start + len(text), text, probabilities, 0.1, similarity)


HAND = Thresholds().resolved()  # the default: by the strongest passages
VERDICTS = verdict_model_for(None)  # the shipped model's learned decision, opt-in
LEARNED = Thresholds().resolved(VERDICTS)
SAYS_NOT = "At the same time, the document will not contain any commitments regarding NATO."
SAYS_SO = "The document will contain commitments regarding NATO, officials said."
ELSE = "The document was handed over in Geneva on Friday."


def test_verdicts_from_the_strongest_support_and_contradiction():
    assert decide(CLAIM, "doc", [evidence("a", 0.9, 0.05, 0.05)], HAND).verdict == "supported"
    assert decide(CLAIM, "doc", [evidence("a", 0.1, 0.2, 0.7)], HAND).verdict == "contradicted"
    assert decide(CLAIM, "doc", [evidence("a", 0.2, 0.6, 0.2)], HAND).verdict == "not_mentioned"
    both = decide(CLAIM, "doc", [evidence("a", 0.9, 0.05, 0.05), evidence("b", 0.05, 0.05, 0.9)], HAND)
    assert both.verdict == "conflicting"
    assert both.best_support.text == "a" and both.best_contradiction.text == "b"
    assert decide(CLAIM, "doc", [], HAND).verdict == "not_mentioned"


def test_confidence_is_the_deciding_probability():
    result = decide(CLAIM, "doc", [evidence("a", 0.1, 0.2, 0.7), evidence("b", 0.3, 0.6, 0.1)], HAND)
    assert result.confidence == 0.7
    assert result.evidence[0].text == "a"
    silent = decide(CLAIM, "doc", [evidence("a", 0.2, 0.7, 0.1)], HAND)
    assert silent.confidence == 0.8
    assert result.verdict_probabilities is None  # only a learned decision has them


def test_the_learned_decision_gives_a_calibrated_probability_for_each_verdict():
    for passages in ([evidence(SAYS_NOT, 0.02, 0.03, 0.95)], [evidence(ELSE, 0.05, 0.9, 0.05, similarity=0.5)]):
        result = decide(CLAIM, "doc", passages, LEARNED, VERDICTS)
        assert abs(sum(result.verdict_probabilities.values()) - 1.0) < 1e-5
        assert result.confidence == result.verdict_probabilities[result.verdict] or result.verdict == "conflicting"
    off_topic = decide(CLAIM, "doc", [evidence(ELSE, 0.05, 0.9, 0.05, similarity=0.5)], LEARNED, VERDICTS)
    assert off_topic.verdict == "not_mentioned"


def test_the_learned_decision_weighs_one_spurious_contradiction_against_the_rest():
    passages = [
        evidence(SAYS_SO, 0.85, 0.1, 0.05),
        evidence("Officials confirmed the document contains commitments on NATO.", 0.8, 0.15, 0.05),
        evidence(ELSE, 0.1, 0.35, 0.55, similarity=0.6),
    ]
    assert decide(CLAIM, "doc", passages, LEARNED, VERDICTS).verdict == "supported"
    unclear = [evidence(ELSE, 0.3, 0.25, 0.45, similarity=0.6), evidence(SAYS_SO, 0.35, 0.3, 0.35)]
    result = decide(CLAIM, "doc", unclear, LEARNED, VERDICTS)
    assert result.verdict != "contradicted" and result.confidence < 0.8


def test_the_operating_points_are_parameters_a_user_can_move():
    lone = [evidence(SAYS_NOT, 0.2, 0.35, 0.45)]
    p = decide(CLAIM, "doc", lone, LEARNED, VERDICTS).verdict_probabilities
    eager = Thresholds(contradict=p["contradicted"] - 1e-3, support=1.0).resolved(VERDICTS)
    assert (decide(CLAIM, "doc", lone, eager, VERDICTS).verdict == "contradicted") == (p["contradicted"] >= p["supported"])
    never = Thresholds(contradict=1.0, support=1.0).resolved(VERDICTS)
    assert decide(CLAIM, "doc", lone, never, VERDICTS).verdict == "not_mentioned"
    assert LEARNED.contradict == VERDICTS.contradict and LEARNED.support == VERDICTS.support
    assert (HAND.support, HAND.contradict) == (0.35, 0.45)


def test_a_verdict_model_round_trips_through_json(tmp_path):
    VERDICTS.save(tmp_path)
    again = VerdictModel.load(tmp_path / "decision.json")
    rows = np.random.default_rng(0).random((5, len(again.features)))
    assert np.allclose(again.probabilities(rows), VERDICTS.probabilities(rows))
    (tmp_path / "decision.json").write_text("{not json")
    with pytest.raises(ValueError, match="decision.json"):
        VerdictModel.load(tmp_path / "decision.json")


def test_a_date_mismatch_turns_entailment_into_contradiction():
    text = "The Russia-NATO Council met in Brussels on January 12."
    judged = apply_rules("The Russia-NATO Council met in Brussels on January 14.", evidence(text, 0.9, 0.05, 0.05), Thresholds())
    assert judged.rule == "mismatch"
    assert strengths(judged) == (0.0, 0.9)
    assert judged.probabilities["entailment"] == 0.9  # the NLI's own reading is kept for the user
    assert judged.key_span.text == "January 12"
    assert judged.key_span.start == 100 + text.index("January 12")


def test_negation_decides_only_where_the_model_is_unsure():
    text = "At the same time, the document will not contain any commitments regarding NATO."
    unsure = apply_rules(CLAIM.text, evidence(text, 0.35, 0.2, 0.45), Thresholds())
    assert unsure.rule == "negation" and unsure.key_span.text == "will not contain"
    assert strengths(unsure) == (0.0, 0.45)
    sure = apply_rules(CLAIM.text, evidence(text, 0.9, 0.05, 0.05), Thresholds())
    assert sure.rule is None and strengths(sure) == (0.9, 0.05)


def test_a_negation_the_model_leans_to_read_as_entailment_is_unclear_not_a_contradiction():
    # "did not lay off any workers" says what "avoided layoffs" says; the model, unsure, leans that way.
    claim = "The company avoided layoffs last year."
    text = "The company did not lay off any workers last year."
    leaning = apply_rules(claim, evidence(text, 0.58, 0.1, 0.32), Thresholds())
    assert leaning.rule == "unclear" and strengths(leaning) == (0.0, 0.0)
    assert decide(Claim(claim, id="c1"), "doc", [leaning], HAND).verdict == "not_mentioned"


def test_a_passage_negating_the_claims_own_word_contradicts_it_whichever_way_the_model_leans():
    claim = "The mayor attended the meeting."
    negated = apply_rules(claim, evidence("The mayor did not attend the meeting.", 0.58, 0.1, 0.32), Thresholds())
    assert negated.rule == "negation" and negated.key_span.text == "did not attend"
    assert decide(Claim(claim, id="c1"), "doc", [negated], HAND).verdict == "contradicted"


def test_a_passage_about_something_else_neither_supports_nor_contradicts():
    text = "The rest came from a loan by the national development bank."
    off_topic = apply_rules("The ferry terminal opened on Monday.", evidence(text, 0.05, 0.1, 0.85, similarity=0.2), Thresholds())
    assert off_topic.rule == "unrelated" and strengths(off_topic) == (0.0, 0.0)
    assert decide(CLAIM, "doc", [off_topic], HAND).verdict == "not_mentioned"
    # Shared words make a passage related even when the embeddings disagree.
    related = apply_rules("The bank gave a loan for the rest.", evidence(text, 0.9, 0.05, 0.05, similarity=0.2), Thresholds())
    assert related.rule is None


def test_key_span_is_the_run_of_words_whose_removal_moves_the_verdict():
    text = "At the same time the document will not contain any commitments at all"
    ev = evidence(text, 0.1, 0.1, 0.8, start=0)
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    ranges = [(first, min(first + 3, len(words))) for first in range(len(words))]
    drops = np.array([0.7 if "not" in text[words[a][0] : words[b - 1][1]] else 0.01 for a, b in ranges])
    span = key_span_from_drops(ev, words, ranges, drops)
    assert "not" in span.text and text[span.start : span.end] == span.text
    assert key_span_from_drops(ev, words, ranges, np.zeros(len(ranges))) is None


def _search(text: str, model) -> tuple[KeySpanSearch, int]:
    """A key-span search run to its end against ``model`` (variant -> the verdict's probability)."""
    search, calls = KeySpanSearch(text, model(text)), 0
    while not search.done:
        variants = search.variants()
        calls += len(variants)
        search.update(np.array([model(v) for v in variants]))
    return search, calls


def test_key_span_search_narrows_to_the_words_that_carry_the_verdict_in_a_few_model_calls():
    text = (
        "Officials in Washington said on Friday that, after long talks with allies in Brussels and Geneva, "
        "the document will not contain any commitments regarding NATO’s openness policy, a senior diplomat added."
    )
    # A model that contradicts the claim only while "will not contain" is there whole.
    search, calls = _search(text, lambda variant: 0.9 if "will not contain" in variant else 0.05)
    span = search.key_span(evidence(text, 0.05, 0.05, 0.9, start=40))
    assert "not" in span.text and len(span.text.split()) <= 5
    assert text[span.start - 40 : span.end - 40] == span.text
    # Removing every three-word window would take one call a word.
    assert calls < len(text.split()) / 2


def test_key_span_search_of_a_short_or_empty_passage():
    search, calls = _search("Prices did not rise.", lambda variant: 0.9 if "not" in variant else 0.1)
    assert search.key_span(evidence("Prices did not rise.", 0.1, 0.0, 0.9, start=0)).text.split().count("not") == 1
    empty, calls = _search("", lambda variant: 0.5)
    assert empty.done and calls == 0 and empty.key_span(evidence("", 0.5, 0.0, 0.5, start=0)) is None


def test_a_passage_quoting_the_claim_supports_it_whatever_the_model_says():
    text = "The harbour authority did not comment on their complaint."
    quoted = apply_rules("The harbour authority did not comment on their complaint.", evidence(text, 0.03, 0.03, 0.94), Thresholds())
    assert quoted.rule == "verbatim" and strengths(quoted) == (1.0, 0.0)
    assert quoted.probabilities["contradiction"] == 0.94  # the model's own reading stays visible
    assert quoted.key_span.text == "The harbour authority did not comment on their complaint"


def test_a_quotation_needs_whole_words_and_a_real_statement():
    text = "She is a manager at the port. Gov. Jerry Brown said the system will need to be examined."
    assert apply_rules("He is a manager at the port", evidence(text, 0.1, 0.1, 0.8), Thresholds()).rule != "verbatim"
    assert apply_rules("Gov.", evidence(text, 0.1, 0.1, 0.8), Thresholds()).rule != "verbatim"
    quoted = apply_rules("the system will need to be examined", evidence(text, 0.1, 0.1, 0.8), Thresholds())
    assert quoted.rule == "verbatim" and quoted.key_span.text == "the system will need to be examined"


def test_a_passage_of_questions_asserts_nothing():
    claim = "North American bison were reduced to only twenty-seven individuals."
    question = evidence("Were North American bison reduced to only twenty-seven individuals?", 0.9, 0.05, 0.05)
    judged = apply_rules(claim, question, Thresholds())
    assert judged.rule == "question" and strengths(judged) == (0.0, 0.0)
    answered = evidence("Were North American bison reduced to 27? No. Their numbers fell to 541 in 1889.", 0.1, 0.1, 0.8)
    assert apply_rules(claim, answered, Thresholds()).rule != "question"


def test_thresholds_are_probabilities():
    for arguments in (dict(support=1.5), dict(contradict=-0.1), dict(conflict=float("nan")), dict(support="0.5"), dict(topic=True)):
        with pytest.raises(ValueError, match=f"Thresholds\\({next(iter(arguments))}="):
            Thresholds(**arguments)


@pytest.mark.parametrize(
    "evidence",
    [
        "A spokesman denied that the company will cut 5,000 jobs.",
        "Reports that the company will cut 5,000 jobs are untrue, a spokesman said.",
        "Analysts are divided on whether the company will cut 5,000 jobs.",
        "The company will cut 5,000 jobs if sales do not recover.",
    ],
)
def test_a_quotation_that_is_denied_doubted_or_conditioned_is_not_verbatim_support(evidence):
    from factcheck.pipeline.aggregate import _quotation

    assert _quotation("The company will cut 5,000 jobs.", evidence) is None
    assert _quotation("The company will cut 5,000 jobs.", "Acme said the company will cut 5,000 jobs. No date was given.")


def test_a_number_quoted_is_not_the_start_of_a_longer_one():
    from factcheck.pipeline.aggregate import _quotation

    assert _quotation("The death toll rose to 12.", "The death toll rose to 12,400 on Friday, officials said.") is None
    assert _quotation("The death toll rose to 12.", "The death toll rose to 12 on Friday.")
