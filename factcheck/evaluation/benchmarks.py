"""System-level benchmarks: claims against evidence or whole articles, judged by three methods on one model.

Each item is a claim, the one document it is checked against, and a gold label.
The labels are the checker's verdicts (``supported``, ``contradicted``,
``not_mentioned``, ``conflicting``); sets that only say whether a claim is
supported (COVID-Fact, QAGS) use ``not_supported`` for the rest.

Methods, all on the same NLI model (one shared pair cache), so that the
comparison isolates the method:

* ``factcheck``: the checker itself (retrieval, NLI, the checks beyond NLI, its verdict rule);
* ``summac-zs``: NLI of the claim against every sentence of the document, as
  SummaC-ZS does; score = max P(entailment) - max P(contradiction);
* ``chunks-400``: the document cut into chunks of at most 400 tokens at sentence
  boundaries, as MiniCheck and AlignScore do; score = max P(entailment).

Both baselines turn their NLI results into a verdict by the strongest passage
(``aggregate.decide`` without a learned decision, at the thresholds
``eval/choose_thresholds.py`` chose on D data), without the checks beyond NLI.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, roc_auc_score

from factcheck.checker import Checker
from factcheck.nli.calibration import expected_calibration_error
from factcheck.nli.data import LABELS
from factcheck.pipeline.aggregate import Thresholds, decide, strengths
from factcheck.pipeline.claims import Claim
from factcheck.pipeline.ingest import Document
from factcheck.pipeline.segment import split_sentences
from factcheck.results import CONFLICTING, CONTRADICTED, NOT_MENTIONED, SUPPORTED, ClaimResult, Evidence

NOT_SUPPORTED = "not_supported"
METHODS = ("factcheck", "summac-zs", "chunks-400")
CHUNK_TOKENS = 400
RELIABILITY_BINS = 10
VERDICTS = (SUPPORTED, CONTRADICTED, NOT_MENTIONED, CONFLICTING)
BASELINE_THRESHOLDS = Thresholds().resolved()


class BenchmarkDataError(ValueError):
    """A benchmark file holds a record we cannot read; the message names the file and the record."""


@dataclass
class SystemItem:
    id: str
    claim: str
    document: Document
    gold: str


@dataclass(frozen=True)
class SystemSet:
    name: str
    folder: str  # under the data directory; its files are hashed into the report
    load: Callable[[Path], list[SystemItem]]
    description: str


def _records(path: Path) -> list[dict]:
    import datasets

    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass the data directory with --data")
    kind = {".csv": "csv", ".tsv": "csv"}.get(path.suffix, "json")
    options = {"sep": "\t", "quoting": 3} if path.suffix == ".tsv" else {}
    if kind == "csv":
        options["keep_default_na"] = False
    return datasets.load_dataset(kind, data_files=str(path), split="train", **options).to_list()


def _label(mapping: dict[str, str], raw: object, path: Path, number: int) -> str:
    key = str(raw).strip().lower()
    if key not in mapping:
        raise BenchmarkDataError(f"{path}: record {number}: unknown label {raw!r} (expected one of {sorted(mapping)})")
    return mapping[key]


def _text(value: object, what: str, path: Path, number: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BenchmarkDataError(f"{path}: record {number}: empty or missing {what}")
    return value.strip()


def _claim_evidence(rel: str, claim: str, evidence: str, label: str, labels: dict[str, str]):
    def load(root: Path) -> list[SystemItem]:
        path = root / rel
        items = []
        for number, row in enumerate(_records(path), 1):
            items.append(
                SystemItem(
                    id=f"{Path(rel).stem}-{number}",
                    claim=_text(row.get(claim), claim, path, number),
                    document=Document(_text(row.get(evidence), evidence, path, number), f"{Path(rel).stem}-{number}-evidence"),
                    gold=_label(labels, row.get(label), path, number),
                )
            )
        return items

    return load


def _qags(part: str):
    def load(root: Path) -> list[SystemItem]:
        path = root / "qags" / f"mturk_{part}.jsonl"
        items = []
        for number, row in enumerate(_records(path), 1):
            article = Document(_text(row.get("article"), "article", path, number), f"qags-{part}-{number}")
            for k, sentence in enumerate(row.get("summary_sentences") or [], 1):
                votes = Counter(r["response"].strip().lower() for r in sentence.get("responses") or [])
                if not votes:
                    raise BenchmarkDataError(f"{path}: record {number}, summary sentence {k}: no annotator responses")
                # Three annotators per sentence: the majority says whether the article supports it.
                gold = SUPPORTED if votes["yes"] > votes["no"] else NOT_SUPPORTED
                claim = _text(sentence.get("sentence"), "summary sentence", path, number)
                items.append(SystemItem(f"qags-{part}-{number}.{k}", claim, article, gold))
        return items

    return load


AVERITEC_LABELS = {
    "supported": SUPPORTED,
    "refuted": CONTRADICTED,
    "not enough evidence": NOT_MENTIONED,
    "conflicting evidence/cherrypicking": CONFLICTING,
}


def _averitec(root: Path) -> list[SystemItem]:
    """The claim against the evidence its annotators gathered: one "question answer" paragraph per answer."""
    path = root / "averitec" / "dev.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass the data directory with --data")
    items = []
    for number, row in enumerate(json.loads(path.read_text(encoding="utf-8")), 1):
        paragraphs = []
        for qa in row.get("questions") or []:
            for answer in qa.get("answers") or []:
                text = " ".join(
                    part.strip()
                    for part in (qa.get("question"), answer.get("answer"), answer.get("boolean_explanation"))
                    if isinstance(part, str) and part.strip()
                )
                if text:
                    paragraphs.append(text if text.endswith((".", "?", "!")) else text + ".")
        if not paragraphs:
            raise BenchmarkDataError(f"{path}: record {number}: no question-answer evidence")
        items.append(
            SystemItem(
                f"averitec-{number}",
                _text(row.get("claim"), "claim", path, number),
                Document("\n\n".join(paragraphs), f"averitec-{number}-evidence"),
                _label(AVERITEC_LABELS, row.get("label"), path, number),
            )
        )
    return items


FNC1_STANCES = {"agree": SUPPORTED, "disagree": CONTRADICTED, "discuss": NOT_MENTIONED, "unrelated": NOT_MENTIONED}
# FNC-1 is split by body, never by row (one body carries many headlines): bodies with id % 5 == 0 are D.
FNC1_DEV_EVERY = 5
# Unrelated headlines are three quarters of FNC-1. The checker is measured on every held-out pair; samples of the
# set (the baselines' in the full suite, the quick suite's, the learned decision's fit) keep this share of them,
# so that they measure on-topic sources and still show whether an unrelated one is ever called contradicted.
FNC1_UNRELATED_KEPT = 0.25


def fnc1_rows(root: Path, split: str) -> list[dict]:
    """FNC-1 train rows of one split by body ("train": id % 5 != 0, "dev": id % 5 == 0): headline, body_id, body,
    stance. Ids and texts are checked; a row with an unknown body or stance is an error naming the file and row."""
    folder = root / "fnc-1-train"
    bodies_path, stances_path = folder / "train_bodies.csv", folder / "train_stances.csv"
    bodies = {}
    for number, row in enumerate(_records(bodies_path), 1):
        bodies[str(row.get("Body ID")).strip()] = _text(row.get("articleBody"), "articleBody", bodies_path, number)
    rows = []
    for number, row in enumerate(_records(stances_path), 1):
        body_id = str(row.get("Body ID")).strip()
        if body_id not in bodies:
            raise BenchmarkDataError(f"{stances_path}: record {number}: unknown Body ID {body_id!r}")
        if not body_id.isdigit():
            raise BenchmarkDataError(f"{stances_path}: record {number}: Body ID {body_id!r} is not a number")
        stance = str(row.get("Stance")).strip().lower()
        _label(FNC1_STANCES, stance, stances_path, number)
        if (int(body_id) % FNC1_DEV_EVERY == 0) == (split == "dev"):
            headline = _text(row.get("Headline"), "Headline", stances_path, number)
            rows.append({"headline": headline, "body_id": body_id, "body": bodies[body_id], "stance": stance, "row": number})
    return rows


def _fnc1_dev(root: Path) -> list[SystemItem]:
    return [
        SystemItem(f"fnc-1-{r['row']}-{r['stance']}", r["headline"], Document(r["body"], f"fnc-1-body-{r['body_id']}"), FNC1_STANCES[r["stance"]])
        for r in fnc1_rows(root, "dev")
    ]


def fewer_unrelated(items: list[SystemItem]) -> list[SystemItem]:
    """FNC-1 items with a fixed ``FNC1_UNRELATED_KEPT`` share of the unrelated ones (seed 0)."""
    rng = random.Random(0)
    return [item for item in items if not item.id.endswith("-unrelated") or rng.random() < FNC1_UNRELATED_KEPT]


SYSTEM_SETS: dict[str, SystemSet] = {
    s.name: s
    for s in [
        SystemSet(
            "fever-symmetric-test",
            "fever-symmetric",
            _claim_evidence(
                "fever-symmetric/fever_symmetric_test.jsonl",
                "claim",
                "evidence",
                "gold_label",
                {"supports": SUPPORTED, "refutes": CONTRADICTED},
            ),
            "FEVER claim vs. one evidence sentence, de-biased",
        ),
        SystemSet(
            "healthver-dev",
            "healthver",
            _claim_evidence(
                "healthver/healthver_dev.csv",
                "claim",
                "evidence",
                "label",
                {"supports": SUPPORTED, "refutes": CONTRADICTED, "neutral": NOT_MENTIONED},
            ),
            "health claims vs. evidence passages",
        ),
        SystemSet(
            "covidfact-dev",
            "covidfact",
            _claim_evidence(
                "covidfact/dev.tsv",
                "Sentence2",
                "sentence1",
                "entailment",
                {"entailment": SUPPORTED, "not_entailment": NOT_SUPPORTED},
            ),
            "COVID-Fact claims vs. evidence (entailed or not)",
        ),
        SystemSet("qags-cnndm", "qags", _qags("cnndm"), "CNN/DM summary sentences vs. the full article"),
        SystemSet("qags-xsum", "qags", _qags("xsum"), "XSum summary sentences vs. the full article"),
        SystemSet("averitec-dev", "averitec", _averitec, "real fact-checked claims vs. gathered question-answer evidence"),
        SystemSet(
            "fnc-1-dev",
            "fnc-1-train",
            _fnc1_dev,
            "FNC-1 news headlines vs. whole article bodies, held-out bodies (D; a quarter of the unrelated pairs)",
        ),
    ]
}


def load_system_set(name: str, data_dir: str | Path, limit: int | None = None) -> list[SystemItem]:
    """The items of one system-level set; ``limit`` keeps a fixed random sample (seed 0) of that many."""
    if name not in SYSTEM_SETS:
        raise KeyError(f"unknown system-level benchmark {name!r}; known: {', '.join(SYSTEM_SETS)}")
    items = SYSTEM_SETS[name].load(Path(data_dir))
    return items if limit is None else fixed_sample(name, items, limit)


def fixed_sample(name: str, items: list[SystemItem], limit: int) -> list[SystemItem]:
    """``limit`` items (seed 0); of FNC-1, from the pairs with a quarter of the unrelated ones."""
    if name == "fnc-1-dev":
        items = fewer_unrelated(items)
    if limit < len(items):
        chosen = sorted(random.Random(0).sample(range(len(items)), limit))
        items = [items[i] for i in chosen]
    return items


@dataclass
class MethodRun:
    """One method's answers on one set, item by item."""

    method: str
    verdicts: list[str]
    scores: list[float]  # higher = more consistent; for ROC-AUC
    support: list[float]  # the method's probability that the claim is supported; for calibration
    results: list[ClaimResult] = field(default_factory=list, repr=False)


