"""A batch of 1,000 jobs, 5% of them bad, through ``factcheck batch``, with time and peak memory.

    python eval/batch_scale.py [--jobs 1000] [--bad 0.05] [--threads 2] [--examples ../shared/examples] [--keep DIR]

Jobs are built from the example articles (ours in ``factcheck/examples`` and the
ones in ``../shared/examples/articles``) and their claims: some name article
files, some carry their text inline (paragraphs with their numbers shifted, so
that texts differ from job to job). The bad ones cycle through the ways a record
goes wrong. The run must give every good job a result row and every bad job an
error row naming its line, and nothing else; the script says so or exits 1.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUR_EXAMPLES = Path(__file__).resolve().parent.parent / "factcheck" / "examples"

# (what goes wrong, the job line, what its error row must say)
BAD_KINDS = [
    ("invalid JSON", lambda n: f'{{"id": "bad-{n}", "claims": ["cut off', "invalid JSON"),
    ("no claims", lambda n: json.dumps({"id": f"bad-{n}", "articles": ["articles/0.txt"]}), "missing field 'claims'"),
    ("no sources", lambda n: json.dumps({"id": f"bad-{n}", "claims": ["A claim."]}), "missing field 'articles'"),
    (
        "missing article",
        lambda n: json.dumps({"id": f"bad-{n}", "claims": ["A claim."], "articles": ["articles/absent.txt"]}),
        "no such file",
    ),
    (
        "binary article",
        lambda n: json.dumps({"id": f"bad-{n}", "claims": ["A claim."], "articles": ["articles/binary.txt"]}),
        "binary file",
    ),
    (
        "empty text",
        lambda n: json.dumps({"id": f"bad-{n}", "claims": ["A claim."], "documents": [{"id": "d", "text": " "}]}),
        "must be a non-empty string",
    ),
    (
        "claims not a list",
        lambda n: json.dumps({"id": f"bad-{n}", "claims": "A claim.", "articles": ["articles/0.txt"]}),
        "field 'claims' must be a non-empty array",
    ),
    ("not an object", lambda n: json.dumps(["bad", n]), "expected a JSON object"),
]


def sources(examples: Path) -> tuple[list[Path], list[str]]:
    articles = [OUR_EXAMPLES / "port-ellis-ferry.txt", *sorted((examples / "articles").glob("*.txt"))]
    claims = []
    for path in [OUR_EXAMPLES / "claims.jsonl", examples / "claims.jsonl"]:
        if path.is_file():
            claims += [json.loads(line)["claim"] for line in path.read_text().splitlines() if line.strip()]
    return articles, claims


def build(folder: Path, n_jobs: int, bad_share: float, examples: Path, seed: int = 0) -> tuple[Path, dict, dict]:
    """The jobs file; claim-source pairs per good job id; for each bad job's id, its line and the error it must get."""
    rng = random.Random(seed)
    articles, claims = sources(examples)
    (folder / "articles").mkdir()
    names = []
    for n, article in enumerate(articles):
        (folder / "articles" / f"{n}.txt").write_text(article.read_text(encoding="utf-8"), encoding="utf-8")
        names.append(f"articles/{n}.txt")
    (folder / "articles" / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    paragraphs = [
        p.strip() for a in articles for p in a.read_text(encoding="utf-8").split("\n\n") if len(p.split()) > 8
    ]
    n_bad = round(n_jobs * bad_share)
    bad_lines = set(rng.sample(range(1, n_jobs + 1), n_bad))
    lines, good, bad = [], {}, {}
    for number in range(1, n_jobs + 1):
        if number in bad_lines:
            kind = BAD_KINDS[len(bad) % len(BAD_KINDS)]
            # A line that is no JSON object has no id of its own: its error row carries its line number.
            job_id = f"line-{number}" if kind[0] in ("invalid JSON", "not an object") else f"bad-{number}"
            lines.append(kind[1](number))
            bad[job_id] = (number, kind[2])
            continue
        job: dict = {"id": f"job-{number}", "claims": rng.sample(claims, rng.randint(1, 3))}
        if rng.random() < 0.5:
            job["articles"] = rng.sample(names, rng.randint(1, min(2, len(names))))
        else:
            shift = rng.randint(0, 50)
            texts = rng.sample(paragraphs, rng.randint(1, 2))
            job["documents"] = [
                {"id": f"doc-{k}", "text": re.sub(r"\d+", lambda m, shift=shift: str(int(m.group()) + shift), text)}
                for k, text in enumerate(texts)
            ]
        lines.append(json.dumps(job))
        good[job["id"]] = len(job["claims"]) * len(job.get("articles", job.get("documents")))
    jobs = folder / "jobs.jsonl"
    jobs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return jobs, good, bad


def verify(out: Path, jobs: Path, good: dict, bad: dict) -> list[str]:
    """Everything wrong with the output; empty when each job has exactly the row it should."""
    problems = []
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    ids = [row["id"] for row in rows]
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} ids written twice")
    expected = good.keys() | bad.keys()
    if set(ids) != expected:
        problems.append(f"unexpected ids {sorted(set(ids) - expected)[:5]}, missing {sorted(expected - set(ids))[:5]}")
    for row in rows:
        if row["id"] in good and ("error" in row or len(row.get("results", [])) != good[row["id"]]):
            problems.append(f"job {row['id']}: not one result per claim and source ({row.get('error')})")
        if row["id"] in bad:
            number, reason = bad[row["id"]]
            if not row.get("error", "").startswith(f"{jobs}, line {number}: ") or reason not in row["error"]:
                problems.append(f"job {row['id']}: expected an error about {reason!r}, got {row.get('error')!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--bad", type=float, default=0.05, help="share of bad records")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--examples", type=Path, default=Path("../shared/examples"))
    parser.add_argument(
        "--keep", type=Path, default=None, help="build and run in this folder (kept) instead of a temporary one"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        jobs, good, bad = build(folder, args.jobs, args.bad, args.examples)
        out = folder / "results.jsonl"
        command = [sys.executable, "-m", "factcheck.cli", "batch", str(jobs), "--out", str(out), "--quiet"]
        if args.threads:
            command += ["--threads", str(args.threads)]
        started = time.perf_counter()
        run = subprocess.run(command, check=False, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
        problems = verify(out, jobs, good, bad) if out.is_file() else [f"no output; stderr: {run.stderr[-2000:]}"]
        if run.returncode != (1 if bad else 0):
            problems.append(f"exit status {run.returncode}, expected {1 if bad else 0}")
        print(run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "(no summary line)")
        pairs = sum(good.values())
        print(
            f"{args.jobs} jobs ({len(good)} good, {len(bad)} bad), {pairs} claim-source pairs: {elapsed:.1f} s wall, "
            f"{elapsed / args.jobs * 1000:.0f} ms a job, {pairs / elapsed:.1f} pairs/s, peak memory {peak_mib:.0f} MiB"
        )
        print(
            "OK: every good job has results, every bad job an error row naming its line, nothing else"
            if not problems
            else "FAILED:"
        )
        for problem in problems[:20]:
            print("  " + problem)
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
