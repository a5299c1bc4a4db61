"""A Report as text: JSON lines, JSON, CSV and Markdown, written whole or not at all (HTML is in ``html``)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from factcheck.results import NOT_MENTIONED, VERDICT_ORDER, Report

FORMATS = ("jsonl", "json", "csv", "md")


def render(report: Report, output_format: str) -> str:
    """The report as text in one of ``FORMATS``."""
    if output_format == "jsonl":
        return "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in report.results)
    if output_format == "json":
        return report.to_json(indent=2) + "\n"
    if output_format == "csv":
        return report.to_dataframe().map(_inert).to_csv(index=False)
    if output_format == "md":
        return to_markdown(report)
    raise ValueError(f"unknown format {output_format!r}; choose one of {', '.join(FORMATS)}")


_FORMAT_OF_SUFFIX = {f: f for f in FORMATS} | {"markdown": "md", "html": "html", "htm": "html"}


def format_for(path: str | None, default: str = "jsonl") -> str:
    """The format a file name asks for by its extension (``html`` included, which needs the documents).

    A name without an extension gets ``default``; an extension we cannot write is an error, never a file of
    another format under a misleading name (JSON lines in ``report.xlsx``)."""
    name = Path(path).name if path else ""
    if not name or name == "-" or "." not in name.lstrip("."):
        return default
    suffix = name.rsplit(".", 1)[-1].lower()
    if suffix not in _FORMAT_OF_SUFFIX:
        known = ", ".join(f".{s}" for s in _FORMAT_OF_SUFFIX)
        raise ValueError(f"{path}: cannot write .{suffix} files; name the output {known}, or choose one with --format")
    return _FORMAT_OF_SUFFIX[suffix]


def write_atomically(path: Path, text: str) -> None:
    """``text`` as the whole of ``path``, or ``path`` untouched: a full disk or a Ctrl-C mid-write never leaves a
    half-written report where the user expects a whole one. A device or a pipe (``-o /dev/stdout``, ``/dev/null``) is
    written into, never replaced: renaming a file onto /dev/null made it a plain file, for every program after."""
    path = Path(path)
    if path.exists() and not path.is_file():
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        return
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False)
    try:
        with handle:
            # The permissions a plain open() would give (the temporary file is private to its owner).
            os.chmod(handle.fileno(), path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Every line break, not only "\n": a lone "\r" (CRLF and old Mac files) or U+2028 ends a table row too.
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
# What Markdown (and the HTML it may hold) would read as markup in an article's or a claim's text: "<script>",
# "*", "_" and "[...]" are shown as written, and "|" does not end the cell.
_MARKUP = re.compile(r"([\\`*_\[\]|<>])")


def _inert(value: object) -> object:
    """A CSV cell that a spreadsheet would run as a formula (an article or claim starting "=", "+", "-", "@") with
    an apostrophe before it, as OWASP advises: a claims file can carry =HYPERLINK(...) from anywhere."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _cell(text: str | None) -> str:
    return "" if text is None else _LINE_BREAK.sub(" ", _MARKUP.sub(r"\\\1", text))


def to_markdown(report: Report) -> str:
    # The claim's id comes first: two claims of one wording (a claimant's and a rival's) are told apart by it, and a
    # row is found again in the JSON results by it.
    lines = ["| id | claim | source | verdict | confidence | evidence |", "|---|---|---|---|---:|---|"]
    for r in sorted(report.results, key=lambda r: VERDICT_ORDER[r.verdict]):
        lead = r.evidence[0] if r.evidence and r.verdict != NOT_MENTIONED else None
        evidence = ""
        if lead:
            evidence = _cell(lead.text)
            if lead.key_span:
                # Marked where it stands (the passage may hold the same words earlier: "212 crew ... 212 passengers").
                start, end = lead.key_span.start - lead.start, lead.key_span.end - lead.start
                text = lead.text
                evidence = f"{_cell(text[:start])}**{_cell(text[start:end])}**{_cell(text[end:])}"
        # A warning changes how far the verdict can be trusted: it stands beside the evidence, as in every format.
        notes = "".join(f" _(warning: {_cell(w)})_" for w in r.warnings)
        lines.append(
            f"| {_cell(str(r.claim.id))} | {_cell(r.claim.text)} | {_cell(str(r.document_id))} | {r.verdict} | "
            f"{r.confidence:.2f} | {evidence}{notes} |"
        )
    return "\n".join(lines) + "\n"