def run_factcheck(checker: Checker, items: list[SystemItem]) -> MethodRun:
    results = checker.check_pairs([(Claim(item.claim, item.id), item.document) for item in items])
    scores, support = [], []
    for result in results:
        if result.verdict_probabilities:  # a learned decision
            s, c = result.verdict_probabilities[SUPPORTED], result.verdict_probabilities[CONTRADICTED]
        else:
            judged = [strengths(e) for e in result.evidence] or [(0.0, 0.0)]
            s, c = max(x[0] for x in judged), max(x[1] for x in judged)
        scores.append(s - c)
        support.append(s)
    return MethodRun("factcheck", [r.verdict for r in results], scores, support, results)


def _units(item: SystemItem, method: str, checker: Checker) -> list[tuple[int, int]]:
    sentences = split_sentences(item.document)
    spans = [(s.start, s.end) for s in sentences]
    if method == "summac-zs":
        return spans
    # Chunks of whole sentences up to CHUNK_TOKENS tokens; a longer sentence is a chunk of its own
    # (the tokenizer truncates it).
    tokenizer = checker.nli.tokenizer
    lengths = [len(ids) for ids in tokenizer([s.text for s in sentences], add_special_tokens=False)["input_ids"]]
    chunks, start, end, size = [], None, None, 0
    for (s_start, s_end), n in zip(spans, lengths):
        if start is not None and size + n > CHUNK_TOKENS:
            chunks.append((start, end))
            start, size = None, 0
        start = s_start if start is None else start
        end, size = s_end, size + n
    if start is not None:
        chunks.append((start, end))
    return chunks


