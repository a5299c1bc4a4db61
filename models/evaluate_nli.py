"""Evaluate an NLI checkpoint on the evaluation (E) sets and write the table into its model card.

    python models/evaluate_nli.py --model models/factcheck-nli-minilm-l6 --data-dir ../shared/data

Writes ``eval_results.json`` beside the weights and replaces the block between
``<!-- eval:start -->`` and ``<!-- eval:end -->`` in ``MODEL_CARD.md``, so the
card's numbers are always the script's, never typed by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck.evaluation.evaluate import evaluate_sets  # noqa: E402
from factcheck.nli.data import SETS, load_set  # noqa: E402
from factcheck.nli.infer import NLIModel  # noqa: E402

CARD_SETS = [
    "xnli-en-validation",
    "snli-test",
    "mnli-mismatched-hard",
    "snli-test-hard",
    "anli-r1",
    "anli-r2",
    "anli-r3",
    "negation-nli-mnli",
    "negation-nli-snli",
    "negation-nli-rte",
    "breaking-nli",
    "fever-symmetric-test",
]
# Accuracy targets from the model issue.
TARGETS = {
    "xnli-en-validation": 0.76,
    "snli-test": 0.86,
    "snli-test-hard": 0.72,
    "mnli-mismatched-hard": 0.62,
    "fever-symmetric-test": 0.72,
    "negation-nli-mnli": 0.55,
}


def render_table(results: list[dict]) -> str:
    lines = [
        "| set | view | pairs | accuracy | macro-F1 | target (acc.) | ECE calibrated | ECE raw |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        target = TARGETS.get(r["name"])
        target_cell = "" if target is None else f"{target:.2f} {'met' if r['accuracy'] >= target else '**not met**'}"
        ece = "" if r["ece"] is None else f"{r['ece']:.3f}"
        ece_raw = "" if r["ece_uncalibrated"] is None else f"{r['ece_uncalibrated']:.3f}"
        lines.append(
            f"| {r['name']} | {r['view']} | {r['n']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {target_cell} | {ece} | {ece_raw} |"
        )
    return "\n".join(lines)


def identity_probe(model: NLIModel, data_dir: Path) -> dict:
    """Each distinct XNLI-en premise against itself: a sound NLI model calls every one entailment.

    The first shipped model read near-identical news sentences as contradiction; this keeps the number in view.
    """
    premises = sorted(set(load_set("xnli-en-validation", data_dir)["premise"]))
    probs = model.predict([(p, p) for p in premises], batch_size=64)
    return {
        "pairs": len(premises),
        "share_entailment": float((probs.argmax(axis=1) == 0).mean()),
        "share_contradiction": float((probs.argmax(axis=1) == 2).mean()),
        "mean_p_contradiction": float(probs[:, 2].mean()),
    }


def render_identity(probe: dict) -> str:
    return (
        f"Identity probe ({probe['pairs']} distinct XNLI-en premises, each against itself): "
        f"{probe['share_entailment']:.3f} predicted entailment, {probe['share_contradiction']:.3f} contradiction, "
        f"mean P(contradiction) {probe['mean_p_contradiction']:.3f}."
    )


def _licence(source: str) -> str:
    name = source.split(":", 1)[-1]  # "replay:lingnli-train", "news:fnc1-agree"
    if name in SETS:
        return SETS[name].licence
    if name.startswith("fnc1-"):
        return "FNC-1 train: no licence file upstream (research use)"
    if name == "off-topic":
        return "derived from MultiNLI, LingNLI, ConjNLI, RTE, AddOne-RTE (see news_pairs.py)"
    return "derived from the sets above (see synthetic.py)"


def _records(record: dict):
    """A training record and those of the stages it started from, newest first."""
    yield record
    for key in ("base_record", "initialised_from"):
        if isinstance(record.get(key), dict):
            yield from _records(record[key])


def render_data_table(record: dict) -> str:
    """Training data by source, with licences, from the recipe's own ``training_record.json``.

    The shipped weights went through several stages; the table is that of the stage trained on the most pairs
    (the T sets with the synthetic cases), since a later stage (news pairs, FNC-1 stance) records its own, smaller
    mix, or none.
    """
    record = max((r for r in _records(record) if "pairs_by_source" in r), key=lambda r: r["training_pairs"])
    lines = ["| source | pairs | licence |", "|---|---:|---|"]
    for source, count in record["pairs_by_source"].items():
        lines.append(f"| {source} | {count} | {_licence(source)} |")
    lines.append(f"| **total** | **{record['training_pairs']}** | |")
    return "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str:
    return re.sub(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", lambda _: f"<!-- {name}:start -->\n{body}\n<!-- {name}:end -->", text, flags=re.S)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/factcheck-nli-minilm-l6")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", nargs="+", default=CARD_SETS)
    parser.add_argument("--no-card", action="store_true", help="print and save results without touching MODEL_CARD.md")
    args = parser.parse_args(argv)

    started = time.time()
    model = NLIModel(args.model)
    results = [r.to_dict() for r in evaluate_sets(model, args.sets, args.data_dir, batch_size=64)]
    identity = identity_probe(model, args.data_dir)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    summary = {
        "model": model.display_name,
        "temperature": model.temperature,
        "commit": commit or None,
        "seconds": round(time.time() - started, 1),
        "results": results,
        "identity_probe": identity,
    }
    table = render_table(results) + "\n\n" + render_identity(identity)
    print(table)
    model_dir = Path(args.model)
    if model_dir.is_dir():
        (model_dir / "eval_results.json").write_text(json.dumps(summary, indent=2) + "\n")
        card = model_dir / "MODEL_CARD.md"
        if card.is_file() and not args.no_card:
            text = replace_block(
                card.read_text(),
                "eval",
                f"Generated by `python models/evaluate_nli.py` (commit {commit}, temperature "
                f"{model.temperature:.3f}, {summary['seconds']:.0f} s).\n\n{table}",
            )
            record_path = model_dir / "training_record.json"
            if record_path.is_file():
                text = replace_block(text, "data", render_data_table(json.loads(record_path.read_text())))
            card.write_text(text)


if __name__ == "__main__":
    main()
