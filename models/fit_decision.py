"""Fit the checker's learned verdict (``factcheck.pipeline.aggregate.VerdictModel``) for an NLI checkpoint.

    python models/fit_decision.py --model models/factcheck-nli-minilm-l6 --data-dir ../shared/data

It writes ``decision.json`` into the model folder; the checker reads it from there.

Data, all development (D) data of ``../shared/data``, judged at document level, as the checker meets it:

* **FNC-1, held-out bodies** (``fnc-1-dev``: bodies with id % 5 == 0, never trained on): each headline against
  its whole article body; agree -> supported, disagree -> contradicted, discuss and unrelated -> not mentioned
  (a quarter of the unrelated pairs, a fixed sample).
* **NLI D pairs alone**: as many other pairs, the premise alone the document (what claim-evidence sets give).
* **NLI D pairs among distractors**: ``--per-set`` pairs of each 3-way D set; the premise is placed among
  ``DISTRACTORS`` premises of other pairs of its set, in a random position, and the five sentences make the
  document; entailment -> supported, contradiction -> contradicted, neutral -> not mentioned.

The checker runs on every item (retrieval, NLI, the rules; no key spans), and ``decision_features`` describes
each claim's passages. A multinomial logistic regression (scikit-learn) is fitted on them. Its operating points
are chosen on out-of-fold probabilities (5 folds, grouped by FNC-1 body, so a body's headlines never sit on
both sides): ``contradict`` is the lowest threshold at which "contradicted" is right at least ``--precision``
of the time on all the items (a false "contradicted" is the worst error the checker can make); then
``support`` is the threshold with the best macro-F1 over supported / contradicted / not mentioned. FNC-1
alone could not set the first: our model's P(contradiction) hardly tells its disagreeing bodies from the
others (of the held-out headlines whose strongest passage has P >= 0.5, 9% are disagreements), so no
threshold reaches a useful precision there; its numbers are reported under ``fit``. The final model is fitted on all the data; the out-of-fold numbers at the chosen points go into
``decision.json`` under ``fit``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_score, recall_score
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck.checker import Checker  # noqa: E402
from factcheck.evaluation.benchmarks import SystemItem, fewer_unrelated, load_system_set  # noqa: E402
from factcheck.nli.data import SETS, load_set  # noqa: E402
from factcheck.pipeline.aggregate import FEATURES, VERDICT_CLASSES, VerdictModel, decision_features  # noqa: E402
from factcheck.pipeline.claims import Claim  # noqa: E402
from factcheck.pipeline.ingest import Document  # noqa: E402
from factcheck.results import CONTRADICTED, NOT_MENTIONED, SUPPORTED  # noqa: E402

DISTRACTORS = 4
VERDICT_OF_LABEL = {"entailment": SUPPORTED, "contradiction": CONTRADICTED, "neutral": NOT_MENTIONED}
D_SETS = [name for name, spec in SETS.items() if spec.use == "D" and not spec.two_way]
GRID = np.round(np.arange(0.20, 0.96, 0.01), 2)


def nli_pairs(data_dir: Path, per_set: int, seed: int) -> list[SystemItem]:
    """Pairs of each 3-way D set with the premise alone as the document, as claim-evidence benchmarks give them."""
    rng = random.Random(seed + 1)
    items = []
    for name in D_SETS:
        data = load_set(name, data_dir).to_list()
        for number in rng.sample(range(len(data)), min(per_set, len(data))):
            row = data[number]
            items.append(SystemItem(f"{name}-{number}-alone", row["hypothesis"], Document(row["premise"], f"{name}-{number}-alone"), VERDICT_OF_LABEL[row["label"]]))
    return items


def nli_documents(data_dir: Path, per_set: int, seed: int) -> list[SystemItem]:
    rng = random.Random(seed)
    items = []
    for name in D_SETS:
        data = load_set(name, data_dir).to_list()
        premises = sorted({row["premise"] for row in data})
        for number in rng.sample(range(len(data)), min(per_set, len(data))):
            row = data[number]
            others = [p for p in rng.sample(premises, DISTRACTORS + 1) if p != row["premise"]][:DISTRACTORS]
            others.insert(rng.randrange(len(others) + 1), row["premise"])
            text = " ".join(p.strip() if p.strip().endswith((".", "!", "?")) else p.strip() + "." for p in others)
            items.append(SystemItem(f"{name}-{number}", row["hypothesis"], Document(text, f"{name}-{number}"), VERDICT_OF_LABEL[row["label"]]))
    return items


def verdicts_at(probs: np.ndarray, support: float, contradict: float) -> np.ndarray:
    """``factcheck.pipeline.aggregate.decide`` on the decision's probabilities (conflict aside), as class indices."""
    s, c = probs[:, 0], probs[:, 1]
    out = np.full(len(probs), VERDICT_CLASSES.index(NOT_MENTIONED))
    out[s >= support] = VERDICT_CLASSES.index(SUPPORTED)
    out[(c >= contradict) & (c >= s)] = VERDICT_CLASSES.index(CONTRADICTED)
    return out


