"""A long-document check: one 100,000-word document and 200 claims, with time and peak memory.

    python eval/stress.py [--words 100000] [--claims 200] [--examples ../shared/examples]

The document is built from the example articles (ours in ``factcheck/examples``
and, where present, the TASS report in ``../shared/examples``), paragraph by
paragraph with each copy's numbers and dates shifted so that passages differ;
the claims are the examples' claims and sentences of the articles, repeated with
variations up to the requested count.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck import Checker, Document  # noqa: E402
from factcheck.pipeline.claims import extract_claims  # noqa: E402
from factcheck.pipeline.ingest import load_documents  # noqa: E402

OUR_EXAMPLES = Path(__file__).resolve().parent.parent / "factcheck" / "examples"


def build(words: int, n_claims: int, examples: Path) -> tuple[Document, list[str]]:
    sources = load_documents([OUR_EXAMPLES / "port-ellis-ferry.txt"] + sorted((examples / "articles").glob("*.txt")))
    paragraphs = [p.strip() for d in sources for p in d.text.split("\n\n") if len(p.split()) > 8]
    claims = [c.text for d in sources for c in extract_claims(d)]
    for path in [OUR_EXAMPLES / "claims.jsonl", examples / "claims.jsonl"]:
        if path.is_file():
            claims += [json.loads(line)["claim"] for line in path.read_text().splitlines() if line.strip()]
    out, count, copy = [], 0, 0
    while count < words:
        for paragraph in paragraphs:
            shifted = re.sub(r"\d+", lambda m: str(int(m.group()) + copy), paragraph)
            out.append(shifted)
            count += len(shifted.split())
        copy += 1
    variants = [re.sub(r"\d+", lambda m: str(int(m.group()) + i // len(claims)), claims[i % len(claims)]) for i in range(n_claims)]
    return Document(text="\n\n".join(out), id="long-document"), variants


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--examples", type=Path, default=Path("../shared/examples"))
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)

    document, claims = build(args.words, args.claims, args.examples)
    started = time.perf_counter()
    report = Checker(model=args.model).check(claims, [document])
    elapsed = time.perf_counter() - started
    verdicts: dict[str, int] = {}
    for r in report.results:
        verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
        for e in r.evidence:
            assert document.text[e.start : e.end] == e.text
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"document: {len(document.text.split())} words, {len(document.text)} characters; claims: {len(claims)}")
    print(f"verdicts: {verdicts}")
    print(f"time: {elapsed:.1f} s; peak memory: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
