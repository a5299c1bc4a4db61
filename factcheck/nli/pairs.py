"""Premise/hypothesis pairs from a file, scored by an NLI model (the ``factcheck score`` job)."""

from __future__ import annotations

from pathlib import Path

from factcheck.nli.data import LABELS
from factcheck.nli.infer import NLIModel
from factcheck.pipeline.ingest import IngestError, id_error, json_lines, json_type_name, read_text

PREDICTED = ("label", "probabilities")


class PairInputError(ValueError):
    """A pairs file that cannot be read; the message names the file and line."""


def read_pairs(path: str | Path, encoding: str | None = None) -> list[dict]:
    """JSON lines, each an object with non-empty string fields ``premise`` and ``hypothesis``; ``encoding`` as
    ``read_text`` takes it."""
    path = Path(path)
    try:
        text = read_text(path, encoding)
    except IngestError as error:
        raise PairInputError(str(error)) from None
    records, seen = [], {}
    lines = json_lines(text, str(path), PairInputError)
    given = {str(r["id"]) for _, r in lines if isinstance(r, dict) and "id" in r}
    for number, (where, record) in enumerate(lines, start=1):
        if not isinstance(record, dict):
            raise PairInputError(f"{where}: expected a JSON object, got {json_type_name(record)}")
        for field in PREDICTED:
            if field in record and f"given_{field}" in record:
                raise PairInputError(
                    f"{where}: fields {field!r} and 'given_{field}' both given; score keeps a record's own {field!r} "
                    f"as 'given_{field}': rename one"
                )
        for field in ("premise", "hypothesis"):
            value = record.get(field)
            if not isinstance(value, str) or not value.strip():
                raise PairInputError(f"{where}: field {field!r} must be a non-empty string")
        if "id" in record:  # the user's ids must tell pairs apart; the record numbers given to the rest are ours
            if problem := id_error(record["id"]):
                raise PairInputError(f"{where}: {problem}")
            if str(record["id"]) in seen:  # 1 and "1" are one id in a table
                raise PairInputError(f"{where}: id {record['id']!r} already used on line {seen[str(record['id'])]}")
            seen[str(record["id"])] = where.rsplit("line ", 1)[-1]
        # A pair without an id is numbered; never with a number another pair was given as its id.
        made = number if str(number) not in given else f"{number} (no id)"
        records.append({"id": record.get("id", made), **record})
    if not records:
        raise PairInputError(f"{path}: no pairs in file")
    return records


def score_pairs(records: list[dict], *, model: NLIModel | str | None = None, batch_size: int = 32) -> list[dict]:
    """Each record with the predicted ``label`` and its calibrated ``probabilities`` added. A record's own field of
    either name (a gold label) is kept as ``given_label`` / ``given_probabilities``, never overwritten."""
    nli = model if isinstance(model, NLIModel) else NLIModel(model)
    probs = nli.predict([(r["premise"], r["hypothesis"]) for r in records], batch_size=batch_size)
    return [
        {f"given_{k}" if k in PREDICTED else k: v for k, v in r.items()}
        | {"label": LABELS[int(p.argmax())], "probabilities": {label: round(float(x), 4) for label, x in zip(LABELS, p)}}
        for r, p in zip(records, probs)
    ]
