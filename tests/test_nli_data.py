import pytest

from factcheck.nli.data import LABELS, NOT_ENTAILMENT, SETS, load_set, normalize_label


@pytest.mark.parametrize("name", ["xnli-en-validation", "fever-symmetric-test", "negation-nli-mnli", "imppres"])
def test_sets_load_into_the_common_schema(data_dir, name):
    data = load_set(name, data_dir)
    assert data.column_names == ["premise", "hypothesis", "label"]
    assert len(data) > 500
    assert set(data["label"]) <= set(LABELS) | {NOT_ENTAILMENT}
    assert all(p.strip() and h.strip() for p, h in zip(data["premise"][:200], data["hypothesis"][:200]))


def test_every_set_has_a_known_use():
    assert {s.use for s in SETS.values()} == {"T", "D", "E"}


def test_an_unknown_label_names_its_source():
    with pytest.raises(ValueError, match="somefile.csv: unknown label 'maybe'"):
        normalize_label("maybe", source="somefile.csv")


def test_unknown_set_and_missing_directory_are_clear(tmp_path):
    with pytest.raises(KeyError, match="unknown data set"):
        load_set("no-such-set", tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_set("snli-test", tmp_path / "absent")


def test_the_nearest_other_premise_is_never_the_hypothesis_own():
    import numpy as np

    from factcheck.nli.data import nearest_other_premise

    vectors = {"a dog runs": [1.0, 0.0], "a dog sleeps": [0.9, 0.1], "the market fell": [0.0, 1.0], "dogs move": [1.0, 0.05]}

    def embed(texts):
        rows = np.array([vectors[t] for t in texts])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    found = nearest_other_premise(["a dog runs", "the market fell"], ["dogs move", "a dog sleeps"], embed)
    # "dogs move" was written against "a dog runs": its nearest other premise is the market one
    assert [(premise, hypothesis) for premise, hypothesis, _ in found] == [("the market fell", "dogs move"), ("a dog runs", "a dog sleeps")]
    assert all(-1.0 <= similarity <= 1.0 for _, _, similarity in found)
