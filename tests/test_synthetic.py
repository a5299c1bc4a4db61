import random
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "models"))

from synthetic import antonym, change_date, change_number, clause, generate, negate  # noqa: E402

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
    assert {r["label"] for r in first if r["kind"] == "clause"} == {"entailment"}
    assert {r["label"] for r in first if r["kind"] != "clause"} == {"contradiction"}
    assert counts["negation"] >= 1 and counts["date"] >= 1
