"""Throughput of the checker on one machine, against the usual ways of running NLI, in one run.

    python eval/bench.py [--quick] [--data ../shared/data] [--examples ../shared/examples] [--threads N]

Workload (fixed): 200 claims against 50 news articles, every claim against every
article (10,000 claim x document checks). The articles are our example
(``factcheck/examples``), the TASS report of ``../shared/examples`` and the first
24 CNN/DailyMail and 24 XSum articles of QAGS (``qags/`` in the data folder,
300-500 words each). The claims are the examples' claims, the QAGS summary
sentences of those 48 articles (annotators found some consistent with their
article, some not) and, to make 200, summary sentences of further QAGS
articles that are not in the set: claims no source mentions. ``--quick``: 40
claims against 10 articles, in under two minutes.

What it measures, all in this process, on this machine, with the same model:

* **ours**: ``Checker().check(claims, articles)``, the whole pipeline (retrieval,
  NLI, rules, key spans), timed after the models are loaded. *NLI pairs* are the
  distinct (passage, claim) pairs the checker sends to the model: retrieved
  passages that the "unrelated" rule does not rule out, and the key-span work:
  one pass of the key-span head a passage explained (a network of the NLI
  model's size on the same input), or, for a model without a head, the occlusion
  variants. Pairs/s is those pairs over the time spent in the model's ``predict``
  and the head's ``spans`` (tokenising included).
* **(a) pipeline**: ``transformers.pipeline("text-classification")`` on the same
  model, called with one ``{"text", "text_pair"}`` at a time, on a fixed sample
  of ours' pairs.
* **(b) pad-512**: batches of the same size padded to 512 tokens (how AlignScore
  runs), on the same sample.
* **(c) exhaustive**: every claim against every sentence of every article, as
  SummaC-ZS does, with the verdict taken by the checker's own rule
  (``factcheck.pipeline.aggregate``: the rules, then the learned decision with the
  checker's thresholds) over those sentences. Its NLI
  calls are claims x sentences. A sentence that the "unrelated" rule rules out
  counts for nothing whatever the model says of it, so only the others are
  actually scored here: the verdicts are exactly those of the full exhaustive
  run, without an hour of NLI whose outputs cannot matter.
* **backends**: each backend of ``factcheck.nli.infer`` (torch float32 and
  bfloat16; ONNX Runtime float32 and 8-bit) on a sample of ours' pairs, the backends taking turns on slices of
  it, and its accuracy on XNLI-en validation against the gold labels. ``--backend`` runs ours on one of them; the
  baselines always run float32 torch, as transformers loads the model.

Peak memory is ``ru_maxrss`` when ours has run: the models, the articles' indexes
and the whole workload. The closing five lines have a fixed form, to compare runs.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck import Checker, Document  # noqa: E402
from factcheck.evaluation.benchmarks import fnc1_rows, load_system_set, run_factcheck  # noqa: E402
from factcheck.evaluation.suite import QUICK_ITEMS, SYSTEM_LEVEL  # noqa: E402
from factcheck.nli.backends import BACKENDS, cpu_description, resolve_backend  # noqa: E402
from factcheck.nli.data import LABELS  # noqa: E402
from factcheck.nli.infer import NLIModel  # noqa: E402
from factcheck.pipeline.aggregate import apply_rules, decide, unrelated  # noqa: E402
from factcheck.pipeline.claims import Claim  # noqa: E402
from factcheck.pipeline.ingest import load_documents  # noqa: E402
from factcheck.results import NOT_MENTIONED, SUPPORTED, Evidence  # noqa: E402

OUR_EXAMPLES = Path(__file__).resolve().parent.parent / "factcheck" / "examples"
QAGS = ("mturk_cnndm.jsonl", "mturk_xsum.jsonl")
TURN = 250  # pairs each backend runs before the next one's turn


@dataclass(frozen=True)
class Workload:
    claims: list[str]
    documents: list[Document]


@dataclass
class Timed:
    """What went through a model's ``predict``: pairs and seconds."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.pairs) / self.seconds if self.seconds else 0.0


