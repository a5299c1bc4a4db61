"""Model-level evaluation: an NLI model on labelled sentence pairs.

Each set is scored in the view its labels allow:

* ``3-way``: entailment / neutral / contradiction, prediction = argmax;
* ``entailment-vs-contradiction`` (e.g. FEVER-symmetric: SUPPORTS / REFUTES): the larger of the two;
* ``entailment-vs-not`` (sets without contradiction: RTE-style, MED, HELP): entailment if it is the argmax.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from factcheck.nli.calibration import expected_calibration_error
from factcheck.nli.data import LABELS, NOT_ENTAILMENT, load_set
from factcheck.nli.infer import NLIModel, softmax

ENTAILMENT, NEUTRAL, CONTRADICTION = LABELS


@dataclass
class PairEvaluation:
    name: str
    view: str
    n: int
    accuracy: float
    macro_f1: float
    per_class_f1: dict[str, float]
    confusion: list[list[int]]
    confusion_labels: list[str]
    ece: float | None = None
    ece_uncalibrated: float | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def view_of(labels: set[str]) -> str:
    if CONTRADICTION not in labels:
        return "entailment-vs-not"
    if NEUTRAL not in labels:
        return "entailment-vs-contradiction"
    return "3-way"


def predictions_in_view(probs: np.ndarray, view: str) -> list[str]:
    if view == "3-way":
        return [LABELS[i] for i in probs.argmax(axis=1)]
    if view == "entailment-vs-contradiction":
        return [ENTAILMENT if p[0] >= p[2] else CONTRADICTION for p in probs]
    return [ENTAILMENT if p.argmax() == 0 else NOT_ENTAILMENT for p in probs]


def gold_in_view(labels: list[str], view: str) -> list[str]:
    if view == "entailment-vs-not":
        return [ENTAILMENT if label == ENTAILMENT else NOT_ENTAILMENT for label in labels]
    return labels


def score_logits(name: str, logits: np.ndarray, labels: list[str], temperature: float) -> PairEvaluation:
    view = view_of(set(labels))
    probs = softmax(logits / temperature)
    gold = gold_in_view(labels, view)
    predicted = predictions_in_view(probs, view)
    classes = {"3-way": list(LABELS), "entailment-vs-contradiction": [ENTAILMENT, CONTRADICTION]}.get(
        view, [ENTAILMENT, NOT_ENTAILMENT]
    )
    per_class = f1_score(gold, predicted, labels=classes, average=None, zero_division=0)
    evaluation = PairEvaluation(
        name=name,
        view=view,
        n=len(labels),
        accuracy=float(accuracy_score(gold, predicted)),
        macro_f1=float(f1_score(gold, predicted, labels=classes, average="macro", zero_division=0)),
        per_class_f1={c: float(f) for c, f in zip(classes, per_class)},
        confusion=confusion_matrix(gold, predicted, labels=classes).tolist(),
        confusion_labels=classes,
    )
    if view == "3-way":
        index = np.array([LABELS.index(label) for label in labels])
        evaluation.ece = expected_calibration_error(probs, index)
        evaluation.ece_uncalibrated = expected_calibration_error(softmax(logits), index)
    return evaluation


def evaluate_sets(
    model: NLIModel,
    names: list[str],
    data_dir: str | Path,
    *,
    batch_size: int = 64,
    limit: int | None = None,
    show_progress: bool = False,
) -> list[PairEvaluation]:
    """Score ``model`` on each named set (see ``factcheck.nli.data.load_set``).

    ``limit`` keeps a fixed random sample (seed 0) of that many pairs: the first rows of a set are often
    one label or one template.
    """
    results = []
    for name in names:
        data = load_set(name, data_dir)
        if limit is not None and limit < len(data):
            data = data.shuffle(seed=0).select(range(limit))
        logits = model.logits(list(zip(data["premise"], data["hypothesis"])), batch_size=batch_size, show_progress=show_progress)
        results.append(score_logits(name, logits, list(data["label"]), model.temperature))
    return results
