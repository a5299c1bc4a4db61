"""Average the weights of a checkpoint and its fine-tuned successor, keeping what the base knew (WiSE-FT).

    python models/average_weights.py --base STAGE2 --tuned STAGE3 --output models/factcheck-nli-minilm-l6

Fine-tuning on news (stage 3) taught the model that related-but-off-topic passages and passages that lack a
claim's detail are neutral, and shifted it towards neutral on general NLI (LingNLI-val 0.659 -> 0.602).
Averaging the weights, (1 - w) * base + w * tuned (Wortsman et al., 2022, "Robust fine-tuning of zero-shot
models"), keeps most of both. The weight is chosen on development data only: the largest of ``--weights``
whose LingNLI-val accuracy (MultiNLI-genre premises, D) is within ``--max-drop`` of the base's.
The chosen model is written to ``--output`` with the tuned checkpoint's tokenizer, config and training record
(plus ``weight_averaging``); calibrate it afterwards (``models/calibrate.py``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck.nli.data import LABELS, load_set  # noqa: E402
from factcheck.nli.infer import NLIModel  # noqa: E402

SELECTION_SET = "lingnli-val"
COPIED = ("config.json", "tokenizer.json", "tokenizer_config.json", "training_record.json")


def averaged(base: Path, tuned: Path, weight: float, out: Path) -> Path:
    from safetensors.torch import load_file, save_file

    a, b = load_file(base / "model.safetensors"), load_file(tuned / "model.safetensors")
    out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (tuned / name).is_file():
            shutil.copy(tuned / name, out / name)
    mixed = {k: ((1 - weight) * a[k].float() + weight * b[k].float()).to(a[k].dtype) if a[k].is_floating_point() else b[k] for k in a}
    save_file(mixed, out / "model.safetensors", metadata={"format": "pt"})
    return out


def accuracy(model: Path, data_dir: Path) -> float:
    data = load_set(SELECTION_SET, data_dir)
    logits = NLIModel(model, backend="torch", temperature=1.0).logits(list(zip(data["premise"], data["hypothesis"])))
    return float((logits.argmax(axis=1) == np.array([LABELS.index(label) for label in data["label"]])).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--tuned", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--weights", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    parser.add_argument("--max-drop", type=float, default=0.01)
    args = parser.parse_args(argv)

    scores = {0.0: accuracy(args.base, args.data_dir)}
    with tempfile.TemporaryDirectory() as scratch:
        for weight in sorted(args.weights):
            scores[weight] = accuracy(averaged(args.base, args.tuned, weight, Path(scratch) / str(weight)), args.data_dir)
            print(f"tuned weight {weight}: {SELECTION_SET} accuracy {scores[weight]:.4f}", flush=True)
    chosen = max(w for w, score in scores.items() if score >= scores[0.0] - args.max_drop)
    averaged(args.base, args.tuned, chosen, args.output)
    record_path = args.output / "training_record.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    record["weight_averaging"] = {
        "tuned_weight": chosen,
        "rule": f"largest weight with {SELECTION_SET} accuracy within {args.max_drop} of the base's",
        f"{SELECTION_SET}_accuracy": {str(w): round(score, 4) for w, score in scores.items()},
    }
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"chose tuned weight {chosen}; wrote {args.output}")


if __name__ == "__main__":
    main()