def build_workload(n_articles: int, n_claims: int, data: Path, examples: Path) -> Workload:
    for name in QAGS:
        if not (data / "qags" / name).is_file():
            raise SystemExit(f"error: {data / 'qags' / name} not found; pass --data (the public data folder)")
    documents = load_documents([OUR_EXAMPLES / "port-ellis-ferry.txt", *sorted((examples / "articles").glob("*.txt"))])
    claims = []
    for path in (OUR_EXAMPLES / "claims.jsonl", examples / "claims.jsonl"):
        if path.is_file():
            claims += [json.loads(line)["claim"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    per_set = (n_articles - len(documents)) // len(QAGS)
    elsewhere = []  # per set, the first summary sentence of each article not in the workload
    for name in QAGS:
        records = [json.loads(line) for line in (data / "qags" / name).read_text(encoding="utf-8").splitlines()]
        for number, record in enumerate(records[:per_set]):
            documents.append(Document(text=record["article"], id=f"{Path(name).stem}-{number}"))
            claims += [s["sentence"] for s in record["summary_sentences"]]
        elsewhere.append([record["summary_sentences"][0]["sentence"] for record in records[per_set:]])
    filler = [sentence for group in zip(*elsewhere) for sentence in group]  # alternately CNN/DM and XSum
    claims = list(dict.fromkeys(claims + filler))[:n_claims]
    return Workload(claims, documents[:n_articles])


def instrument(model, method: str = "predict") -> Timed:
    """Count and time every call of ``model.predict`` (or another method taking a list of pairs or items)."""
    record, predict = Timed(), getattr(model, method)

    def timed(pairs, **kwargs):
        started = time.perf_counter()
        out = predict(pairs, **kwargs)
        record.seconds += time.perf_counter() - started
        record.pairs.extend(tuple(pair[:2]) for pair in pairs)
        return out

    setattr(model, method, timed)
    return record


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pipeline(nli, pairs: list[tuple[str, str]]) -> float:
    """Pairs/s of transformers' text-classification pipeline, one pair a call."""
    from transformers import pipeline

    classify = pipeline("text-classification", model=nli.model, tokenizer=nli.tokenizer, device="cpu")
    for premise, hypothesis in pairs[:3]:  # warm-up, as ours is warm
        classify({"text": premise, "text_pair": hypothesis}, truncation=True)
    started = time.perf_counter()
    for premise, hypothesis in pairs:
        classify({"text": premise, "text_pair": hypothesis}, truncation=True)
    return len(pairs) / (time.perf_counter() - started)


def run_pad512(nli, pairs: list[tuple[str, str]], batch_size: int) -> float:
    """Pairs/s with every batch padded to 512 tokens."""
    import torch

    def forward(chunk):
        encoded = nli.tokenizer(
            [p for p, _ in chunk], [h for _, h in chunk], padding="max_length", max_length=512, truncation=True, return_tensors="pt"
        )
        nli.model(**encoded)

    with torch.inference_mode():
        forward(pairs[:2])
        started = time.perf_counter()
        for i in range(0, len(pairs), batch_size):
            forward(pairs[i : i + batch_size])
    return len(pairs) / (time.perf_counter() - started)


def exhaustive(checker: Checker, workload: Workload) -> tuple[list[str], int, int]:
    """(verdicts, NLI calls the exhaustive method makes, pairs that can change a verdict) for every claim x document."""
    thresholds = checker.thresholds
    claim_embeddings = checker.retriever.embed_claims(workload.claims)
    verdicts, calls, scored_pairs, plans = [], 0, [], []
    for document in workload.documents:
        index = checker.retriever.index(document)
        # The index's one-sentence passages are the document's sentences, with their embeddings.
        rows = [i for i, p in enumerate(index.passages) if p.first_sentence == p.last_sentence]
        sentences = [index.passages[i] for i in rows]
        similarities = index.embeddings[rows] @ claim_embeddings.T if rows else np.zeros((0, len(workload.claims)))
        for c, claim in enumerate(workload.claims):
            calls += len(sentences)
            judged = []
            for s, sentence in enumerate(sentences):
                similarity = float(similarities[s, c])
                related = not unrelated(claim, sentence.text, similarity, thresholds)
                if related:
                    scored_pairs.append((sentence.text, claim))
                judged.append((sentence, similarity, related))
            plans.append((Claim(claim, id=f"claim-{c}"), document.id, judged))
    probs = checker.predict(scored_pairs)
    cursor = 0
    for claim, document_id, judged in plans:
        passages = []
        for sentence, similarity, related in judged:
            evidence = Evidence(
                document_id,
                sentence.start,
                sentence.end,
                sentence.text,
                dict(zip(LABELS, map(float, probs[cursor]))) if related else None,
                0.0,
                similarity,
                rule=None if related else "unrelated",
            )
            cursor += related
            passages.append(apply_rules(claim.text, evidence, thresholds) if related else evidence)
        verdicts.append(decide(claim, document_id, passages, thresholds, checker.verdicts).verdict)
    return verdicts, calls, len(scored_pairs)


def backends_section(name_or_path: str, pairs: list[tuple[str, str]], data: Path, xnli_limit: int | None, batch_size: int) -> None:
    """Pairs/s on ``pairs`` and XNLI-en validation accuracy of each backend the machine can run."""
    from factcheck.nli.data import load_set

    xnli = load_set("xnli-en-validation", data)
    if xnli_limit is not None:
        xnli = xnli.select(range(min(xnli_limit, len(xnli))))
    xnli_pairs = list(zip(xnli["premise"], xnli["hypothesis"]))
    gold = np.array([LABELS.index(label) for label in xnli["label"]])
    # The quick evaluation's system-level checks: a backend qualifies for auto when it gives float32's verdicts on
    # >= 99% of them and stays within 0.5 point of its XNLI-en accuracy.
    items = [item for name in SYSTEM_LEVEL for item in load_system_set(name, data, QUICK_ITEMS)]
    models = {}
    for backend in BACKENDS[1:]:  # every concrete backend; auto is one of them
        try:
            models[backend] = NLIModel(name_or_path, backend=backend)
        except ImportError as error:
            print(f"{backend:>11}: skipped ({error})")
            continue
        models[backend].predict(pairs[:8], batch_size=batch_size)  # warm-up
    # The backends take turns on slices of the pairs, so that a slow spell of a shared host slows them all alike.
    seconds = dict.fromkeys(models, 0.0)
    for start in range(0, len(pairs), TURN):
        for backend, model in models.items():
            started = time.perf_counter()
            model.predict(pairs[start : start + TURN], batch_size=batch_size)
            seconds[backend] += time.perf_counter() - started
    rates = {backend: len(pairs) / seconds[backend] for backend in models}
    for backend, model in models.items():
        accuracy = float((model.predict(xnli_pairs, batch_size=batch_size).argmax(axis=1) == gold).mean())
        verdicts = np.array(run_factcheck(Checker(model, key_spans=False), items).verdicts)
        if backend == "torch":
            reference, reference_verdicts = accuracy, verdicts
        same = float((verdicts == reference_verdicts).mean())
        qualifies = accuracy >= reference - 0.005 and same >= 0.99
        print(
            f"{backend:>11}: {rates[backend]:.0f} pairs/s ({rates[backend] / rates['torch']:.1f}x torch) on {len(pairs)} "
            f"of ours' pairs; XNLI-en validation accuracy {100 * accuracy:.2f}% "
            f"({100 * (accuracy - reference):+.2f} points; {len(gold)} pairs); float32's verdicts on "
            f"{100 * same:.1f}% of {len(items)} quick-eval checks; {'qualifies' if qualifies else 'does not qualify'}"
            f"{' (auto)' if backend == resolve_backend('auto') else ''}"
        )


def key_span_agreement(checker: Checker, results: list) -> None:
    """Ours' key spans (the key-span head's, or the coarse-to-fine search's) against the exhaustive search's, which
    removes every window; where ours are the head's, the coarse-to-fine search's too. For each: how long the spans
    are, and how much the verdict's probability falls when the span is removed from the passage."""
    explained = [r for r in results if r.evidence and r.evidence[0].key_span and r.evidence[0].rule is None]

    def searched_again(searcher: Checker, **kwargs) -> list:
        again = copy.deepcopy(explained)
        for r in again:
            r.evidence[0].key_span = None
        searcher.explain(again, **kwargs)
        return again

    reference = searched_again(checker, exhaustive=True)
    compared = {"ours": explained}
    if checker.key_spans is True and checker.key_span_head is not None:
        occlusion = copy.copy(checker)  # the same model and caches, another way of explaining
        occlusion.key_spans = "occlusion"
        compared["coarse-to-fine occlusion"] = searched_again(occlusion)
    compared["exhaustive"] = reference

    def characters(evidence) -> set[int]:
        span = evidence.key_span
        return set(range(span.start, span.end)) if span else set()

    def without_span(evidence) -> str:
        span = evidence.key_span
        if span is None:
            return evidence.text
        return (evidence.text[: span.start - evidence.start] + evidence.text[span.end - evidence.start :]).strip()

    labels = [LABELS.index("entailment" if r.verdict == SUPPORTED else "contradiction") for r in explained]
    whole = checker.predict([(r.evidence[0].text, r.claim.text) for r in explained])
    n = max(1, len(explained))
    for name, spans in compared.items():
        same = overlap = jaccard = 0.0
        for result, exhaustive_result in zip(spans, reference):
            a, b = characters(result.evidence[0]), characters(exhaustive_result.evidence[0])
            same += a == b
            overlap += bool(a & b)
            jaccard += len(a & b) / len(a | b) if a | b else 1.0
        rest = checker.predict([(without_span(r.evidence[0]), r.claim.text) for r in spans])
        drop = sum(whole[i, k] - rest[i, k] for i, k in enumerate(labels)) / n
        words = sum(len(r.evidence[0].key_span.text.split()) for r in spans if r.evidence[0].key_span) / n
        print(
            f"key spans, {name}: on the {len(explained)} passages ours explained, the same span as the exhaustive "
            f"search (every three-word window removed) for {100 * same / n:.1f}%, an overlapping one for "
            f"{100 * overlap / n:.1f}%, character Jaccard {jaccard / n:.2f}; {words:.1f} words; removing the span "
            f"lowers the verdict's probability by {drop:.3f}"
        )


def short_documents(data: Path, n_claims: int) -> list[tuple[str, Document]]:
    """Claims each against its own 5-sentence document, FEVER or Climate-FEVER style: FNC-1 train headlines
    (T data, the training split by body) against the first five sentences of their article's body, one headline a
    body (FNC-1's bodies carry dozens of headlines each, and the checker encodes a repeated text once)."""
    from factcheck.pipeline.segment import split_sentences

    rows = fnc1_rows(data, "train")
    random.Random(2).shuffle(rows)
    by_body = {}
    for row in rows:
        by_body.setdefault(row["body_id"], row)
    rows = list(by_body.values())[:n_claims]
    pairs = []
    for n, row in enumerate(rows):
        body = Document(id=f"body-{row['body_id']}-{n}", text=row["body"])
        sentences = split_sentences(body)[:5]
        pairs.append((row["headline"], Document(id=body.id, text=row["body"][: sentences[-1].end])))
    return pairs


def short_documents_section(checker: Checker, plain: NLIModel, data: Path, n_claims: int, n_baseline: int) -> float:
    """Claims/s of ours (``Checker.check_pairs``) and of the exhaustive pipeline baseline on short documents."""
    from factcheck.pipeline.segment import split_sentences

    pairs = short_documents(data, n_claims)
    checker.clear_cache()
    started = time.perf_counter()
    checker.check_pairs(pairs)
    ours = len(pairs) / (time.perf_counter() - started)
    # The baseline: every evidence sentence against its claim, one pair a call, as a user of the pipeline would.
    sentence_pairs = [(sentence.text, claim) for claim, document in pairs[:n_baseline] for sentence in split_sentences(document)]
    baseline = run_pipeline(plain, sentence_pairs) * n_baseline / len(sentence_pairs)  # claims/s
    print(
        f"short documents: {len(pairs)} claims, each against its own 5 sentences (FNC-1 train headlines, one a body): "
        f"ours {ours:.1f} claims/s; exhaustive pipeline, one sentence pair a call: {baseline:.1f} claims/s "
        f"(on {n_baseline} claims, {len(sentence_pairs)} pairs)"
    )
    return ours / baseline


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="40 claims x 10 articles, small baseline samples")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="public data folder (qags/, xnli-en/)")
    parser.add_argument("--examples", type=Path, default=Path("../shared/examples"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads; default: torch's choice")
    parser.add_argument(
        "--backend", default="auto", choices=BACKENDS, help="what runs ours' NLI; default auto, as the checker's default"
    )
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    n_articles, n_claims, sample, backend_sample, xnli_limit = (10, 40, 60, 300, 300) if args.quick else (50, 200, 300, 2000, None)
    n_short, n_short_baseline = (100, 20) if args.quick else (1000, 100)
    workload = build_workload(n_articles, n_claims, args.data, args.examples)
    words = sum(len(d.text.split()) for d in workload.documents)
    checks = len(workload.claims) * len(workload.documents)
    print(
        f"workload: {len(workload.claims)} claims x {len(workload.documents)} articles ({words} words) = {checks} checks; "
        f"ours on backend {resolve_backend(args.backend)}"
    )
    print(f"machine: {cpu_description()}, {os.cpu_count()} CPUs; torch {torch.__version__}, {torch.get_num_threads()} threads")

    checker = Checker(backend=args.backend)
    _ = checker.nli, checker.retriever.embedder.model  # loaded before the clock starts
    head = checker.key_span_head
    record = instrument(checker.nli)
    head_record = instrument(head, "spans") if head else Timed()
    started = time.perf_counter()
    report = checker.check(workload.claims, workload.documents)
    seconds = time.perf_counter() - started
    peak = peak_mib()
    # What follows goes through the same models. A pass of the key-span head costs what an NLI pair does: the same
    # network size, the same input.
    ours = Timed(record.pairs + head_record.pairs, record.seconds + head_record.seconds)
    ours_verdicts = [r.verdict for r in report.results]
    retrieved = {(e.text, r.claim.text) for r in report.results for e in r.evidence if e.probabilities is not None}
    key_span_work = len(ours.pairs) - len(retrieved)
    print(
        f"ours: {seconds:.1f} s, {60 * checks / seconds:.0f} checks/min; {len(ours.pairs)} NLI pairs "
        f"({len(retrieved)} retrieved passages, {key_span_work} key-span "
        f"{'passes of the head' if head else 'occlusions'}) in {ours.seconds:.1f} s, {ours.rate:.0f} pairs/s; "
        f"verdicts {dict(Counter(ours_verdicts))}"
    )

    key_span_agreement(checker, report.results)

    # The baselines run the model as transformers loads it: float32 torch.
    plain = checker.nli if checker.nli.backend == "torch" else NLIModel(checker.nli.name_or_path, backend="torch")
    pairs = random.Random(0).sample(ours.pairs, min(sample, len(ours.pairs)))
    pipeline_rate = run_pipeline(plain, pairs)
    print(f"(a) pipeline, one pair a call: {pipeline_rate:.0f} pairs/s on {len(pairs)} of ours' pairs")
    pad_rate = run_pad512(plain, pairs, checker.batch_size)
    print(f"(b) pad-512, batches of {checker.batch_size}: {pad_rate:.0f} pairs/s on the same pairs")

    # Ours' results are cached by now; the exhaustive pass gets its own count.
    verdicts, calls, scored = exhaustive(checker, workload)
    agree = sum(a == b for a, b in zip(ours_verdicts, verdicts)) / len(verdicts)
    either = [(a, b) for a, b in zip(ours_verdicts, verdicts) if (a, b) != (NOT_MENTIONED, NOT_MENTIONED)]
    either_agree = sum(a == b for a, b in either) / len(either) if either else 1.0
    print(
        f"(c) exhaustive: {calls} NLI calls ({scored} of them can change a verdict); verdicts {dict(Counter(verdicts))}; "
        f"agreement {100 * either_agree:.1f}% on the {len(either)} checks where either finds the claim mentioned"
    )

    short_ratio = short_documents_section(checker, plain, args.data, n_short, n_short_baseline)

    backend_pairs = random.Random(1).sample(ours.pairs, min(backend_sample, len(ours.pairs)))
    backends_section(checker.nli.name_or_path, backend_pairs, args.data, xnli_limit, checker.batch_size)

    print(f"vs pipeline: {ours.rate / pipeline_rate:.1f}x")
    print(f"vs pad-512: {ours.rate / pad_rate:.1f}x")
    print(f"short documents vs pipeline: {short_ratio:.1f}x")
    print(f"key-span share of NLI pairs: {100 * key_span_work / len(ours.pairs):.1f}%")
    print(f"fewer NLI calls than exhaustive: {calls / len(ours.pairs):.1f}x")
    print(f"verdict agreement with exhaustive: {100 * agree:.1f}%")
    print(f"peak memory: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
