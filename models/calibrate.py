"""Fit the shipped model's temperature on development (D) data and store it beside the weights.

    python models/calibrate.py --model models/factcheck-nli-minilm-l6 --data-dir ../shared/data

Writes ``calibration.json`` (temperature, the sets it was fitted on, their NLL
and ECE before and after), which ``factcheck.nli.infer.NLIModel`` applies to every
prediction. Only 3-way D sets are used: a 2-way label says nothing about how
probability should split between neutral and contradiction.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck.nli.calibration import (  # noqa: E402
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
)
from factcheck.nli.data import LABELS, load_set  # noqa: E402
from factcheck.nli.infer import CALIBRATION_FILE, NLIModel, softmax  # noqa: E402

CALIBRATION_SETS = ["lingnli-val", "sick-dev", "joci-dev", "cad-snli-dev", "mpe-dev"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/factcheck-nli-minilm-l6"))
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", nargs="+", default=CALIBRATION_SETS)
    args = parser.parse_args(argv)

    model = NLIModel(args.model, temperature=1.0)
    all_logits, all_labels, sizes = [], [], {}
    for name in args.sets:
        data = load_set(name, args.data_dir)
        all_logits.append(model.logits(list(zip(data["premise"], data["hypothesis"])), batch_size=64))
        all_labels.append(np.array([LABELS.index(label) for label in data["label"]]))
        sizes[name] = len(data)
    logits, labels = np.concatenate(all_logits), np.concatenate(all_labels)
    temperature = fit_temperature(logits, labels)
    record = {
        "temperature": temperature,
        "fitted_on": sizes,
        "nll_before": negative_log_likelihood(logits, labels),
        "nll_after": negative_log_likelihood(logits, labels, temperature),
        "ece_before": expected_calibration_error(softmax(logits), labels),
        "ece_after": expected_calibration_error(softmax(logits / temperature), labels),
    }
    (args.model / CALIBRATION_FILE).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
