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