def scores(gold: np.ndarray, predicted: np.ndarray) -> dict:
    contradicted, supported = VERDICT_CLASSES.index(CONTRADICTED), VERDICT_CLASSES.index(SUPPORTED)
    on_supported = gold == supported
    return {
        "n": int(len(gold)),
        "contradiction_precision": round(float(precision_score(gold == contradicted, predicted == contradicted, zero_division=0)), 4),
        "contradiction_recall": round(float(recall_score(gold == contradicted, predicted == contradicted, zero_division=0)), 4),
        "supported_called_contradicted": round(float((predicted[on_supported] == contradicted).mean()), 4) if on_supported.any() else None,
        "macro_f1": round(float(f1_score(gold, predicted, labels=range(3), average="macro")), 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/factcheck-nli-minilm-l6")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=None, help="folder for decision.json (default: --model)")
    parser.add_argument("--per-set", type=int, default=600)
    parser.add_argument("--precision", type=float, default=0.75, help="precision 'contradicted' must reach on all D items")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fnc-limit", type=int, default=None, help="a fixed sample of FNC-1 items (a quick trial)")
    parser.add_argument(
        "--features",
        type=Path,
        default=None,
        help="keep the features here (.npz) and reuse them when present: the checker pass takes minutes, the fit seconds",
    )
    args = parser.parse_args(argv)
    started = time.time()

    parts = {
        "fnc-1-dev": fewer_unrelated(load_system_set("fnc-1-dev", args.data_dir, limit=args.fnc_limit)),
        "nli-d-documents": nli_documents(args.data_dir, args.per_set, args.seed),
        "nli-d-pairs": nli_pairs(args.data_dir, args.per_set, args.seed),
    }
    fnc, nli = parts["fnc-1-dev"], parts["nli-d-documents"]
    items = [item for part in parts.values() for item in part]
    checker = Checker(args.model, key_spans=False, backend=args.backend, verdicts=VerdictModel.uninformed())
    cached = dict(np.load(args.features)) if args.features and args.features.is_file() else {}
    for name, part in parts.items():
        if name not in cached:
            results = checker.check_pairs([(Claim(item.claim, item.id), item.document) for item in part])
            cached[name] = np.array(
                [decision_features(item.claim, r.evidence) if r.evidence else np.zeros(len(FEATURES)) for item, r in zip(part, results)]
            )
            if args.features:
                np.savez(args.features, **cached)
    rows = np.concatenate([cached[name] for name in parts])
    part_of = np.array([name for name, part in parts.items() for _ in part])
    gold = np.array([VERDICT_CLASSES.index(item.gold) for item in items])
    groups = np.array([item.document.id for item in items])

    def fitted(x: np.ndarray, y: np.ndarray):
        scaler = StandardScaler().fit(x)
        scaler.scale_[scaler.scale_ == 0] = 1.0
        return scaler, LogisticRegression(C=1.0, max_iter=5000).fit(scaler.transform(x), y)

    out_of_fold = np.zeros((len(items), len(VERDICT_CLASSES)))
    for train, test in GroupKFold(n_splits=5).split(rows, gold, groups):
        scaler, model = fitted(rows[train], gold[train])
        out_of_fold[test] = model.predict_proba(scaler.transform(rows[test]))

    def precision_at(contradict: float) -> float:
        return scores(gold, verdicts_at(out_of_fold, 1.1, contradict))["contradiction_precision"]

    # Where no threshold is precise enough, the most precise one that still says "contradicted" at all.
    saying = [t for t in GRID if (verdicts_at(out_of_fold, 1.1, t) == VERDICT_CLASSES.index(CONTRADICTED)).sum() >= 10]
    contradict = float(next((t for t in saying if precision_at(t) >= args.precision), max(saying, key=precision_at)))
    support = float(max(GRID, key=lambda t: scores(gold, verdicts_at(out_of_fold, t, contradict))["macro_f1"]))
    scaler, model = fitted(rows, gold)
    predicted = verdicts_at(out_of_fold, support, contradict)
    fit = {
        "model": Path(args.model).name,
        "data": {
            "fnc-1-dev": f"{len(fnc)} headline-body pairs of held-out FNC-1 bodies",
            "nli-d-documents": f"{len(nli)} pairs of {', '.join(D_SETS)} ({args.per_set} a set), each premise among "
            f"{DISTRACTORS} premises of other pairs",
            "nli-d-pairs": f"{len(parts['nli-d-pairs'])} other pairs of the same sets, the premise alone the document",
        },
        "classes": list(VERDICT_CLASSES),
        "operating_points": f"contradict: lowest threshold with out-of-fold precision >= {args.precision} on all the "
        "items; support: best out-of-fold macro-F1 given contradict",
        "out_of_fold": {name: scores(gold[part_of == name], predicted[part_of == name]) for name in parts}
        | {"all": scores(gold, predicted)},
        # Sources about another story must stay silent: FNC-1's unrelated bodies called contradicted.
        "fnc-1-dev_unrelated_called_contradicted": int(
            sum(p == VERDICT_CLASSES.index(CONTRADICTED) for item, p in zip(fnc, predicted) if item.id.endswith("-unrelated"))
        ),
        "fnc-1-dev_unrelated": sum(item.id.endswith("-unrelated") for item in fnc),
        "seconds": round(time.time() - started, 1),
        "backend": checker.nli.backend,
    }
    verdicts = VerdictModel(
        features=FEATURES,
        mean=tuple(map(float, scaler.mean_)),
        scale=tuple(map(float, scaler.scale_)),
        coefficients=tuple(tuple(map(float, row)) for row in model.coef_),
        intercepts=tuple(map(float, model.intercept_)),
        support=support,
        contradict=contradict,
        fit=fit,
    )
    path = verdicts.save(args.out or args.model)
    print(json.dumps({"support": support, "contradict": contradict} | fit, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
