import json

import numpy as np
import pytest

from factcheck.checker import Checker
from factcheck.evaluation.benchmarks import (
    CHUNK_TOKENS,
    NOT_SUPPORTED,
    SYSTEM_SETS,
    BenchmarkDataError,
    MethodRun,
    SystemItem,
    load_system_set,
    run_baseline,
    run_factcheck,
    score_method,
)
from factcheck.pipeline.ingest import Document
from factcheck.results import CONTRADICTED, NOT_MENTIONED, SUPPORTED

EXPECTED = {
    "fever-symmetric-test": (712, {SUPPORTED, CONTRADICTED}),
    "healthver-dev": (1917, {SUPPORTED, CONTRADICTED, NOT_MENTIONED}),
    "covidfact-dev": (419, {SUPPORTED, NOT_SUPPORTED}),
    "qags-cnndm": (714, {SUPPORTED, NOT_SUPPORTED}),
    "qags-xsum": (239, {SUPPORTED, NOT_SUPPORTED}),
    "averitec-dev": (500, {SUPPORTED, CONTRADICTED, NOT_MENTIONED, "conflicting"}),
    # held-out bodies: every headline (763 agree, 191 disagree, 1,741 discuss, 7,621 unrelated)
    "fnc-1-dev": (10316, {SUPPORTED, CONTRADICTED, NOT_MENTIONED}),
}


def test_fnc1_samples_keep_a_quarter_of_the_unrelated_headlines(data_dir):
    from factcheck.evaluation.benchmarks import fewer_unrelated, fixed_sample

    items = load_system_set("fnc-1-dev", data_dir)
    fewer = fewer_unrelated(items)
    assert len(fewer) == 4539  # the 2,695 on-topic headlines and 1,844 unrelated ones
    assert sum(not item.id.endswith("-unrelated") for item in fewer) == 2695
    sample = fixed_sample("fnc-1-dev", items, 600)
    assert len(sample) == 600 and {item.id for item in sample} <= {item.id for item in fewer}


def test_fnc1_is_split_by_body(data_dir):
    from factcheck.evaluation.benchmarks import fnc1_rows

    train, dev = fnc1_rows(data_dir, "train"), fnc1_rows(data_dir, "dev")
    assert len(train) + len(dev) == 49972
    assert not {r["body_id"] for r in train} & {r["body_id"] for r in dev}
    assert all(int(r["body_id"]) % 5 == 0 for r in dev)


@pytest.fixture(scope="module")
def checker(nli_model):
    return Checker(nli_model, key_spans=False)


@pytest.mark.parametrize("name", list(SYSTEM_SETS))
def test_every_record_of_every_system_set_is_read(data_dir, name):
    items = load_system_set(name, data_dir)
    size, labels = EXPECTED[name]
    assert len(items) == size
    assert {item.gold for item in items} == labels
    assert all(item.claim.strip() and item.document.text.strip() for item in items)


def test_qags_claims_are_checked_against_the_whole_article(data_dir):
    items = load_system_set("qags-cnndm", data_dir)
    assert np.mean([len(item.document.text) for item in items]) > 1500
    # Summary sentences of one article share it.
    assert len({item.document.id for item in items}) == 235


def test_quick_sample_is_fixed(data_dir):
    first = [i.id for i in load_system_set("healthver-dev", data_dir, limit=25)]
    assert first == [i.id for i in load_system_set("healthver-dev", data_dir, limit=25)]
    assert len(set(first)) == 25


def test_a_bad_record_is_named(tmp_path):
    (tmp_path / "averitec").mkdir()
    (tmp_path / "averitec" / "dev.json").write_text(
        json.dumps([{"claim": "A.", "label": "Supported", "questions": [{"question": "Q?", "answers": [{"answer": "A."}]}]},
                    {"claim": "B.", "label": "Maybe", "questions": [{"question": "Q?", "answers": [{"answer": "B."}]}]}])
    )
    with pytest.raises(BenchmarkDataError, match=r"dev.json: record 2: unknown label 'Maybe'"):
        load_system_set("averitec-dev", tmp_path)
    with pytest.raises(FileNotFoundError, match="--data"):
        load_system_set("qags-xsum", tmp_path)


ARTICLE = Document(
    "The council met in Geneva on Monday. " * 3
    + "It approved a budget of 4 million euros. Critics said the budget was too small. "
    + "The mayor did not attend the meeting. " * 40,
    "article",
)
ITEMS = [
    SystemItem("a", "The council approved a budget of 4 million euros.", ARTICLE, SUPPORTED),
    SystemItem("b", "The mayor attended the meeting.", ARTICLE, CONTRADICTED),
    SystemItem("c", "The council met in Vienna.", ARTICLE, CONTRADICTED),
]


