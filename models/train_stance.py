"""Stage 4: teach the NLI model which passages of a news article take a side on a headline (FNC-1), by
multiple-instance learning over the passages the checker would judge.

    python models/train_stance.py --data-dir ../shared/data --base models/factcheck-nli-minilm-l6 \
        --output /tmp/stage4

Why: FNC-1 labels a whole article body (agree / disagree / discuss / unrelated), never a passage. Stage 3 guessed
one passage per body with the previous model and trained on that guess; the model it made could hardly tell a
disagreeing body from an agreeing one (ROC-AUC 0.56 of its strongest P(contradiction), on held-out bodies). Here
the body's label supervises the passages as a bag, and the model finds the passage that carries the stance:

* each training item is an FNC-1 train headline (bodies with id % 5 != 0; the others are D) against the ``--top``
  passages of its body that the checker's BM25 ranks first (sentences and two-sentence windows);
* with p_i the model's probabilities on passage i, the item's loss is
  - *disagree*: -log(1 - prod_i(1 - p_i(contradiction))), "at least one passage contradicts the headline";
  - *agree*: -log(1 - prod_i(1 - p_i(entailment))), "at least one passage states it", plus half of
    -sum_i log(1 - p_i(contradiction)), "and none contradicts it";
  - *discuss* (reports the claim without taking a side): -sum_i log(1 - p_i(contradiction)), no passage
    contradicts it, plus 0.3 x the same for entailment, since "officials are investigating reports that ..."
    does not assert what it reports;
  - *unrelated*: every passage neutral (cross-entropy);
* every step also trains on ``--replay`` labelled pairs of news-like T sets (MultiNLI, LingNLI, ConjNLI, SNLI),
  so that sentence-level NLI is kept; ``--off-topic N`` adds to that pool N hypotheses against the most similar
  premise of another pair, as neutral (stage 3's off-topic neighbours, ``models/news_pairs.py``): SNLI, replayed
  alone, keeps teaching its convention that two captions of one photo that differ contradict each other, and the
  checker's worst error is reading a related passage about something else as a contradiction.

The noisy-OR (the probability that at least one passage carries the stance) is the standard bag likelihood of
multiple-instance learning; it lets a body's gradient go mostly to the passage the model already finds most
likely to carry its stance, where a max would give it to one passage only. Checkpoints (model, optimiser,
position) go to ``--work-dir`` every ``--save-steps``; the same command resumes from the newest. The finished
weights and ``training_record.json`` go to ``--output``; calibration and the learned decision are separate
steps (``models/calibrate.py``, ``models/fit_decision.py``; the model card gives the whole sequence).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from news_pairs import _ranked_passages, off_topic_pairs  # noqa: E402
from train_nli import _named, git_commit  # noqa: E402

from factcheck.evaluation.benchmarks import fnc1_rows  # noqa: E402
from factcheck.nli.data import LABELS, load_set  # noqa: E402
from factcheck.pipeline.ingest import Document  # noqa: E402
from factcheck.pipeline.retrieve import DocumentIndex, Embedder  # noqa: E402

log = logging.getLogger("train_stance")

REPLAY_SETS = ["mnli-matched", "lingnli-train", "conjnli-train", "snli-train-100k"]
ENTAILMENT, NEUTRAL, CONTRADICTION = (LABELS.index(name) for name in ("entailment", "neutral", "contradiction"))
AGREE_NO_CONTRADICTION = 0.5
DISCUSS_NO_ENTAILMENT = 0.3
EPS = 1e-6


def stance_items(data_dir: Path, discuss: int, unrelated: int, disagree_repeat: int, seed: int) -> list[dict]:
    """FNC-1 train rows: every agree, each disagree ``disagree_repeat`` times (the class is small), and samples
    of discuss and unrelated, shuffled."""
    rng = random.Random(seed)
    by_stance: dict[str, list[dict]] = {}
    for row in fnc1_rows(data_dir, "train"):
        by_stance.setdefault(row["stance"], []).append(row)
    items = (
        by_stance["agree"]
        + by_stance["disagree"] * disagree_repeat
        + rng.sample(by_stance["discuss"], min(discuss, len(by_stance["discuss"])))
        + rng.sample(by_stance["unrelated"], min(unrelated, len(by_stance["unrelated"])))
    )
    rng.shuffle(items)
    return items


def replay_pairs(data_dir: Path, seed: int, off_topic: int = 0) -> list[tuple[str, str, int]]:
    pairs = []
    for name in REPLAY_SETS:
        data = load_set(name, data_dir)
        pairs += [
            (p, h, LABELS.index(label))
            for p, h, label in zip(data["premise"], data["hypothesis"], data["label"])
            if label in LABELS
        ]
    if off_topic:
        # float32, so that a resumed run finds the same neighbours as the run it resumes
        rows, _ = off_topic_pairs(data_dir, Embedder(backend="torch").encode, off_topic, seed)
        pairs += [(row["premise"], row["hypothesis"], NEUTRAL) for row in rows]
    random.Random(seed).shuffle(pairs)
    return pairs


def bag_loss(stance: str, log_probs: torch.Tensor) -> torch.Tensor:
    """The loss of one headline against its body's passages (``log_probs``: passages x labels); see the module
    docstring."""
    probs = log_probs.exp()
    log_no_contradiction = torch.log1p(-probs[:, CONTRADICTION].clamp(max=1 - EPS)).sum()
    log_no_entailment = torch.log1p(-probs[:, ENTAILMENT].clamp(max=1 - EPS)).sum()
    if stance == "disagree":
        return -torch.log(1 - log_no_contradiction.exp() + EPS)
    if stance == "agree":
        return -torch.log(1 - log_no_entailment.exp() + EPS) - AGREE_NO_CONTRADICTION * log_no_contradiction
    if stance == "discuss":
        return -log_no_contradiction - DISCUSS_NO_ENTAILMENT * log_no_entailment
    return -log_probs[:, NEUTRAL].mean()


def main(argv: list[str] | None = None) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--base", default="models/factcheck-nli-minilm-l6", help="NLI checkpoint to start from")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, default=Path.home() / ".cache/factcheck/train-stance")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--items", type=int, default=8, help="headline-body items a step")
    parser.add_argument("--top", type=int, default=4, help="passages of a body a headline is trained against")
    parser.add_argument("--replay", type=int, default=32, help="sentence pairs of the T sets a step")
    parser.add_argument(
        "--off-topic", type=int, default=0, help="off-topic neighbour pairs (neutral) added to the replay pool"
    )
    parser.add_argument("--discuss", type=int, default=2500)
    parser.add_argument("--unrelated", type=int, default=1500)
    parser.add_argument("--disagree-repeat", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--warmup-steps", type=int, default=30)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--save-steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="bfloat16 autocast (stages 4 to 4c, on an avx512_bf16 AMD EPYC); on an avx512_bf16 Intel Xeon without AMX "
        "a step took 5.2 s with it and 4.0 s without (--no-bf16)",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    commit = git_commit()
    items = stance_items(args.data_dir, args.discuss, args.unrelated, args.disagree_repeat, args.seed)
    replay = replay_pairs(args.data_dir, args.seed, args.off_topic)
    log.info("items: %d headline-body pairs; replay pool: %d pairs", len(items), len(replay))

    resume = args.work_dir / "last"
    start = resume if (resume / "state.pt").is_file() else args.base
    tokenizer = AutoTokenizer.from_pretrained(start)
    model = AutoModelForSequenceClassification.from_pretrained(start)
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / args.warmup_steps) * max(0.0, 1 - s / args.steps)
    )
    state = {"step": 0, "item": 0, "seconds": 0.0}
    if start == resume:
        saved = torch.load(resume / "state.pt", weights_only=True)
        optimiser.load_state_dict(saved["optimiser"])
        schedule.load_state_dict(saved["schedule"])
        state = saved["position"]
        log.info("resuming at step %d", state["step"])

    indexes: dict[str, DocumentIndex] = {}

    def passages(row: dict) -> list[str]:
        if row["body_id"] not in indexes:
            indexes[row["body_id"]] = DocumentIndex(Document(row["body"], f"fnc-1-body-{row['body_id']}"))
        return _ranked_passages(indexes[row["body_id"]], row["headline"], args.top)

    started = time.time() - state["seconds"]
    while state["step"] < args.steps:
        bags = []
        while len(bags) < args.items:
            row = items[state["item"] % len(items)]
            state["item"] += 1
            found = passages(row)
            if found:
                bags.append((row, found))
        first = state["step"] * args.replay % len(replay)
        sentences = [replay[(first + i) % len(replay)] for i in range(args.replay)]
        premises = [p for _, found in bags for p in found] + [p for p, _, _ in sentences]
        hypotheses = [row["headline"] for row, found in bags for _ in found] + [h for _, h, _ in sentences]
        encoded = tokenizer(
            premises, hypotheses, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt"
        )
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(**encoded).logits
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        losses, at = [], 0
        for row, found in bags:
            losses.append(bag_loss(row["stance"], log_probs[at : at + len(found)]))
            at += len(found)
        stance_loss = torch.stack(losses).mean()
        replay_loss = torch.nn.functional.nll_loss(log_probs[at:], torch.tensor([label for _, _, label in sentences]))
        (stance_loss + replay_loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        state["step"] += 1
        state["seconds"] = time.time() - started
        if state["step"] % 20 == 0:
            log.info("step %d: stance loss %.3f, replay loss %.3f, %.0f s", state["step"], stance_loss.item(), replay_loss.item(), state["seconds"])
        if state["step"] % args.save_steps == 0 or state["step"] == args.steps:
            partial = args.work_dir / "partial"
            shutil.rmtree(partial, ignore_errors=True)
            model.save_pretrained(partial)
            tokenizer.save_pretrained(partial)
            torch.save({"optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(), "position": state}, partial / "state.pt")
            shutil.rmtree(resume, ignore_errors=True)
            partial.rename(resume)

    args.output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.output)
    tokenizer.save_pretrained(args.output)
    record = {
        "stage": "stance (models/train_stance.py)",
        "initialised_from": _named(args.base),
        "recipe_commit": commit,
        "hyper_parameters": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k not in ("output", "work_dir", "data_dir", "base")},
        "items": len(items),
        "items_seen": state["item"],
        "steps": state["step"],
        "train_seconds": round(state["seconds"]),
    }
    base_record = Path(args.base) / "training_record.json"
    if base_record.is_file():  # the stages before this one
        record["base_record"] = json.loads(base_record.read_text())
    (args.output / "training_record.json").write_text(json.dumps(record, indent=1) + "\n")
    log.info("done: %s", record)


if __name__ == "__main__":
    main()