def run_baseline(checker: Checker, items: list[SystemItem], method: str) -> MethodRun:
    units = [_units(item, method, checker) for item in items]
    pairs = [(item.document.text[a:b], item.claim) for item, spans in zip(items, units) for a, b in spans]
    probs = checker.predict(pairs)
    verdicts, scores, support, cursor = [], [], [], 0
    for item, spans in zip(items, units):
        block = probs[cursor : cursor + len(spans)]
        cursor += len(spans)
        passages = [
            Evidence(
                item.document.id,
                a,
                b,
                item.document.text[a:b],
                {label: float(x) for label, x in zip(LABELS, p)},
                0.0,
                0.0,
            )
            for (a, b), p in zip(spans, block)
        ]
        verdicts.append(decide(Claim(item.claim, item.id), item.document.id, passages, BASELINE_THRESHOLDS).verdict)
        entail = float(block[:, 0].max()) if len(block) else 0.0
        contra = float(block[:, 2].max()) if len(block) else 0.0
        scores.append(entail - contra if method == "summac-zs" else entail)
        support.append(entail)
    return MethodRun(method, verdicts, scores, support)


def run_method(checker: Checker, items: list[SystemItem], method: str) -> MethodRun:
    if method == "factcheck":
        return run_factcheck(checker, items)
    if method in METHODS:
        return run_baseline(checker, items, method)
    raise KeyError(f"unknown method {method!r}; known: {', '.join(METHODS)}")