def test_baselines_judge_every_sentence_or_every_chunk(checker):
    before = len(checker._pair_cache)
    run_baseline(checker, ITEMS[:1], "summac-zs")
    # Every sentence is a unit; the article has four distinct sentences, each judged once.
    assert len(checker._pair_cache) - before == 4
    chunks = run_baseline(checker, ITEMS, "chunks-400")
    lengths = [len(checker.nli.tokenizer(p, add_special_tokens=False)["input_ids"]) for p, c in checker._pair_cache if c == ITEMS[0].claim and len(p) > 400]
    assert lengths and max(lengths) <= CHUNK_TOKENS
    assert chunks.verdicts[0] == SUPPORTED


def test_the_checker_gets_plain_cases_right(float32_model):
    # In float32: the model gives "The mayor attended the meeting" P(entailment) 0.598 against "did not attend", just
    # under the 0.6 below which the negation rule may overrule it; bfloat16 (auto on an AMX CPU) gives 0.6005.
    ours = run_factcheck(Checker(float32_model, key_spans=False), ITEMS)
    assert ours.verdicts == [SUPPORTED, CONTRADICTED, CONTRADICTED]
    assert ours.scores[0] > 0 > ours.scores[1]
    assert [r.claim.id for r in ours.results] == ["a", "b", "c"]


def test_scores_follow_their_definitions():
    items = [SystemItem(str(i), "c", ARTICLE, g) for i, g in enumerate([SUPPORTED, SUPPORTED, CONTRADICTED, NOT_MENTIONED])]
    run = MethodRun("x", [SUPPORTED, NOT_MENTIONED, CONTRADICTED, SUPPORTED], [0.9, 0.0, -0.5, 0.1], [0.9, 0.3, 0.1, 0.6])
    score = score_method("toy", items, run)
    # Supported recall 1/2, not-supported recall 1/2.
    assert score.balanced_accuracy == pytest.approx(0.5)
    assert score.roc_auc == pytest.approx(0.75)
    assert score.verdict_accuracy == pytest.approx(0.5) and score.verdict_view == "3-way"
    assert score.confusion_gold == [SUPPORTED, CONTRADICTED, NOT_MENTIONED]
    assert np.array(score.confusion).sum() == 4
    assert sum(b["count"] for b in score.reliability) == 4


def test_macro_f1_averages_the_classes_the_gold_labels_hold():
    # FEVER-symmetric style: gold only supported / contradicted. Calling a claim "not mentioned" is a miss of its
    # class; it must not also add an "other" class of F1 0 that no method could score on.
    items = [SystemItem(str(i), "c", ARTICLE, g) for i, g in enumerate([SUPPORTED, SUPPORTED, CONTRADICTED, CONTRADICTED])]
    run = MethodRun("x", [SUPPORTED, NOT_MENTIONED, CONTRADICTED, CONTRADICTED], [0.9, 0.0, -0.5, -0.5], [0.9, 0.3, 0.1, 0.1])
    score = score_method("toy", items, run)
    # Supported: precision 1, recall 1/2 -> F1 2/3; contradicted: precision 1, recall 1 -> F1 1.
    assert score.macro_f1_3way == pytest.approx((2 / 3 + 1) / 2)
    with_other = [*items, SystemItem("4", "c", ARTICLE, NOT_MENTIONED)]
    other_run = MethodRun("x", [*run.verdicts, NOT_MENTIONED], [*run.scores, 0.0], [*run.support, 0.3])
    # Other: precision 1/2, recall 1 -> F1 2/3, now averaged in.
    assert score_method("toy", with_other, other_run).macro_f1_3way == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)


def test_a_set_that_says_only_entailed_or_not_gives_no_contradiction_precision():
    # COVID-Fact and QAGS: a claim that is not entailed may or may not be contradicted, so a "contradicted" call on
    # one is neither right nor wrong there; calling a supported claim contradicted is still wrong.
    gold = [SUPPORTED, SUPPORTED, NOT_SUPPORTED, NOT_SUPPORTED]
    items = [SystemItem(str(i), "c", ARTICLE, g) for i, g in enumerate(gold)]
    run = MethodRun("x", [SUPPORTED, CONTRADICTED, CONTRADICTED, NOT_MENTIONED], [0.9, -0.5, -0.5, 0.0], [0.9, 0.1, 0.1, 0.3])
    score = score_method("toy", items, run)
    assert score.contradicted_called == 2
    assert score.contradiction_precision is None and score.contradiction_recall is None
    assert score.supported_called_contradicted == pytest.approx(0.5)
    three_way = [SystemItem(str(i), "c", ARTICLE, g) for i, g in enumerate([SUPPORTED, SUPPORTED, CONTRADICTED, NOT_MENTIONED])]
    assert score_method("toy", three_way, run).contradiction_precision == pytest.approx(0.5)
