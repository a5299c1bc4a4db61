"""How well an NLI checkpoint tells FNC-1's disagreeing article bodies from agreeing and discussing ones.

    python models/stance_auc.py --model models/factcheck-nli-minilm-l6 [--model OTHER ...]

On held-out FNC-1 bodies (D: id % 5 == 0), a fixed sample of headlines (every disagree, 300 agree, 300 discuss,
150 unrelated) against the ``--top`` passages of their body that BM25 ranks first (the checker's passages), it
prints per stance the mean of the strongest P(contradiction) and P(entailment), the ROC-AUC of the strongest
P(contradiction) for disagree against agree + discuss, and the share of disagreements among the headlines with
the highest strongest P(contradiction). No decision rule is involved: it is what the model itself can tell, the
ceiling of any decision built on it.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from news_pairs import _ranked_passages  # noqa: E402

from factcheck.evaluation.benchmarks import fnc1_rows  # noqa: E402
from factcheck.nli.data import LABELS  # noqa: E402
from factcheck.nli.infer import NLIModel  # noqa: E402
from factcheck.pipeline.ingest import Document  # noqa: E402
from factcheck.pipeline.retrieve import DocumentIndex  # noqa: E402

SAMPLE = {"agree": 300, "discuss": 300, "unrelated": 150}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--top", type=int, default=6)
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args(argv)

    rng = random.Random(0)
    by_stance: dict[str, list[dict]] = {}
    for row in fnc1_rows(args.data_dir, "dev"):
        by_stance.setdefault(row["stance"], []).append(row)
    rows = by_stance["disagree"] + [r for stance, n in SAMPLE.items() for r in rng.sample(by_stance[stance], n)]
    indexes: dict[str, DocumentIndex] = {}
    pairs, owner = [], []
    for i, row in enumerate(rows):
        if row["body_id"] not in indexes:
            indexes[row["body_id"]] = DocumentIndex(Document(row["body"], row["body_id"]))
        for passage in _ranked_passages(indexes[row["body_id"]], row["headline"], args.top):
            pairs.append((passage, row["headline"]))
            owner.append(i)
    owner = np.array(owner)
    stance = np.array([row["stance"] for row in rows])
    for name in args.model:
        probs = NLIModel(name, backend=args.backend).predict(pairs, batch_size=64)
        strongest = {
            label: np.array([probs[owner == i, LABELS.index(label)].max() for i in range(len(rows))])
            for label in ("entailment", "contradiction")
        }
        print(f"{Path(name).name}: {len(rows)} headlines, {len(pairs)} passages")
        for s in ("agree", "disagree", "discuss", "unrelated"):
            m = stance == s
            print(
                f"  {s:9} {m.sum():4}: strongest P(contradiction) {strongest['contradiction'][m].mean():.3f}, "
                f"P(entailment) {strongest['entailment'][m].mean():.3f}"
            )
        related = stance != "unrelated"
        disagree = stance[related] == "disagree"
        c = strongest["contradiction"][related]
        print(f"  ROC-AUC, disagree vs agree + discuss, by the strongest P(contradiction): {roc_auc_score(disagree, c):.3f}")
        order = np.argsort(-c, kind="stable")
        for k in (20, 40, 80):
            print(f"  disagreements among the {k} highest: {disagree[order[:k]].mean():.2f}")


if __name__ == "__main__":
    main()
