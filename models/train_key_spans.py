"""Train the key-span head: one forward pass that predicts what the exhaustive occlusion search would find.

    python models/key_span_teacher.py --source fnc1      # teacher data (see there)
    python models/key_span_teacher.py --source lingnli
    python models/train_key_spans.py [--teacher ~/.cache/factcheck/key-spans] [--epochs 3]

The head is the shipped NLI model with its top ``--layers`` layers copied and fine-tuned and a token classifier
on top (one output for the entailment span, one for the contradiction span). It reads the same (passage, claim)
input as the NLI model and, per token of the passage, predicts the word's importance: the drop of the deciding
class's probability when the word is occluded, as a share of the passage's largest drop (soft binary
cross-entropy). Only the copied layers and the classifier are saved (``key_spans.safetensors`` in the model's
folder): the lower layers are the NLI model's own, loaded from its weights.

A tenth of the teacher's passages (by a hash of the passage text, so a passage never lands on both sides) is held
out; the closing line gives the held-out character Jaccard of the head's key span with the teacher's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck.nli.infer import default_model_path, pad_batch  # noqa: E402
from factcheck.nli.key_spans import KEY_SPAN_FILE, KeySpanHead  # noqa: E402


def held_out(record: dict) -> bool:
    return hashlib.sha1(record["passage"].encode()).digest()[0] < 26  # ~10%


def targets(head: KeySpanHead, records: list[dict]):
    """Token inputs, the class each record explains, and per token its word's share of the peak importance
    (-1 where no word of the passage is: the claim, special tokens, padding)."""
    encoded = head.tokenize([(r["passage"], r["claim"]) for r in records])
    rows = list(range(len(records)))
    inputs = pad_batch(head.tokenizer, encoded, rows, max(len(ids) for ids in encoded["input_ids"]))
    inputs = {name: torch.from_numpy(array) for name, array in inputs.items()}
    target = torch.full(inputs["input_ids"].shape, -1.0)
    for row, record in enumerate(records):
        importance = np.clip(np.asarray(record["importance"]), 0, None)
        share = importance / importance.max()
        words = head.token_words(encoded["offset_mapping"][row], encoded.sequence_ids(row), record["words"])
        for token, word in enumerate(words):
            if word is not None:
                target[row, token] = float(share[word])
    channel = torch.tensor([head.channel(r["label"]) for r in records])
    return inputs, channel, target


def jaccard(a: tuple[int, int] | None, b: tuple[int, int] | None) -> float:
    if a is None or b is None:
        return float(a == b)
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union else 1.0


def evaluate(head: KeySpanHead, records: list[dict]) -> float:
    spans = head.spans([(r["passage"], r["claim"], r["label"]) for r in records])
    return float(np.mean([jaccard(s, tuple(r["key_span"]) if r["key_span"] else None) for s, r in zip(spans, records)]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--teacher", type=Path, default=Path("~/.cache/factcheck/key-spans").expanduser(), help="folder of teacher-*.jsonl"
    )
    parser.add_argument("--model", type=Path, default=default_model_path(), help="the NLI model folder the head is for")
    parser.add_argument("--layers", type=int, default=2, help="top layers copied and fine-tuned")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--out", type=Path, default=None, help="default: the model folder")
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    files = sorted(args.teacher.glob("teacher-*.jsonl"))
    records = [json.loads(line) for path in files for line in path.read_text(encoding="utf-8").splitlines()]
    records = [r for r in records if r["key_span"] and max(r["importance"]) > 0]
    train = [r for r in records if not held_out(r)]
    dev = [r for r in records if held_out(r)]
    print(f"{len(records)} teacher passages ({', '.join(p.name for p in files)}): {len(train)} to train on, {len(dev)} held out", flush=True)

    head = KeySpanHead.untrained(args.model, layers=args.layers)
    head.model.train()
    trainable = [p for p in head.model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(train) + args.batch_size - 1) // args.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: min(1.0, step / (0.06 * steps)) * max(0.0, 1 - step / steps))
    rng = random.Random(0)
    started = time.time()
    for epoch in range(args.epochs):
        rng.shuffle(train)
        total = 0.0
        for i in range(0, len(train), args.batch_size):
            inputs, channel, target = targets(head, train[i : i + args.batch_size])
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = head.model(**inputs).logits.float()
            chosen = logits.gather(2, channel.view(-1, 1, 1).expand(-1, logits.shape[1], 1)).squeeze(2)
            mask = target >= 0
            loss = torch.nn.functional.binary_cross_entropy_with_logits(chosen[mask], target[mask])
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            total += loss.detach().item()
        head.model.eval()
        score = evaluate(head, dev)
        head.model.train()
        print(f"epoch {epoch + 1}: loss {total / (len(train) / args.batch_size):.4f}, held-out Jaccard {score:.3f} ({time.time() - started:.0f} s)", flush=True)
    head.model.eval()
    out = args.out or args.model
    head.save(out / KEY_SPAN_FILE, {"teacher_passages": len(records), "held_out": len(dev), "held_out_jaccard": round(evaluate(head, dev), 3), "epochs": args.epochs, "lr": args.lr})
    print(f"saved {out / KEY_SPAN_FILE}")


if __name__ == "__main__":
    main()
