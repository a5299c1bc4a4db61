"""FEVER train as training pairs: readable text, premises for every label, D held out by entity."""

import csv
import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "models"))

from fever_pairs import HELD_OUT_OF, build_fever_pairs, detokenise, read_fever, subject_of  # noqa: E402

FACTS = {
    "Ada Lovelace": ["Ada Lovelace -LRB- 1815 -- 1852 -RRB- was an English mathematician .", "She wrote the first algorithm ."],
    "Alan Turing": ["Alan Turing was a British computer scientist .", "Turing was born in Maida Vale , London ."],
    "Grace Hopper": ["Grace Hopper was an American computer scientist .", "She was a rear admiral in the `` U.S. Navy '' ."],
    "Marie Curie": ["Marie Curie was a Polish physicist .", "She won the Nobel Prize twice ."],
}


def write_fever(folder, subjects):
    rows, n = [], 0
    for subject in subjects:
        first, second = FACTS.get(subject, [f"{subject} was a singer .", f"{subject} was born in Paris ."])
        for claim, label, evidence in [
            (f"{subject} was a scientist.", "SUPPORTS", [first]),
            (f"{subject} was not a scientist.", "REFUTES", [first]),
            (f"{subject} had three children.", "NOT ENOUGH INFO", []),
            (f"{subject} was born somewhere.", "SUPPORTS", [second]),
        ]:
            n += 1
            rows.append({"id": n, "verifiable": "VERIFIABLE", "label": label, "claim": claim, "evidence": repr(evidence) if evidence else ""})
    (folder / "fever-train").mkdir(parents=True)
    with (folder / "fever-train" / "train_split_wiki_data_0.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "verifiable", "label", "claim", "evidence"])
        writer.writeheader()
        writer.writerows(rows)


def test_ptb_tokens_are_undone():
    assert detokenise("Ada Lovelace -LRB- 1815 -- 1852 -RRB- was an English mathematician .") == (
        "Ada Lovelace (1815--1852) was an English mathematician."
    )
    assert detokenise("She was in the `` U.S. Navy '' , it is n't news .") == 'She was in the "U.S. Navy", it isn\'t news.'


def test_a_claim_is_about_the_name_it_starts_with():
    assert subject_of("Nikolaj Coster-Waldau worked with the Fox Broadcasting Company.") == "nikolaj coster-waldau"
    assert subject_of("The year of Jean-Martin Charcot's death was 1893.") == "jean-martin charcot"
    assert subject_of("There is a movie called The Hunger Games.") == "the hunger games"


@pytest.fixture(scope="module")
def fever_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    # Enough subjects that both sides of the entity split are filled (1 in 20 is held out).
    write_fever(folder, [*FACTS, *(f"Person{i} Example" for i in range(60))])
    return folder


def test_every_label_gets_a_premise_and_neutral_pairs_are_on_topic(fever_folder):
    pairs = build_fever_pairs(fever_folder, seed=0, per_label={"entailment": 50, "contradiction": 50, "neutral": 50}, on_topic_neutral=50)
    rows = pairs.train + pairs.dev
    assert all(r["premise"] and "-LRB-" not in r["premise"] for r in rows)
    by_source = {r["source"] for r in rows}
    assert by_source == {"fever-entailment", "fever-contradiction", "fever-neutral", "fever-on-topic"}
    for r in rows:
        if r["source"] == "fever-on-topic":  # a sentence that is not the claim's own evidence, labelled neutral
            assert r["label"] == "neutral"
    # The claim alone says "not": the claim-only classifier finds it easy, so it weighs less than an average pair.
    refuted = [r["weight"] for r in pairs.train if r["source"] == "fever-contradiction"]
    assert refuted and sum(refuted) / len(refuted) < 1.0


def test_held_out_entities_never_reach_training(fever_folder):
    pairs = build_fever_pairs(fever_folder, seed=0, per_label={"entailment": 500, "contradiction": 500, "neutral": 500}, on_topic_neutral=500)
    assert pairs.dev, "some entity is held out"
    dev_entities = {r["entity"] for r in pairs.dev}
    assert not dev_entities & {r["entity"] for r in pairs.train}
    dev_sentences = {r["premise"] for r in pairs.dev}
    assert not dev_sentences & {r["premise"] for r in pairs.train}
    assert all(int(entity[:8], 16) % HELD_OUT_OF == 0 for entity in dev_entities)
    assert len(read_fever(fever_folder)) == 64 * 4
