"""Choose the checker's verdict thresholds on development (D) data.

    python eval/choose_thresholds.py --model models/factcheck-nli-minilm-l6 --data-dir ../shared/data

Each D pair is read as one source with one passage: entailment should come out
``supported``, contradiction ``contradicted``, neutral ``not_mentioned``. The
script grid-searches the support and contradiction thresholds for the best
macro-F1 over those three verdicts and writes ``eval/thresholds.json``; the
defaults of ``factcheck.aggregate.Thresholds`` are the values it chose.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck.infer import NLIModel  # noqa: E402
from factcheck.nli_data import SETS, load_set  # noqa: E402

VERDICT_OF_LABEL = {"entailment": "supported", "contradiction": "contradicted", "neutral": "not_mentioned"}
D_SETS = [name for name, spec in SETS.items() if spec.use == "D" and not spec.two_way]
GRID = np.round(np.arange(0.30, 0.91, 0.05), 2)


def verdicts(probs: np.ndarray, support: float, contradict: float) -> list[str]:
    """``factcheck.aggregate.decide`` for a single passage (conflict needs two passages)."""
    e, c = probs[:, 0], probs[:, 2]
    out = np.full(len(probs), "not_mentioned", dtype=object)
    out[e >= support] = "supported"
    out[(c >= contradict) & ((c >= e) | (e < support))] = "contradicted"
    return list(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/factcheck-nli-minilm-l6")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "thresholds.json")
    args = parser.parse_args(argv)

    model = NLIModel(args.model)
    probs, gold = [], []
    for name in D_SETS:
        data = load_set(name, args.data_dir)
        probs.append(model.predict(list(zip(data["premise"], data["hypothesis"])), batch_size=64))
        gold.extend(VERDICT_OF_LABEL[label] for label in data["label"])
    probs = np.concatenate(probs)
    scores = {
        (s, c): f1_score(gold, verdicts(probs, s, c), average="macro")
        for s in GRID
        for c in GRID
    }
    (support, contradict), best = max(scores.items(), key=lambda item: item[1])
    record = {
        "support": float(support),
        "contradict": float(contradict),
        "macro_f1": round(float(best), 4),
        "macro_f1_at_0.5": round(float(scores[(0.5, 0.5)]), 4),
        "sets": D_SETS,
        "pairs": len(gold),
        "model": args.model,
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
