"""Training signal for claim checking on news: FNC-1 headlines against passages of their bodies, and
hypotheses against the related-but-off-topic premises retrieval puts in front of them.

The first models read "on the same topic, but not about this" as contradiction (SNLI's convention: two
captions of one photo cannot describe different events). Two sources of pairs correct that:

* **FNC-1 train bodies** (``fnc-1-train``, bodies with id % 5 != 0; the others are held out as D). Each headline
  is a claim; its body is split into the checker's passages (sentences and two-sentence windows) and ranked by
  BM25 against the headline. FNC-1 labels a whole body, not a passage, so the passage labels are chosen so:

  - ``unrelated`` body: its ``UNRELATED_TOP`` best passages are **neutral** (the body is about another story);
  - ``discuss`` body: its ``DISCUSS_TOP`` best passages are **not contradiction** (entailment or neutral, a
    partial label): the article reports the claim without taking a side, so no passage of it may read as
    contradicting it, but one may well restate it;
  - ``agree`` body: of its ``STANCE_TOP`` best passages, the one the labelling model (the previous checkpoint)
    gives the highest P(entailment) is **entailment**; the others are **not contradiction**;
  - ``disagree`` body: of its ``STANCE_TOP`` best passages, the one with the highest P(contradiction) is
    **contradiction** (it is the passage that carries the stance if any does); the others are left out, since
    a debunking article also restates the claim it debunks.

* **Off-topic neighbours**: hypotheses of news-like T sets (MultiNLI-matched, LingNLI, ConjNLI, RTE, AddOne-RTE)
  against the most similar premise of another pair (all-MiniLM-L6-v2 embeddings, as the checker's retriever
  ranks), labelled **neutral**. A near-paraphrase (cosine above ``PARAPHRASE_SIMILARITY``) is left out: it may
  well entail the hypothesis. Captions (SNLI, MPE) are left out for the same reason: two captions of similar
  photos often describe the same scene.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np

from factcheck.evaluation.benchmarks import fnc1_rows
from factcheck.nli.data import load_set, nearest_other_premise
from factcheck.pipeline.ingest import Document
from factcheck.pipeline.retrieve import DocumentIndex, _claim_tokens

NOT_CONTRADICTION = "not_contradiction"
UNRELATED_TOP = 2
DISCUSS_TOP = 2
STANCE_TOP = 3
OFF_TOPIC_SOURCES = ["mnli-matched", "lingnli-train", "conjnli-train", "rte-train", "add-one-rte-train"]
PARAPHRASE_SIMILARITY = 0.9


def _ranked_passages(index: DocumentIndex, headline: str, k: int) -> list[str]:
    if not index.passages:
        return []
    scores = index.bm25.get_scores(list(_claim_tokens(headline)))
    return [index.passages[i].text for i in np.argsort(-scores, kind="stable")[:k]]


def fnc1_pairs(data_dir: Path, labeller, unrelated_bodies: int, seed: int) -> tuple[list[dict], Counter]:
    """Passage-level pairs from FNC-1's train bodies (see the module docstring); ``labeller`` is an ``NLIModel``."""
    rng = random.Random(seed)
    rows = fnc1_rows(data_dir, "train")
    unrelated = [r for r in rows if r["stance"] == "unrelated"]
    rng.shuffle(unrelated)
    rows = [r for r in rows if r["stance"] != "unrelated"] + unrelated[:unrelated_bodies]
    indexes: dict[str, DocumentIndex] = {}
    out: list[dict] = []
    to_label: list[tuple[dict, list[str]]] = []
    for r in rows:
        if r["body_id"] not in indexes:
            indexes[r["body_id"]] = DocumentIndex(Document(r["body"], f"fnc-1-body-{r['body_id']}"))
        index = indexes[r["body_id"]]
        if r["stance"] == "unrelated":
            out += [_pair(p, r["headline"], "neutral", "fnc1-unrelated") for p in _ranked_passages(index, r["headline"], UNRELATED_TOP)]
        elif r["stance"] == "discuss":
            out += [
                _pair(p, r["headline"], NOT_CONTRADICTION, "fnc1-discuss")
                for p in _ranked_passages(index, r["headline"], DISCUSS_TOP)
            ]
        else:
            passages = _ranked_passages(index, r["headline"], STANCE_TOP)
            if passages:
                to_label.append((r, passages))
    probs = labeller.predict([(p, r["headline"]) for r, passages in to_label for p in passages], batch_size=64)
    cursor = 0
    for r, passages in to_label:
        block = probs[cursor : cursor + len(passages)]
        cursor += len(passages)
        if r["stance"] == "agree":
            best = int(block[:, 0].argmax())
            for i, p in enumerate(passages):
                label = "entailment" if i == best else NOT_CONTRADICTION
                out.append(_pair(p, r["headline"], label, "fnc1-agree" if i == best else "fnc1-agree-other"))
        else:
            out.append(_pair(passages[int(block[:, 2].argmax())], r["headline"], "contradiction", "fnc1-disagree"))
    return out, Counter(row["kind"] for row in out)


def off_topic_pairs(data_dir: Path, embed, count: int, seed: int) -> tuple[list[dict], Counter]:
    """``count`` hypotheses of news-like T sets against the most similar premise of another pair, as neutral."""
    rng = random.Random(seed)
    pairs = [
        (premise, hypothesis)
        for name in OFF_TOPIC_SOURCES
        for premise, hypothesis in zip(*(lambda d: (d["premise"], d["hypothesis"]))(load_set(name, data_dir)))
    ]
    rng.shuffle(pairs)
    pairs = pairs[:count]
    found = nearest_other_premise([p for p, _ in pairs], [h for _, h in pairs], embed)
    out = [
        _pair(premise, hypothesis, "neutral", "off-topic")
        for premise, hypothesis, similarity in found
        if similarity < PARAPHRASE_SIMILARITY
    ]
    return out, Counter(row["kind"] for row in out)


def _pair(premise: str, hypothesis: str, label: str, kind: str) -> dict:
    return {"premise": premise, "hypothesis": hypothesis, "label": label, "kind": kind}
