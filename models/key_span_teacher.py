"""Teacher data for the key-span head: the exhaustive occlusion search's word importances.

    python models/key_span_teacher.py --source fnc1 [--rows 12000] [--data ../shared/data] [--out ~/.cache/factcheck/key-spans]
    python models/key_span_teacher.py --source lingnli --rows 8000

Sources (T data only): ``fnc1``, FNC-1 train headlines checked against their article bodies (the training split by
body; the evaluation's FNC-1 rows are the other split), rows of every stance but "unrelated"; every passage the
checker judged whose likeliest NLI class is entailment or contradiction at 0.5 or more. ``lingnli``, LingNLI train
pairs (MultiNLI premises) read so. For each: the passage, the claim, that class and, per word of the passage, the
largest drop in the class's probability among the three-word windows that remove it
(``Checker.explain(exhaustive=True)``'s search). Rows are drawn in a fixed random order; the output
(``teacher-SOURCE.jsonl``) is appended to in chunks, so a killed run resumes where it stopped. On the 2-vCPU AMX
Xeon: lingnli (8,000 rows, 5,489 passages) then fnc1 (all 10,732 rows, 9,482 passages), about 23 min for both.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck import Checker, Document  # noqa: E402
from factcheck.evaluation.benchmarks import fnc1_rows  # noqa: E402
from factcheck.nli.data import LABELS  # noqa: E402
from factcheck.nli.key_spans import span_from_scores  # noqa: E402
from factcheck.pipeline.aggregate import KeySpanSearch, word_importance  # noqa: E402

CHUNK = 250


def teach_fnc1(checker: Checker, rows: list[dict]) -> list[dict]:
    """Every passage of a headline's article that the NLI model reads as entailing or contradicting it."""
    results = checker.check_pairs([(row["headline"], Document(id=f"body-{row['body_id']}", text=row["body"])) for row in rows])
    items = [
        (e.text, r.claim.text, e.probabilities)
        for r in results
        for e in r.evidence
        if e.probabilities and e.rule is None
    ]
    return explain_exhaustively(checker, items)


def teach_lingnli(checker: Checker, rows: list[dict]) -> list[dict]:
    """LingNLI train pairs (MultiNLI premises) that the NLI model reads as entailment or contradiction."""
    pairs = [(row["premise"], row["hypothesis"]) for row in rows]
    probabilities = checker.predict(pairs)
    return explain_exhaustively(checker, [(p, h, dict(zip(LABELS, map(float, probs)))) for (p, h), probs in zip(pairs, probabilities)])


def explain_exhaustively(checker: Checker, items: list[tuple[str, str, dict]]) -> list[dict]:
    """For each (passage, claim, NLI probabilities) whose likeliest class is entailment or contradiction at 0.5 or
    more, the exhaustive occlusion search's word importances for that class."""
    todo = []
    for passage, claim, probabilities in dict.fromkeys((p, c, tuple(sorted(pr.items()))) for p, c, pr in items):
        probabilities = dict(probabilities)
        label = max(probabilities, key=probabilities.get)
        if label != "neutral" and probabilities[label] >= 0.5:
            todo.append((passage, claim, label, probabilities[label]))
    searches = [KeySpanSearch(passage, probability, fine_region=math.inf) for passage, _, _, probability in todo]
    variants = [search.variants() for search in searches]
    probs = checker.predict([(v, claim) for (_, claim, _, _), texts in zip(todo, variants) for v in texts])
    out, cursor = [], 0
    for (passage, claim, label, probability), search, texts in zip(todo, searches, variants):
        search.update(probs[cursor : cursor + len(texts), LABELS.index(label)])
        cursor += len(texts)
        importance = word_importance(len(search.words), search.fine_ranges, search.fine_drops)
        span = span_from_scores(search.words, importance)
        record = {"claim": claim, "passage": passage, "label": label, "probability": probability}
        out.append(record | {"words": search.words, "importance": importance.tolist(), "key_span": span})
    return out


SOURCES = {"fnc1": teach_fnc1, "lingnli": teach_lingnli}


def source_rows(data: Path, source: str) -> list[dict]:
    if source == "fnc1":
        rows = [row for row in fnc1_rows(data, "train") if row["stance"] != "unrelated"]
    else:
        rows = [json.loads(line) for path in sorted((data / "lingnli").glob("train_*.jsonl")) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [row for row in rows if row["label"] in ("entailment", "contradiction")]
    random.Random(0).shuffle(rows)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--source", choices=SOURCES, default="fnc1")
    parser.add_argument("--rows", type=int, default=12000, help="rows of the source to explain")
    parser.add_argument("--out", type=Path, default=Path("~/.cache/factcheck/key-spans").expanduser())
    args = parser.parse_args(argv)

    rows = source_rows(args.data, args.source)[: args.rows]
    args.out.mkdir(parents=True, exist_ok=True)
    path, done_path = args.out / f"teacher-{args.source}.jsonl", args.out / f"teacher-{args.source}.rows"
    done = int(done_path.read_text()) if done_path.is_file() else 0
    checker = Checker(key_spans=False)
    for start in range(done, len(rows), CHUNK):
        records = SOURCES[args.source](checker, rows[start : start + CHUNK])
        checker.clear_cache()
        with path.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(record) + "\n" for record in records)
        done_path.write_text(str(min(start + CHUNK, len(rows))))
        print(f"{args.source}: {min(start + CHUNK, len(rows))} of {len(rows)} rows: {len(records)} passages", flush=True)


if __name__ == "__main__":
    main()
