"""Claims against an archive of 20,000 documents: build rate, size, latency, recall and speed vs every document.

    python eval/bench_archive.py [--quick] [--data ../shared/data] [--archive DIR] [--docs N] [--claims N]

The archive (not data of this repository; by default under ``~/.cache/factcheck``):

* every FNC-1 train body (1,683 news articles, ~20 sentences each), id ``fnc-<Body ID>``;
* the rest of ``--docs`` made of NLI premises, grouped into short "articles": the distinct premises of SNLI
  train (first 100k pairs), LingNLI train and MultiNLI dev, in file order, ``--premises-per-doc`` (2 by default)
  a document, ids ``nli-<n>``. These sets hold about 40,000 distinct premises, so 18,317 documents of two
  sentences each is what they allow; captions and MultiNLI sentences on unrelated topics make a crowd of
  near-misses for the retriever.

The claims (``--claims``): FNC-1 headlines whose stance toward a body of the archive is agree or disagree, the
questions a desk asks of news. Not NLI hypotheses: "A person is outdoors" is supported or contradicted by
hundreds of the archive's captions, so that no top 10 can hold what checking every document finds (a quick run
with half the claims such hypotheses: 1,222 pairs found by every-document checking for 20 claims, recall 8.5%).

Measured, with the checker's defaults except key spans (off for both sides: the occlusion for the few results
that are not "not mentioned" costs the same either way and is not what is compared):

* the build (``Archive.add``, in a child process so that its memory is not counted as checking's): documents/s
  and the archive's size on disk. The build resumes: run the same command again after an interruption.
* each claim alone through ``Checker.check(claim, archive, top_documents=K)``, for each K of ``--top-k`` (20 and
  ``all`` by default: every document holding a passage related to the claim): latency p50/p95; each K on the
  archive opened afresh, so that the documents' indexes it keeps for the claims after start empty;
* then, for each K, all the claims in one ``Checker.check`` call (what ``factcheck check --claims F --index``
  does), on the archive opened afresh: its time, recall and speed as for one claim at a time;
* every claim against every document: the per-document flow of ``Checker.check`` over all documents, with their
  stored embeddings (re-embedding 20,000 documents would make the archive look far better than this);
* recall: of the (claim, document) pairs that every-document checking finds supported, contradicted or
  conflicting, the share the archive finds so too; speed: every-document time / the archive's total time;
* peak memory (``ru_maxrss``) of this process when the archive has checked the claims (it builds nothing).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from bench import instrument  # noqa: E402  (eval/, the script's folder)

from factcheck import Archive, Checker, Document  # noqa: E402
from factcheck.nli.backends import cpu_description  # noqa: E402
from factcheck.results import NOT_MENTIONED  # noqa: E402
from factcheck.scale.archive import FORMAT  # noqa: E402

csv.field_size_limit(2**31 - 1)
TOP_KS = (5, 10, 20, 30, 50, 100, 200)


def fnc_bodies(data: Path) -> dict[str, str]:
    with open(data / "fnc-1-train" / "train_bodies.csv", encoding="utf-8", newline="") as handle:
        return {row["Body ID"]: row["articleBody"] for row in csv.DictReader(handle)}


def premises(data: Path) -> list[str]:
    """The distinct premises of SNLI train (100k), LingNLI train and MultiNLI dev, in file order."""
    found: list[str] = []
    with open(data / "snli-train-100k" / "snli_1.0_train_subset.jsonl", encoding="utf-8") as handle:
        found += [json.loads(line)["sentence1"] for line in handle]
    for path in sorted((data / "lingnli").glob("train_*.jsonl")):
        found += [json.loads(line)["premise"] for line in path.read_text(encoding="utf-8").splitlines()]
    with open(data / "mnli" / "dev.csv", encoding="utf-8", newline="") as handle:
        found += [row["premise"] for row in csv.DictReader(handle)]
    return [p for p in dict.fromkeys(p.strip() for p in found) if p]


def corpus(data: Path, docs: int, per_doc: int) -> tuple[list[Document], list[str], set[tuple[str, str]]]:
    """The archive's documents; the claims: headlines that agree with or dispute a body of the archive; and the
    gold pairs: each such headline with the bodies FNC-1's annotators found agreeing with or disputing it."""
    bodies = fnc_bodies(data)
    documents = [Document(text, f"fnc-{body}") for body, text in list(bodies.items())[: min(len(bodies), docs // 10 or 1)]]
    held_bodies = {d.id[4:] for d in documents}
    headlines, gold = [], set()
    with open(data / "fnc-1-train" / "train_stances.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Body ID"] in held_bodies and row["Stance"] in ("agree", "disagree"):
                headlines.append(row["Headline"].strip())
                gold.add((row["Headline"].strip(), f"fnc-{row['Body ID']}"))
    pool = list(premises(data))
    for n in range(min(docs - len(documents), len(pool) // per_doc)):
        documents.append(Document(" ".join(pool[n * per_doc : (n + 1) * per_doc]), f"nli-{n}"))
    if len(documents) < docs:
        raise SystemExit(f"the data allow {len(documents)} documents, not {docs}")
    headlines = list(dict.fromkeys(headlines))
    return documents, [headlines[i] for i in np.random.default_rng(0).permutation(len(headlines))], gold


def _build(path: str, documents: list[Document], out) -> None:
    started = time.perf_counter()
    with Archive(path) as archive:
        summary = archive.add(documents, show_progress=sys.stderr.isatty())
    out.put((len(summary.added) + len(summary.replaced), time.perf_counter() - started))


def build(path: Path, documents: list[Document]) -> tuple[int, float]:
    """Documents added and seconds, in a child process (its memory is the build's, not the checking's)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_build, args=(str(path), documents, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def every_document(checker: Checker, archive: Archive, claims: list[str]) -> set[tuple[str, str]]:
    """What the per-document flow of ``Checker.check`` finds over every document of the archive, its stored
    embeddings reused. Only the (claim, document) pairs found are kept: 200 claims x 20,000 documents are four
    million results, more than this machine's memory holds."""
    from factcheck.pipeline.claims import as_claims

    claim_list = as_claims(claims)
    ids, pairs = archive.ids(), set()
    size = checker.retriever.cache_size
    for start in range(0, len(ids), size):
        pairs |= found(checker._check(claim_list, archive.indexes(ids[start : start + size], checker.retriever)))
    return pairs


def found(results) -> set[tuple[str, str]]:
    return {(r.claim.text, r.document_id) for r in results if r.verdict != NOT_MENTIONED}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--archive", type=Path, default=None, help="default: ~/.cache/factcheck/bench-archive-DOCS-FORMAT")
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--premises-per-doc", type=int, default=2)
    parser.add_argument(
        "--top-k", nargs="+", type=lambda k: None if k == "all" else int(k), default=[20, None],
        help="documents checked a claim, one run each: numbers, or 'all' (every document with a related passage)",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 documents and 20 claims")
    args = parser.parse_args()
    needed = args.data / "fnc-1-train" / "train_bodies.csv"
    if not needed.is_file():
        raise SystemExit(f"error: {needed} not found; pass --data (the public data folder)")
    if args.quick:
        args.docs, args.claims = 1_000, 20
    path = args.archive or Path.home() / ".cache" / "factcheck" / f"bench-archive-{args.docs}-{FORMAT}"
    import torch

    print(f"machine: {cpu_description()}, {os.cpu_count()} CPUs; torch {torch.__version__}, {torch.get_num_threads()} threads")
    documents, claims, gold = corpus(args.data, args.docs, args.premises_per_doc)
    claims = claims[: args.claims]
    gold = {(claim, doc) for claim, doc in gold if claim in set(claims)}
    print(f"archive: {len(documents):,} documents ({sum(d.id.startswith('fnc-') for d in documents):,} FNC-1 bodies); {len(claims)} claims")

    added, seconds = build(path, documents)
    archive = Archive(path, create=False)
    info = archive.info()
    build_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rate = added / seconds if added else None
    rate_text = f"{rate:.1f} docs/s" if rate else "the archive was complete already"
    print(f"build: {added:,} documents added in {seconds:.0f} s ({rate_text}; peak memory {build_peak:,.0f} MiB); "
          f"{info.documents:,} documents, {info.passages:,} passages, {info.size_bytes / 2**20:,.0f} MiB on disk")

    checker = Checker(key_spans=False)
    nli = instrument(checker.nli)
    started = time.perf_counter()
    archive.refresh()
    checker.check(["warm-up"], archive, top_documents=1)  # models loaded, search files mapped: not a claim's latency
    print(f"warm-up (models, search index): {time.perf_counter() - started:.1f} s")
    runs = []  # per --top-k: (label, results, seconds, latencies, NLI pairs, NLI seconds)
    for top_k in args.top_k:
        checker.clear_cache()
        nli.pairs.clear()
        nli.seconds = 0.0
        latencies, results = [], []
        # Opened afresh: the documents' indexes it keeps for the claims after (``Archive.indexes``) start empty.
        archive.close()
        archive = Archive(path, create=False)
        archive.refresh()  # its search files mapped, as in the warm-up
        for claim in claims:
            started = time.perf_counter()
            results += checker.check([claim], archive, top_documents=top_k).results
            latencies.append(time.perf_counter() - started)
        label = f"top {top_k} documents" if top_k else "every related document"
        p50, p95 = np.percentile(latencies, [50, 95])
        print(f"archive, {label} a claim: {sum(latencies):.1f} s for {len(claims)} claims; latency p50 "
              f"{p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; NLI {len(nli.pairs):,} pairs in {nli.seconds:.1f} s")
        runs.append((label, found(results), sum(latencies)))
    # The claims in one call, as ``factcheck check --claims F --index ARCHIVE`` gives them: each document's index
    # is built once for all the claims that bear on it, and the NLI pairs of all claims are batched together, as
    # every-document checking batches them.
    for top_k in args.top_k:
        checker.clear_cache()
        nli.pairs.clear()
        nli.seconds = 0.0
        archive.close()
        archive = Archive(path, create=False)
        archive.refresh()
        started = time.perf_counter()
        results = checker.check(claims, archive, top_documents=top_k).results
        seconds = time.perf_counter() - started
        label = (f"top {top_k} documents" if top_k else "every related document") + ", the claims in one call"
        print(f"archive, {label}: {seconds:.1f} s for {len(claims)} claims; NLI {len(nli.pairs):,} pairs in {nli.seconds:.1f} s")
        runs.append((label, found(results), seconds))
    checking_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    checker.clear_cache()
    nli.pairs.clear()
    nli.seconds = 0.0
    archive.close()
    archive = Archive(path, create=False)
    started = time.perf_counter()
    truth = every_document(checker, archive, claims)
    every_seconds = time.perf_counter() - started
    print(f"every document: {every_seconds:.1f} s for {len(claims)} claims x {info.documents:,} documents; "
          f"NLI {len(nli.pairs):,} pairs in {nli.seconds:.1f} s; {len(truth)} (claim, document) pairs found "
          "supported, contradicted or conflicting")

    # What another --top-k would find: a document's verdict does not depend on the others checked with it, so a
    # pair is found at top k when its document ranks among the claim's first k.
    ranked = archive.related(claims, checker.retriever.embed_claims(claims), None, checker.thresholds)
    within = {k: {(claim, doc) for claim, ids in zip(claims, ranked) for doc in ids[:k]} for k in TOP_KS}
    within["all"] = {(claim, doc) for claim, ids in zip(claims, ranked) for doc in ids}
    print(f"documents with a related passage, a claim: mean {np.mean([len(ids) for ids in ranked]):.1f}, "
          f"median {np.median([len(ids) for ids in ranked]):.0f}, max {max(map(len, ranked), default=0)}")
    print("recall of the archive's ranking vs every document: " + ", ".join(
        f"top {k} {100 * len(truth & within[k]) / max(1, len(truth)):.1f}%" for k in within))
    # Every-document checking also "finds" sources that only share a word or two with a claim (a caption with "a
    # man" and "public" against a headline about a man in public): the annotated pairs say what a desk wants found.
    print(f"annotated pairs (FNC-1 agree/disagree: a headline and its body): {len(gold)}; found supported or "
          f"contradicted by every document {100 * len(gold & truth) / max(1, len(gold)):.1f}%; ranked by the "
          "archive: " + ", ".join(f"top {k} {100 * len(gold & within[k]) / max(1, len(gold)):.1f}%" for k in within))
    for label, got, seconds in runs:
        print(f"archive, {label}: found {len(got)}, of them by every document too {len(truth & got)}; annotated "
              f"pairs found {100 * len(gold & got) / max(1, len(gold)):.1f}%")
    # The closing lines, of fixed form, for each --top-k in the order given.
    for label, got, seconds in runs:
        print(f"with {label}:")
        print(f"archive recall vs every document: {100 * len(truth & got) / max(1, len(truth)):.1f}%")
        print(f"faster than checking every document: {every_seconds / seconds:.1f}x")
    # A resumed run times only what it added; a complete archive has no build rate to give.
    print(f"index build: {rate:.0f} docs/s" if rate else "index build: n/a (the archive was complete already)")
    print(f"peak memory: {checking_peak:.0f} MiB")


if __name__ == "__main__":
    main()
