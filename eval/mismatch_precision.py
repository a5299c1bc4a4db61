"""How often the mismatch rule is right when it turns a passage into a contradiction, on development (D) data.

    python eval/mismatch_precision.py --data-dir ../shared/data

* NLI D pairs (the 3-way D sets): of the pairs where the rule fires (a value of the hypothesis that the premise
  gives otherwise), the share whose gold label is contradiction. That is the rule's precision.
* FNC-1 D bodies (held out from training): each headline against the ``TOP`` passages of its body that BM25 ranks
  first, as the checker would retrieve them. On bodies that agree with the headline or only report it, the rule
  should not fire: the share of such headline-body pairs where it fires on some passage is its false-alarm rate
  there. On bodies that disagree, the share where it fires is a (loose) recall.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck.evaluation.benchmarks import fnc1_rows  # noqa: E402
from factcheck.nli.data import SETS, load_set  # noqa: E402
from factcheck.pipeline.ingest import Document  # noqa: E402
from factcheck.pipeline.mismatch import find_mismatches  # noqa: E402
from factcheck.pipeline.retrieve import DocumentIndex, _claim_tokens  # noqa: E402

TOP = 6
D_SETS = [name for name, spec in SETS.items() if spec.use == "D" and not spec.two_way]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--examples", type=int, default=0, help="print this many false alarms of each kind")
    args = parser.parse_args(argv)

    fired, right, false_alarms = Counter(), Counter(), []
    for name in D_SETS:
        data = load_set(name, args.data_dir)
        for premise, hypothesis, label in zip(data["premise"], data["hypothesis"], data["label"]):
            found = find_mismatches(hypothesis, premise)
            if found:
                fired[name] += 1
                right[name] += label == "contradiction"
                if label != "contradiction":
                    false_alarms.append((name, hypothesis, premise, found[0].claim_text, found[0].evidence_text))
    total_fired, total_right = sum(fired.values()), sum(right.values())
    record = {
        "nli_d_pairs": {
            "fired": total_fired,
            "right": total_right,
            "precision": round(total_right / total_fired, 4) if total_fired else None,
            "by_set": {name: {"fired": fired[name], "right": right[name]} for name in D_SETS},
        }
    }

    by_stance, fired_stance = Counter(), Counter()
    indexes: dict[str, DocumentIndex] = {}
    for row in fnc1_rows(args.data_dir, "dev"):
        if row["stance"] == "unrelated":
            continue
        index = indexes.setdefault(row["body_id"], DocumentIndex(Document(row["body"], row["body_id"])))
        if not index.passages:
            continue
        scores = index.bm25.get_scores(list(_claim_tokens(row["headline"])))
        top = sorted(range(len(scores)), key=lambda i: -scores[i])[:TOP]
        hits = [(index.passages[i].text, m) for i in top for m in find_mismatches(row["headline"], index.passages[i].text)]
        by_stance[row["stance"]] += 1
        if hits:
            fired_stance[row["stance"]] += 1
            if row["stance"] != "disagree":
                false_alarms.append(("fnc-1-" + row["stance"], row["headline"], hits[0][0], hits[0][1].claim_text, hits[0][1].evidence_text))
    record["fnc1_d_bodies"] = {
        stance: {"pairs": by_stance[stance], "fired": fired_stance[stance], "share": round(fired_stance[stance] / by_stance[stance], 4)}
        for stance in sorted(by_stance)
    }
    print(json.dumps(record, indent=2))
    for example in false_alarms[: args.examples]:
        print(example)


if __name__ == "__main__":
    main()
