"""Public NLI and fact-checking sets, read through `datasets` into one schema.

Every loader returns a `datasets.Dataset` with the columns ``premise``,
``hypothesis`` and ``label``; ``label`` is one of ``LABELS`` or
``"not_entailment"`` for sets that only tell entailment from the rest.

The files are read from a directory the caller names (our scripts default to
``../shared/data``); nothing here is needed at run time by the checker itself.
``use`` follows the data README: T = train, D = development (thresholds,
calibration, early stopping), E = evaluation only.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

LABELS = ("entailment", "neutral", "contradiction")
NOT_ENTAILMENT = "not_entailment"

# Source spellings of labels across the sets; anything else is an error, never a guess.
_LABEL_ALIASES = {
    "entailment": "entailment",
    "entailed": "entailment",
    "e": "entailment",
    "supports": "entailment",
    "neutral": "neutral",
    "n": "neutral",
    "contradiction": "contradiction",
    "c": "contradiction",
    "refutes": "contradiction",
    "not_entailment": NOT_ENTAILMENT,
    "not-entailed": NOT_ENTAILMENT,
    "not_entail": NOT_ENTAILMENT,
    "non-entailment": NOT_ENTAILMENT,
    "0": "entailment",
    "1": "neutral",
    "2": "contradiction",
}


def normalize_label(raw: object, *, source: str) -> str:
    key = str(raw).strip().lower()
    if key not in _LABEL_ALIASES:
        raise ValueError(f"{source}: unknown label {raw!r}")
    return _LABEL_ALIASES[key]


@dataclass(frozen=True)
class NLISet:
    name: str
    use: str  # "T", "D" or "E"
    load: Callable[[Path], "datasets.Dataset"]  # noqa: F821
    licence: str
    two_way: bool = False


def _finish(ds, premise: str, hypothesis: str, label: str, source: str, *, skip_labels=("-",)):
    """Rename to the common schema, drop rows without a gold label, normalise labels."""
    ds = ds.select_columns([premise, hypothesis, label])
    if (premise, hypothesis, label) != ("premise", "hypothesis", "label"):
        ds = ds.rename_columns(
            {old: new for old, new in zip((premise, hypothesis, label), ("premise", "hypothesis", "label")) if old != new}
        )
    ds = ds.filter(
        lambda row: row["label"] is not None
        and str(row["label"]).strip() not in skip_labels
        and bool(row["premise"])
        and bool(row["hypothesis"])
    )
    import datasets

    # One feature type for every set, so that any of them can be concatenated with any other.
    features = datasets.Features({c: datasets.Value("string") for c in ("premise", "hypothesis", "label")})
    return ds.map(
        lambda row: {
            "premise": str(row["premise"]).strip(),
            "hypothesis": str(row["hypothesis"]).strip(),
            "label": normalize_label(row["label"], source=source),
        },
        features=features,
    )


def _csv(files, *, sep=",", quoting=csv.QUOTE_MINIMAL, encoding="utf-8"):
    import datasets

    return datasets.load_dataset(
        "csv",
        data_files=[str(f) for f in files],
        split="train",
        sep=sep,
        quoting=quoting,
        encoding=encoding,
        keep_default_na=False,
    )


def _json(files, columns: list[str]):
    """JSON lines; files of one set may carry different extra fields, so each is cut to ``columns`` first."""
    import datasets

    parts = [
        datasets.load_dataset("json", data_files=str(f), split="train").select_columns(columns) for f in files
    ]
    return datasets.concatenate_datasets(parts)


def _aligned_lines(files: dict[str, Path]):
    """Sets stored as line-aligned plain-text files (one column a file)."""
    import datasets

    columns = {}
    for column, path in files.items():
        columns[column] = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"line-aligned files differ in length: { {k: len(v) for k, v in columns.items()} }")
    return datasets.Dataset.from_dict(columns)


def _std_csv(rel: str, sep=","):
    def load(root: Path):
        return _finish(_csv([root / rel], sep=sep), "premise", "hypothesis", "label", rel)

    return load


def _snli_jsonl(rel: str):
    def load(root: Path):
        return _finish(_json([root / rel], ["sentence1", "sentence2", "gold_label"]), "sentence1", "sentence2", "gold_label", rel)

    return load


def _mnli_matched(root: Path):
    # The data README: rows 1-9,815 are matched; mismatched rows feed mnli-mismatched-hard (E).
    return _std_csv("mnli/dev.csv")(root).select(range(9815))


def _lingnli(split: str):
    def load(root: Path):
        files = sorted((root / "lingnli").glob(f"{split}_*.jsonl"))
        return _finish(_json(files, ["premise", "hypothesis", "label"]), "premise", "hypothesis", "label", f"lingnli/{split}")

    return load


def _mpe(rel: str):
    import re

    caption_prefix = re.compile(r"\d+jpg\d")

    def load(root: Path):
        ds = _std_csv(rel)(root)
        # Premises are four captions glued to image-id prefixes ("4615316828jpg1Very young girl ...").
        return ds.map(lambda row: {"premise": " ".join(caption_prefix.sub(". ", row["premise"]).split()).lstrip(". ")})

    return load


def _imppres(root: Path):
    import datasets

    parts = []
    for path in sorted((root / "imppres").glob("*.jsonl")):
        part = datasets.load_dataset("json", data_files=str(path), split="train")
        # Implicature files carry a logical and a pragmatic label instead of gold_label; readers of news
        # draw the pragmatic inference, so that is the one we learn.
        label = "gold_label" if "gold_label" in part.column_names else "gold_label_prag"
        parts.append(_finish(part, "sentence1", "sentence2", label, f"imppres/{path.name}"))
    return datasets.concatenate_datasets(parts)


def _help(root: Path):
    files = sorted((root / "help").glob("*.tsv"))
    return _finish(_csv(files, sep="\t"), "ori_sentence", "new_sentence", "gold_label", "help")


def _dnc(names: list[str], split: str | None):
    def load(root: Path):
        import datasets

        rows = []
        for name in names:
            path = root / "dnc" / f"{name}_data.json"
            for item in json.loads(path.read_text(encoding="utf-8")):
                if split is None or item["split"] == split:
                    rows.append({"premise": item["context"], "hypothesis": item["hypothesis"], "label": item["label"]})
        return _finish(datasets.Dataset.from_list(rows), "premise", "hypothesis", "label", "dnc")

    return load


def _tsv_rte(rel: str, premise: str, hypothesis: str, label: str, encoding: str = "utf-8"):
    def load(root: Path):
        ds = _csv([root / rel], sep="\t", quoting=csv.QUOTE_NONE, encoding=encoding)
        return _finish(ds, premise, hypothesis, label, rel)

    return load


def _lines(folder: str, s1: str, s2: str, labels: str):
    def load(root: Path):
        d = root / folder
        ds = _aligned_lines({"premise": d / s1, "hypothesis": d / s2, "label": d / labels})
        return _finish(ds, "premise", "hypothesis", "label", folder)

    return load


def _anli(round_: int):
    def load(root: Path):
        return _finish(_csv([root / f"anli/ANLI_analysis_r{round_}_dev.csv"]), "context", "statement", "gold_label", "anli")

    return load


def _negation_nli(part: str):
    # Upstream saved these files in Windows-1252 (curly quotes as 0x93/0x94).
    return _tsv_rte(f"negation-nli/{part}.txt", "Text", "Hypothesis", "gold_label", encoding="cp1252")


def _fever_symmetric(split: str):
    def load(root: Path):
        return _finish(
            _json([root / f"fever-symmetric/fever_symmetric_{split}.jsonl"], ["evidence", "claim", "gold_label"]),
            "evidence",
            "claim",
            "gold_label",
            "fever-symmetric",
        )

    return load


def _healthver(root: Path):
    return _finish(_csv([root / "healthver/healthver_dev.csv"]), "evidence", "claim", "label", "healthver")


def _breaking(root: Path):
    return _snli_jsonl("breaking-nli/dataset.jsonl")(root)


def _med(root: Path):
    return _tsv_rte("med/MED.tsv", "sentence1", "sentence2", "gold_label")(root)


def _conjnli(rel: str):
    def load(root: Path):
        ds = _csv([root / rel], sep="\t", quoting=csv.QUOTE_NONE)
        # The files start with a byte-order mark that pandas keeps in the first header.
        ds = ds.rename_columns({c: c.lstrip("\ufeff") for c in ds.column_names if c.startswith("\ufeff")})
        return _finish(ds, "Premise", "Hypothesis", "Label", rel)

    return load


SETS: dict[str, NLISet] = {
    s.name: s
    for s in [
        # training (T)
        NLISet("snli-train-100k", "T", _snli_jsonl("snli-train-100k/snli_1.0_train_subset.jsonl"), "CC BY-SA 4.0"),
        NLISet("snli-dev", "T", _std_csv("snli/dev.csv"), "CC BY-SA 4.0"),
        NLISet("mnli-matched", "T", _mnli_matched, "MultiNLI: mixed open licences"),
        NLISet("lingnli-train", "T", _lingnli("train"), "see upstream (LingNLI)"),
        NLISet("sick-train", "T", _std_csv("sick/train.csv"), "CC BY-NC-SA 3.0"),
        NLISet("joci-train", "T", _std_csv("joci/train.csv"), "see upstream (JOCI)"),
        NLISet("mpe-train", "T", _mpe("mpe/train.csv"), "see upstream (MPE)"),
        NLISet("cad-snli-train", "T", _tsv_rte("cad-snli/train.tsv", "sentence1", "sentence2", "gold_label"), "Apache-2.0"),
        NLISet("conjnli-train", "T", _conjnli("conjnli/adversarial_train_15k.tsv"), "MIT"),
        NLISet("imppres", "T", _imppres, "CC BY-NC 4.0"),
        NLISet("help", "T", _help, "CC BY-SA 4.0"),
        NLISet(
            "dnc-recast",
            "T",
            _dnc(["recast_megaveridicality", "recast_sentiment", "recast_verbnet"], None),
            "per example (DNC)",
            two_way=True,
        ),
        NLISet("rte-train", "T", _std_csv("rte/train.csv"), "see upstream (RTE)", two_way=True),
        NLISet("add-one-rte-train", "T", _std_csv("add-one-rte/train.csv"), "see upstream (AddOne)", two_way=True),
        NLISet("commitment-bank-train", "T", _std_csv("commitment-bank/train.csv"), "see upstream (CB)"),
        NLISet("fracas-train", "T", _std_csv("fracas/train.csv"), "see upstream (FraCaS)"),
        NLISet(
            "covidfact-train",
            "T",
            _tsv_rte("covidfact/train.tsv", "sentence1", "Sentence2", "label"),
            "see upstream (COVID-Fact)",
            two_way=True,
        ),
        NLISet(
            "scifact-train",
            "T",
            _tsv_rte("scifact-rte/train.tsv", "sentence1", "sentence2", "entailment"),
            "CC BY-NC 2.0",
            two_way=True,
        ),
        # development (D)
        NLISet("lingnli-val", "D", _lingnli("val"), "see upstream (LingNLI)"),
        NLISet("sick-dev", "D", _std_csv("sick/dev.csv"), "CC BY-NC-SA 3.0"),
        NLISet("joci-dev", "D", _std_csv("joci/dev.csv"), "see upstream (JOCI)"),
        NLISet("mpe-dev", "D", _mpe("mpe/dev.csv"), "see upstream (MPE)"),
        NLISet("cad-snli-dev", "D", _tsv_rte("cad-snli/dev.tsv", "sentence1", "sentence2", "gold_label"), "Apache-2.0"),
        NLISet("rte-dev", "D", _std_csv("rte/dev.csv"), "see upstream (RTE)", two_way=True),
        NLISet(
            "covidfact-dev",
            "D",
            _tsv_rte("covidfact/dev.tsv", "sentence1", "Sentence2", "entailment"),
            "see upstream (COVID-Fact)",
            two_way=True,
        ),
        # evaluation only (E)
        NLISet("xnli-en-validation", "E", _tsv_rte("xnli-en/xnli_validation_en.tsv", "premise", "hypothesis", "label"), "CC BY-NC 4.0"),
        NLISet("snli-test", "E", _snli_jsonl("snli-test/snli_1.0_test.jsonl"), "CC BY-SA 4.0"),
        NLISet("mnli-mismatched-hard", "E", _lines("mnli-mismatched-hard", "s1.test", "s2.test", "labels.test"), "see upstream"),
        NLISet("snli-test-hard", "E", _snli_jsonl("snli-test-hard/snli_1.0_test_hard.jsonl"), "CC BY-SA 4.0"),
        NLISet("anli-r1", "E", _anli(1), "CC BY-NC 4.0"),
        NLISet("anli-r2", "E", _anli(2), "CC BY-NC 4.0"),
        NLISet("anli-r3", "E", _anli(3), "CC BY-NC 4.0"),
        NLISet("negation-nli-mnli", "E", _negation_nli("MNLI"), "MIT"),
        NLISet("negation-nli-snli", "E", _negation_nli("SNLI"), "MIT"),
        NLISet("negation-nli-rte", "E", _negation_nli("RTE"), "MIT"),
        NLISet("breaking-nli", "E", _breaking, "CC BY-SA 4.0"),
        NLISet("fever-symmetric-test", "E", _fever_symmetric("test"), "CC BY-SA 3.0"),
        NLISet("healthver-dev", "E", _healthver, "see upstream (HealthVer)"),
        NLISet("med", "E", _med, "CC BY-SA 4.0"),
        NLISet("conjnli-dev", "E", _conjnli("conjnli/conj_dev.tsv"), "MIT"),
        NLISet("esnli-test", "E", _lines("esnli", "s1.test", "s2.test", "labels.test"), "MIT"),
        NLISet(
            "dnc-function-words",
            "E",
            _dnc(["nli-negation", "nli-comparatives", "nli-quantification", "nli-prepositions", "nli-spatial"], None),
            "per example (DNC)",
        ),
        NLISet("cad-snli-test", "E", _tsv_rte("cad-snli/test.tsv", "sentence1", "sentence2", "gold_label"), "Apache-2.0"),
    ]
}


def load_set(name: str, data_dir: str | Path):
    """Load one named set from ``data_dir`` (e.g. ``../shared/data``).

    A name that is not ours but looks like a hub dataset id (``owner/name`` or ``owner/name:split``, split
    ``test`` by default) is loaded with ``datasets.load_dataset``; it needs premise, hypothesis and label
    columns, labels spelled as words or as 0/1/2 = entailment/neutral/contradiction.
    """
    if name not in SETS and "/" in name:
        import datasets

        from factcheck.nli.hub import hub_unreachable

        dataset_id, _, split = name.partition(":")
        if hub_unreachable() and not datasets.config.HF_HUB_OFFLINE:
            raise FileNotFoundError(
                f"{name}: a hub dataset, and the hub cannot be reached from here; set HF_HUB_OFFLINE=1 to use a "
                "copy in the local cache, or evaluate on the sets of the data folder"
            )
        return _finish(datasets.load_dataset(dataset_id, split=split or "test"), "premise", "hypothesis", "label", name, skip_labels=("-", "-1"))
    if name not in SETS:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(sorted(SETS))}")
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist")
    return SETS[name].load(root)


def nearest_other_premise(premises: list[str], hypotheses: list[str], embed) -> list[tuple[str, str, float]]:
    """Each hypothesis against the premise most similar to it among those of other pairs, with their cosine.

    The most similar, not a random one, because that is what the checker meets: retrieval puts the passages
    closest to a claim in front of it, and a random caption is off-topic in ways no retrieved passage is.
    A premise text the hypothesis was written against is never taken. ``embed`` maps texts to unit vectors
    (``factcheck.pipeline.retrieve.Embedder.encode``).
    """
    import numpy as np

    unique = list(dict.fromkeys(premises))
    index = {text: k for k, text in enumerate(unique)}
    own: dict[str, set[int]] = {}
    for premise, hypothesis in zip(premises, hypotheses):
        own.setdefault(hypothesis, set()).add(index[premise])
    premise_vectors = embed(unique)
    found = []
    for start in range(0, len(hypotheses), 1024):  # a slab at a time: 40k x 40k floats would not fit
        rows = hypotheses[start : start + 1024]
        similarity = embed(rows) @ premise_vectors.T
        for row, hypothesis in enumerate(rows):
            similarity[row, list(own[hypothesis])] = -np.inf
            best = int(similarity[row].argmax())
            found.append((unique[best], hypothesis, float(similarity[row, best])))
    return found
