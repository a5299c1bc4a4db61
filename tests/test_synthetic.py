import random
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "models"))

from synthetic import antonym, change_date, change_number, clause, generate, negate, negated_hypotheses, restate  # noqa: E402

rng = random.Random(0)


def test_negation_is_inserted_and_removed():
    assert negate("The document will contain commitments.", rng) == "The document will not contain commitments."
    assert negate("The document will not contain commitments.", rng) == "The document will contain commitments."
    assert negate("He doesn't agree.", rng) == "He does agree."
    assert negate("She had a small role.", rng) is None  # main-verb "have" needs do-support


def test_numbers_dates_and_antonyms_change():
    assert change_number("Police arrested 12 people.", rng) != "Police arrested 12 people."
    assert change_number("No numbers here.", rng) is None
    changed = change_date("The council met in Brussels on January 12.", rng)
    assert "January" not in changed and changed.endswith(" 12.")
    assert antonym("Prices rose sharply.", rng) == "Prices fell sharply."


def test_clause_splits_only_at_clause_boundaries():
    assert clause("He was born in Illinois, but he moved to Oklahoma in 1949.", random.Random(1)) in {
        "He was born in Illinois.",
        "He moved to Oklahoma in 1949.",
    }
    assert clause("A man in a red and white shirt sings.", rng) is None


def test_generate_is_reproducible_and_labels_by_kind():
    sentences = ["The council will not meet on Monday in Paris with John, and it rose 5 points."] * 3 + [
        "Two men were seen in London on 3 March 2020."
    ]
    first, counts = generate(sentences, per_kind=5, seed=1)
    second, _ = generate(sentences, per_kind=5, seed=1)
    assert first == second
    entailed_kinds = {"clause", "identity", "restate"}
    neutral_kinds = {"missing-clause", "missing-detail"}
    assert {r["label"] for r in first if r["kind"] in entailed_kinds} == {"entailment"}
    assert {r["label"] for r in first if r["kind"] in neutral_kinds} == {"neutral"}
    assert {r["label"] for r in first if r["kind"] not in entailed_kinds | neutral_kinds} == {"contradiction"}
    assert any(r["premise"] == r["hypothesis"] for r in first if r["kind"] == "identity")
    assert counts["negation"] >= 1 and counts["date"] >= 1


def test_restatements_keep_the_meaning():
    assert restate("He isn't coming to Paris.", rng) == "He is not coming to Paris."
    assert restate("It won't rain in Geneva.", rng) == "It will not rain in Geneva."
    assert restate("However, the talks were held in Geneva.", rng) == "The talks were held in Geneva."
    assert restate("She was not just a witness.", rng) == "She wasn't just a witness."  # "just" stays after "not"
    assert restate("Nothing to change here.", rng) is None


def test_negated_hypotheses_are_labelled_by_the_original_label():
    pairs = [
        {"premise": "A man sleeps on a bench.", "hypothesis": "A man is sleeping on a bench.", "label": "entailment"},
        {"premise": "A man sleeps on a bench.", "hypothesis": "The man is waiting for a bus.", "label": "neutral"},
        {"premise": "A man sleeps on a bench.", "hypothesis": "The man is running a race.", "label": "contradiction"},
    ]
    rows, counts = negated_hypotheses(pairs, per_kind=5, seed=0)
    assert {(r["hypothesis"], r["label"]) for r in rows} == {
        ("A man is not sleeping on a bench.", "contradiction"),
        ("The man is not waiting for a bus.", "neutral"),
    }
    assert counts == {"negated-entailment": 1, "negated-neutral": 1}


def test_a_claim_with_a_detail_the_passage_lacks_is_neutral():
    sentences = ["The council met in Geneva on Friday to discuss the new budget."] * 2
    rows, _ = generate(sentences, per_kind=5, seed=0)
    detail = [r for r in rows if r["kind"] == "missing-detail"]
    assert detail and all(r["label"] == "neutral" for r in detail)
    for r in detail:
        assert r["hypothesis"] == sentences[0]  # the claim is the whole sentence, the passage lacks a phrase
        assert len(r["premise"]) < len(r["hypothesis"]) and ("Geneva" not in r["premise"] or "Friday" not in r["premise"])
