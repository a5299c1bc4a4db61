"""The ``factcheck`` command: a thin layer over the Python API."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Check claims against sources with an NLI model.", no_args_is_help=True)

ModelOption = Annotated[
    Optional[str],
    typer.Option("--model", "-m", help="Hugging Face NLI checkpoint (name or path); default: the shipped model."),
]


class PairFormat(str, Enum):
    jsonl = "jsonl"
    table = "table"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@app.command()
def score(
    pairs_file: Annotated[Path, typer.Argument(help="JSON lines with 'premise' and 'hypothesis' (and optional 'id').")],
    model: ModelOption = None,
    batch_size: Annotated[int, typer.Option(help="Pairs per forward pass.")] = 32,
    output_format: Annotated[PairFormat, typer.Option("--format", help="jsonl (default) or a table.")] = PairFormat.jsonl,
) -> None:
    """Score premise/hypothesis pairs: calibrated probabilities of entailment, neutral, contradiction."""
    from factcheck.pairs import PairInputError, read_pairs, score_pairs

    try:
        records = read_pairs(pairs_file)
    except PairInputError as error:
        _fail(str(error))
    results = score_pairs(records, model=model, batch_size=batch_size)
    if output_format is PairFormat.table:
        from rich.console import Console
        from rich.table import Table

        table = Table("id", "label", "entailment", "neutral", "contradiction", "hypothesis")
        for r in results:
            p = r["probabilities"]
            table.add_row(
                str(r["id"]), r["label"], f"{p['entailment']:.3f}", f"{p['neutral']:.3f}", f"{p['contradiction']:.3f}", r["hypothesis"]
            )
        Console().print(table)
    else:
        for r in results:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")


class ReportFormat(str, Enum):
    jsonl = "jsonl"
    json = "json"
    csv = "csv"
    md = "md"


FormatOption = Annotated[
    Optional[ReportFormat],
    typer.Option("--format", "-f", help="Output format; default: from --out's extension, else jsonl."),
]
OutOption = Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here instead of standard output.")]


def _checker(model: str | None, batch_size: int):
    from factcheck.checker import Checker

    return Checker(model=model, batch_size=batch_size)


def _emit(report, out: Path | None, output_format: ReportFormat | None) -> None:
    from factcheck.report import format_for, render

    chosen = output_format.value if output_format else format_for(str(out) if out else None)
    text = render(report, chosen)
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _load_errors():
    from factcheck.claims import ClaimInputError
    from factcheck.ingest import IngestError

    return (ClaimInputError, IngestError)


@app.command()
def check(
    claims: Annotated[str, typer.Option("--claims", "-c", help="JSON lines with 'claim' (and 'id'), or one claim a line; - for stdin.")],
    articles: Annotated[list[Path], typer.Option("--articles", "-a", help="Files, folders or globs of the sources.")],
    out: OutOption = None,
    output_format: FormatOption = None,
    model: ModelOption = None,
    batch_size: Annotated[int, typer.Option(help="Pairs per NLI forward pass.")] = 32,
) -> None:
    """Check claims against articles: supported, contradicted or not mentioned, with evidence."""
    from factcheck.claims import parse_claims

    try:
        text = sys.stdin.read() if claims == "-" else Path(claims).read_text(encoding="utf-8-sig")
        claim_list = parse_claims(text, "<stdin>" if claims == "-" else claims)
        report = _checker(model, batch_size).check(claim_list, [str(a) for a in articles])
    except (OSError, *_load_errors()) as error:
        _fail(str(error))
    _emit(report, out, output_format)


@app.command()
def compare(
    article_a: Annotated[Path, typer.Argument(help="First article.")],
    article_b: Annotated[Path, typer.Argument(help="Second article.")],
    out: OutOption = None,
    output_format: FormatOption = None,
    model: ModelOption = None,
    batch_size: Annotated[int, typer.Option(help="Pairs per NLI forward pass.")] = 32,
) -> None:
    """Check the claims of A against B and those of B against A."""
    try:
        report = _checker(model, batch_size).compare(article_a, article_b)
    except _load_errors() as error:
        _fail(str(error))
    _emit(report, out, output_format)


@app.command()
def extract(article: Annotated[Path, typer.Argument(help="The article to take claims from.")]) -> None:
    """The claims the checker would extract from an article, with spans and speakers (JSON lines)."""
    from factcheck.claims import extract_claims
    from factcheck.ingest import load_documents

    try:
        (document,) = load_documents([article])
    except _load_errors() as error:
        _fail(str(error))
    for claim in extract_claims(document):
        sys.stdout.write(json.dumps(claim.to_dict(), ensure_ascii=False) + "\n")


@app.command()
def models() -> None:
    """The shipped model, and how to use another one."""
    from factcheck.infer import default_model_path

    path = default_model_path()
    status = "present" if path.is_dir() else "MISSING"
    typer.echo(f"default model: {path} ({status})")
    card = path / "MODEL_CARD.md"
    if card.is_file():
        typer.echo(f"model card:    {card}")
    typer.echo(
        "other models:  pass --model NAME_OR_PATH with any Hugging Face 3-way NLI checkpoint, e.g.\n"
        "               --model cross-encoder/nli-deberta-v3-base  (needs a network the first time)\n"
        "               or set FACTCHECK_MODEL=/path/to/checkpoint for every command."
    )


if __name__ == "__main__":
    app()
