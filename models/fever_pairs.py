"""FEVER 1.0 train as (evidence, claim) pairs, the way the checker meets them.

    python models/fever_pairs.py --data-dir ../shared/data            # counts, the claim-only bias, a few pairs

What each FEVER claim gives (``fever-train`` in the data README, T):

- **SUPPORTS / REFUTES**: its gold evidence sentences, joined, as the premise (entailment / contradiction).
- **NOT ENOUGH INFO** has no evidence: its premise is the evidence sentence of *another* claim that BM25 (the
  checker's own lexical retrieval: bm25s, English stop words, Snowball stems) ranks first for it. That is the
  sentence the checker would put in front of the model: same subject, and by FEVER's label it does not settle
  the claim (neutral).
- **On topic but not about this**: a SUPPORTS or REFUTES claim also gets the best-ranked sentence that is not
  among its own evidence (neutral). The same claim then appears with two labels, so its wording alone cannot
  decide; that is the first counter to FEVER's claim-only bias.
- **Re-weighting** (Schuster et al., 2019): a claim-only classifier (TF-IDF n-grams, logistic regression,
  out-of-fold by entity) says how well the claim's words alone predict its label; a claim's own pair weighs
  ``1 - p(gold | claim)``, scaled to mean 1, so "REFUTES because it says *not*" counts little.

Entities: FEVER gives no page title here; a claim's entity is the name it starts with (``subject_of``). The D
slice is every entity whose stable hash falls in 1 of ``HELD_OUT_OF`` buckets (never split by row: one entity
carries many claims), and a training claim that shares a sentence with D (its evidence or its retrieved premise)
is left out, so that no D sentence is ever trained on. (Joining claims that share a sentence chains the whole set
into a few giant components: 1,790 for 145k claims.)

The text is PTB-tokenised (``-LRB-``, ``` `` ```, spaces before punctuation); nltk's Treebank detokeniser undoes it
after the bracket tokens are mapped back.
"""

from __future__ import annotations

import argparse
import ast
import csv
import functools
import hashlib
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HELD_OUT_OF = 20  # 1 entity in 20 is D
_BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}
_BRACKET_RE = re.compile("|".join(map(re.escape, _BRACKETS)))
# FEVER's evidence can run long (several sentences of a page); the model reads 128 tokens.
MAX_PREMISE_WORDS = 90
LABEL_OF = {"SUPPORTS": "entailment", "REFUTES": "contradiction", "NOT ENOUGH INFO": "neutral"}


@dataclass
class FeverClaim:
    id: str
    claim: str
    label: str  # entailment / contradiction / neutral
    evidence: list[str] = field(default_factory=list)
    entity: str = ""


@functools.cache
def _detokeniser():
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    return TreebankWordDetokenizer()


def detokenise(text: str) -> str:
    text = _BRACKET_RE.sub(lambda m: _BRACKETS[m.group(0)], text)
    return _detokeniser().detokenize(text.split())