@dataclass
class SystemScore:
    benchmark: str
    method: str
    n: int
    balanced_accuracy: float
    roc_auc: float | None
    verdict_accuracy: float | None  # where the gold labels are verdicts
    verdict_view: str | None
    ece: float
    reliability: list[dict]  # per confidence bin: mean predicted P(supported), fraction supported, count
    confusion: list[list[int]]
    confusion_gold: list[str]
    confusion_predicted: list[str]
    # How far "contradicted" can be trusted: of the claims called contradicted, the share whose gold label is
    # contradicted (None when none was, and on sets whose gold labels say only entailed or not, COVID-Fact and
    # QAGS: a claim not entailed may or may not be contradicted, so the set cannot tell a right call from a wrong
    # one), the share of the contradicted ones found, and the share of supported claims called contradicted (the
    # accusation that hurts, which every set measures).
    contradicted_called: int = 0
    contradiction_precision: float | None = None
    contradiction_recall: float | None = None
    supported_called_contradicted: float | None = None
    # Supported / contradicted / other, where the gold labels are verdicts; averaged over the classes the gold labels
    # hold: a set without "other" claims (FEVER-symmetric) would otherwise average in an F1 of 0 that no method can
    # avoid, while its "other" calls still count, as misses of the claims' own classes.
    macro_f1_3way: float | None = None


