"""Choose the checker's verdict and relatedness thresholds on development (D) data.

    python eval/choose_thresholds.py --model models/factcheck-nli-minilm-l6 --data-dir ../shared/data

Each D pair is read as one source with one passage: entailment should come out
``supported``, contradiction ``contradicted``, neutral ``not_mentioned``. To
these the script adds as many pairs that are about something else: each
hypothesis against the most similar premise of another pair of its set (what
retrieval would put in front of it), which should come out ``not_mentioned``.
A passage goes through the checker's "unrelated" rule first
(``factcheck.pipeline.aggregate.unrelated``: embedding similarity and shared content
words, no NLI), then its NLI probabilities against the support and
contradiction thresholds.

The script grid-searches all four thresholds together for the best macro-F1
over the three verdicts and writes ``eval/thresholds.json``; the defaults of
``factcheck.pipeline.aggregate.Thresholds`` are the values it chose. Together, because
they trade against each other: a stricter relatedness rule silences evidence
annotators judged relevant (the D pairs), a looser one lets the NLI model read
"about something else" as contradiction (the added pairs).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck.nli.data import SETS, load_set, nearest_other_premise  # noqa: E402
from factcheck.nli.infer import NLIModel  # noqa: E402
from factcheck.pipeline.aggregate import STRONGEST_CONTRADICT, STRONGEST_SUPPORT, Thresholds  # noqa: E402
from factcheck.pipeline.mismatch import content_coverage  # noqa: E402
from factcheck.pipeline.retrieve import Embedder  # noqa: E402

VERDICTS = ("supported", "contradicted", "not_mentioned")
VERDICT_OF_LABEL = {"entailment": "supported", "contradiction": "contradicted", "neutral": "not_mentioned"}
D_SETS = [name for name, spec in SETS.items() if spec.use == "D" and not spec.two_way]
VERDICT_GRID = np.round(np.arange(0.30, 0.91, 0.05), 2)
SIMILARITY_GRID = np.round(np.arange(0.20, 0.76, 0.05), 2)
COVERAGE_GRID = np.round(np.arange(0.20, 0.51, 0.05), 2)


def verdicts(probs: np.ndarray, support: float, contradict: float, related: np.ndarray) -> np.ndarray:
    """``factcheck.pipeline.aggregate.decide`` for a single passage (conflict needs two passages), as indices of ``VERDICTS``.

    Indices, not strings: sklearn's metrics on strings sort them each time, and the grid asks 10,000 times.
    """
    e, c = probs[:, 0], probs[:, 2]
    out = np.full(len(probs), VERDICTS.index("not_mentioned"))
    out[e >= support] = VERDICTS.index("supported")
    out[(c >= contradict) & ((c >= e) | (e < support))] = VERDICTS.index("contradicted")
    out[~related] = VERDICTS.index("not_mentioned")
    return out


def macro_f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    return float(f1_score(gold, predicted, labels=range(len(VERDICTS)), average="macro"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/factcheck-nli-minilm-l6")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "thresholds.json")
    args = parser.parse_args(argv)

    model, embedder = NLIModel(args.model), Embedder()
    pairs, labels = [], []
    for name in D_SETS:
        data = load_set(name, args.data_dir)
        pairs += list(zip(data["premise"], data["hypothesis"]))
        labels += data["label"]
        off_topic = [(p, h) for p, h, _ in nearest_other_premise(data["premise"], data["hypothesis"], embedder.encode)]
        pairs += off_topic
        labels += ["off-topic"] * len(off_topic)
    labels = np.array(labels, dtype=object)
    gold = np.array([VERDICTS.index(VERDICT_OF_LABEL.get(label, "not_mentioned")) for label in labels])
    probs = model.predict(pairs, batch_size=64)
    premises = embedder.encode([p for p, _ in pairs])
    hypotheses = embedder.encode([h for _, h in pairs])
    similarity = (premises * hypotheses).sum(axis=1)
    coverage = np.array([content_coverage(h, p) for p, h in pairs])

    scores = {}
    for s_rel, c_rel in itertools.product(SIMILARITY_GRID, COVERAGE_GRID):
        related = (similarity >= s_rel) | (coverage >= c_rel)
        for s, c in itertools.product(VERDICT_GRID, VERDICT_GRID):
            scores[(s, c, s_rel, c_rel)] = macro_f1(gold, verdicts(probs, s, c, related))
    best_key, best = max(scores.items(), key=lambda item: item[1])
    support, contradict, related_similarity, related_coverage = map(float, best_key)
    related = (similarity >= related_similarity) | (coverage >= related_coverage)
    current = Thresholds()
    shipped_related = (similarity >= current.related_similarity) | (coverage >= current.related_coverage)
    everything = np.ones(len(gold), dtype=bool)
    record = {
        "support": support,
        "contradict": contradict,
        "related_similarity": related_similarity,
        "related_coverage": related_coverage,
        "macro_f1": round(float(best), 4),
        "macro_f1_at_the_shipped_defaults": round(
            macro_f1(gold, verdicts(probs, STRONGEST_SUPPORT, STRONGEST_CONTRADICT, shipped_related)), 4
        ),
        "macro_f1_without_relatedness_rule": round(
            max(macro_f1(gold, verdicts(probs, s, c, everything)) for s in VERDICT_GRID for c in VERDICT_GRID), 4
        ),
        # What the relatedness rule does at the chosen values: the share of each kind of pair it lets through to NLI.
        "passed_to_nli": {label: round(float(related[labels == label].mean()), 4) for label in sorted(set(labels))},
        "sets": D_SETS,
        "pairs": {label: int((labels == label).sum()) for label in sorted(set(labels))},
        "model": args.model,
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