def read_fever(data_dir: Path) -> list[FeverClaim]:
    """Every claim of ``fever-train``, detokenised; an unreadable row is an error naming its file and line."""
    files = sorted((data_dir / "fever-train").glob("train_split_wiki_data_*.csv"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    if not files:
        raise SystemExit(f"{data_dir / 'fever-train'}: no train_split_wiki_data_*.csv (see the data README)")
    csv.field_size_limit(sys.maxsize)
    claims = []
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                if row["label"] not in LABEL_OF:
                    raise ValueError(f"{path.name}, row {line}: unknown label {row['label']!r}")
                evidence = ast.literal_eval(row["evidence"]) if row["evidence"].strip() else []
                if row["label"] != "NOT ENOUGH INFO" and not evidence:
                    continue  # a few verifiable rows came without their sentences: nothing to pair them with
                sentences = list(dict.fromkeys(detokenise(s) for s in evidence if s.strip()))
                claims.append(FeverClaim(row["id"], detokenise(row["claim"]), LABEL_OF[row["label"]], sentences))
    return claims


def _premise(sentences: list[str]) -> str:
    kept, words = [], 0
    for sentence in sentences:
        n = len(sentence.split())
        if kept and words + n > MAX_PREMISE_WORDS:
            break
        kept.append(sentence)
        words += n
    return " ".join(kept)


# Words that sit inside a title ("Marquis de Sade", "History of Art") without being capitalised.
_TITLE_JOINERS = {"of", "the", "and", "de", "la", "le", "du", "da", "di", "von", "van", "der", "den", "y", "&"}
_DETERMINERS = {"the", "a", "an", "this", "there", "it", "in", "on", "at"}


def subject_of(claim: str) -> str:
    """The Wikipedia entity a FEVER claim is about, as its writers put it first: the claim's first run of
    capitalised words ("Nikolaj Coster-Waldau worked with ..."), past a leading determiner ("The year of
    Jean-Martin Charcot's death ..."), lower-cased, possessive dropped."""
    words = [w.strip(".,;:!?\"()") for w in claim.split()]
    runs, run = [], []
    for word in words:
        if word[:1].isupper() or word[:1].isdigit() or (run and word.lower() in _TITLE_JOINERS):
            run.append(word)
        elif run:
            runs.append(run)
            run = []
    runs.append(run)
    for run in runs:
        while run and run[-1].lower() in _TITLE_JOINERS:
            run.pop()
        if run and run[0].lower() in _DETERMINERS and len(run) == 1:
            continue
        if run:
            return " ".join(run).lower().removesuffix("'s").removesuffix("’s")
    return claim.lower()


def is_held_out(claim: FeverClaim) -> bool:
    return int(claim.entity[:8], 16) % HELD_OUT_OF == 0


def retrieve_neighbours(claims: list[FeverClaim], k: int = 5) -> dict[str, list[str]]:
    """For every claim, the k evidence sentences of the whole set that BM25 ranks highest, its own left out."""
    import Stemmer

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from factcheck.pipeline.retrieve import bm25s_module

    bm25s = bm25s_module()
    corpus = sorted({s for c in claims for s in c.evidence})
    stemmer = Stemmer.Stemmer("english")
    index = bm25s.BM25()
    index.index(bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    queries = bm25s.tokenize([c.claim for c in claims], stopwords="en", stemmer=stemmer, show_progress=False)
    found, _ = index.retrieve(queries, k=k + 8, show_progress=False, n_threads=0)
    neighbours = {}
    for c, row in zip(claims, found):
        own = set(c.evidence)
        neighbours[c.id] = [corpus[i] for i in row if corpus[i] not in own][:k]
    return neighbours


def claim_only_bias(claims: list[FeverClaim], seed: int) -> tuple[np.ndarray, float]:
    """P(gold | claim text alone), out of fold by entity, and that classifier's accuracy (how biased FEVER is)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    texts = [c.claim for c in claims]
    labels = np.array([c.label for c in claims])
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=3, sublinear_tf=True), LogisticRegression(max_iter=1000, C=1.0))
    folds = GroupKFold(n_splits=5)
    proba = cross_val_predict(model, texts, labels, groups=[c.entity for c in claims], cv=folds, method="predict_proba")
    classes = sorted(set(labels))
    gold = proba[np.arange(len(claims)), [classes.index(y) for y in labels]]
    accuracy = float((np.array(classes)[proba.argmax(1)] == labels).mean())
    return gold, accuracy


@dataclass
class FeverPairs:
    train: list[dict]
    dev: list[dict]
    counts: dict
    claim_only_accuracy: float


def build_fever_pairs(data_dir: Path, seed: int, per_label: dict[str, int], on_topic_neutral: int) -> FeverPairs:
    """Train pairs (a sample: ``per_label`` claims of each label, ``on_topic_neutral`` extra neutral pairs) from the
    training entities, and every D pair of the held-out entities. Each row: premise, hypothesis, label, source,
    weight, entity, claim_id."""
    claims = read_fever(data_dir)
    retrieved = retrieve_neighbours(claims)
    for c in claims:
        c.entity = hashlib.sha1(subject_of(c.claim).encode()).hexdigest()
    bias, accuracy = claim_only_bias(claims, seed)
    by_label = Counter(c.label for c in claims)
    rows, neutral_rows = [], []
    for c, p_gold in zip(claims, bias):
        premise = _premise(c.evidence) if c.evidence else (retrieved[c.id][0] if retrieved[c.id] else "")
        if not premise:
            continue
        base = {"hypothesis": c.claim, "entity": c.entity, "claim_id": c.id, "held_out": is_held_out(c)}
        rows.append(base | {"premise": premise, "label": c.label, "source": f"fever-{c.label}", "bias": float(p_gold)})
        if c.evidence and retrieved[c.id]:
            neutral_rows.append(base | {"premise": retrieved[c.id][0], "label": "neutral", "source": "fever-on-topic", "bias": None})
    rng = random.Random(seed)
    dev = [r for r in rows + neutral_rows if r["held_out"]]
    # A sentence of a held-out entity's pairs never reaches training, even as another subject's premise.
    dev_sentences = {s for c in claims if is_held_out(c) for s in c.evidence + retrieved[c.id][:1]}
    leaks = {c.id for c in claims if not is_held_out(c) and dev_sentences & set(c.evidence + retrieved[c.id][:1])}
    train_rows = [r for r in rows if not r["held_out"] and r["claim_id"] not in leaks]
    sample = []
    for label, n in per_label.items():
        pool = [r for r in train_rows if r["label"] == label]
        sample += rng.sample(pool, min(n, len(pool)))
    chosen = {r["claim_id"] for r in sample}
    # On-topic neutrals for claims in the sample first: the same claim then carries two labels.
    pool = [r for r in neutral_rows if not r["held_out"] and r["claim_id"] not in leaks]
    pool.sort(key=lambda r: (r["claim_id"] not in chosen, rng.random()))
    sample += pool[:on_topic_neutral]
    weights = np.array([1.0 - r["bias"] if r["bias"] is not None else np.nan for r in sample])
    scale = np.nanmean(weights)
    for r, w in zip(sample, weights):
        r["weight"] = 1.0 if np.isnan(w) else float(w / scale)
    counts = {
        "claims": len(claims),
        "claims_by_label": dict(by_label),
        "entities": len({c.entity for c in claims}),
        "held_out_entities": len({c.entity for c in claims if is_held_out(c)}),
        "train_claims_left_out_for_sharing_a_sentence_with_d": len(leaks),
        "train_pairs_by_source": dict(Counter(r["source"] for r in sample)),
        "dev_pairs_by_source": dict(Counter(r["source"] for r in dev)),
        "claim_only_accuracy_out_of_fold": round(accuracy, 4),
    }
    rng.shuffle(sample)
    return FeverPairs(sample, dev, counts, accuracy)


def evaluate_dev(model_path: str, dev: list[dict], backend: str = "torch") -> dict:
    """The held-out entities: 3-way accuracy over every D pair, and how well P(contradiction) of a claim's own
    evidence ranks REFUTES above SUPPORTS claims (ROC-AUC), with argmax contradiction precision."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from factcheck.nli.data import LABELS
    from factcheck.nli.infer import NLIModel

    model = NLIModel(model_path, backend=backend)
    probs = model.predict([(r["premise"], r["hypothesis"]) for r in dev], batch_size=64)
    gold = [r["label"] for r in dev]
    predicted = [LABELS[i] for i in probs.argmax(1)]
    own = [i for i, r in enumerate(dev) if r["source"] in ("fever-entailment", "fever-contradiction")]
    refuted = [dev[i]["label"] == "contradiction" for i in own]
    called = [predicted[i] == "contradiction" for i in own]
    supported_called = [c for c, r in zip(called, refuted) if not r]
    return {
        "model": model.display_name,
        "pairs": len(dev),
        "pairs_by_source": dict(Counter(r["source"] for r in dev)),
        "accuracy_3way": round(accuracy_score(gold, predicted), 4),
        "refuted_vs_supported_auc": round(roc_auc_score(refuted, probs[own, LABELS.index("contradiction")]), 4),
        "contradiction_precision": round(sum(c and r for c, r in zip(called, refuted)) / max(1, sum(called)), 4),
        "supported_called_contradicted": round(sum(supported_called) / max(1, len(supported_called)), 4),
    }


def main(argv: list[str] | None = None) -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--dev", type=Path, default=None, help="a fever_dev.jsonl that train_nli.py --fever wrote")
    parser.add_argument("--evaluate", nargs="*", default=[], metavar="MODEL", help="score these models on the D slice")
    args = parser.parse_args(argv)
    if args.dev:
        dev = [json.loads(line) for line in args.dev.read_text().splitlines()]
    else:
        pairs = build_fever_pairs(args.data_dir, args.seed, {"entailment": 8000, "contradiction": 8000, "neutral": 6000}, 6000)
        dev = pairs.dev
        print(json.dumps(pairs.counts, indent=2))
        for row in pairs.train[:8]:
            print(row["label"], round(row["weight"], 2), "|", row["premise"][:120], "||", row["hypothesis"])
    for model in args.evaluate:
        print(json.dumps(evaluate_dev(model, dev)))


if __name__ == "__main__":
    main()