def score_method(benchmark: str, items: list[SystemItem], run: MethodRun) -> SystemScore:
    gold = [item.gold for item in items]
    gold_binary = np.array([g == SUPPORTED for g in gold])
    predicted_binary = np.array([v == SUPPORTED for v in run.verdicts])
    support = np.clip(np.array(run.support, dtype=float), 0.0, 1.0)
    gold_labels = [v for v in VERDICTS if v in set(gold)] + ([NOT_SUPPORTED] if NOT_SUPPORTED in gold else [])
    verdict_accuracy = view = None
    if NOT_SUPPORTED not in gold:
        verdict_accuracy = float(accuracy_score(gold, run.verdicts))
        view = f"{len(gold_labels)}-way"
    roc_auc = float(roc_auc_score(gold_binary, run.scores)) if len(set(gold_binary)) == 2 else None
    two_class = np.stack([1.0 - support, support], axis=1)
    all_labels = list(VERDICTS) + ([NOT_SUPPORTED] if NOT_SUPPORTED in gold else [])
    matrix = confusion_matrix(gold, run.verdicts, labels=all_labels)
    gold_arr, called = np.array(gold), np.array(run.verdicts)
    contradicted = called == CONTRADICTED
    three_way = lambda labels: [v if v in (SUPPORTED, CONTRADICTED) else "other" for v in labels]  # noqa: E731
    return SystemScore(
        benchmark=benchmark,
        method=run.method,
        n=len(items),
        balanced_accuracy=float(balanced_accuracy_score(gold_binary, predicted_binary)),
        roc_auc=roc_auc,
        verdict_accuracy=verdict_accuracy,
        verdict_view=view,
        ece=expected_calibration_error(two_class, gold_binary.astype(int), n_bins=RELIABILITY_BINS),
        reliability=reliability_bins(support, gold_binary),
        # Rows: the gold labels the set uses; columns: the four verdicts.
        confusion=matrix[[all_labels.index(g) for g in gold_labels], : len(VERDICTS)].tolist(),
        confusion_gold=gold_labels,
        confusion_predicted=list(VERDICTS),
        contradicted_called=int(contradicted.sum()),
        contradiction_precision=float((gold_arr[contradicted] == CONTRADICTED).mean())
        if contradicted.any() and NOT_SUPPORTED not in gold
        else None,
        contradiction_recall=float(contradicted[gold_arr == CONTRADICTED].mean()) if (gold_arr == CONTRADICTED).any() else None,
        supported_called_contradicted=float(contradicted[gold_binary].mean()) if gold_binary.any() else None,
        macro_f1_3way=None
        if NOT_SUPPORTED in gold
        else float(
            f1_score(
                three_way(gold),
                three_way(run.verdicts),
                labels=[c for c in (SUPPORTED, CONTRADICTED, "other") if c in set(three_way(gold))],
                average="macro",
            )
        ),
    )


def reliability_bins(support: np.ndarray, gold_binary: np.ndarray, n_bins: int = RELIABILITY_BINS) -> list[dict]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(support, edges[1:-1], right=True), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        members = index == b
        if members.any():
            bins.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "mean_predicted": float(support[members].mean()),
                    "fraction_supported": float(gold_binary[members].mean()),
                    "count": int(members.sum()),
                }
            )
    return bins


def is_mistake(item: SystemItem, verdict: str) -> bool:
    if item.gold == NOT_SUPPORTED:
        return verdict == SUPPORTED
    return verdict != item.gold


def confident_mistakes(checker: Checker, items: list[SystemItem], run: MethodRun, count: int = 10) -> list[dict]:
    """The checker's ``count`` most confident wrong verdicts, each with its deciding evidence and key span."""
    wrong = [i for i, (item, verdict) in enumerate(zip(items, run.verdicts)) if is_mistake(item, verdict)]
    wrong.sort(key=lambda i: (-run.results[i].confidence, items[i].id))
    chosen = [run.results[i] for i in wrong[:count]]
    checker.explain(chosen)
    mistakes = []
    for i, result in zip(wrong[:count], chosen):
        lead = result.evidence[0] if result.evidence else None
        mistakes.append(
            {
                "id": items[i].id,
                "claim": items[i].claim,
                "gold": items[i].gold,
                "verdict": result.verdict,
                "confidence": result.confidence,
                "evidence": lead.text if lead else None,
                "key_span": lead.key_span.text if lead and lead.key_span else None,
                "rule": lead.rule if lead else None,
            }
        )
    return mistakes
