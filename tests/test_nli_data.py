import pytest

from factcheck.nli_data import LABELS, NOT_ENTAILMENT, SETS, load_set, normalize_label


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
