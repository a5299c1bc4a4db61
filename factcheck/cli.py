"""The ``factcheck`` command: a thin layer over the Python API."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from factcheck.pipeline.aggregate import Thresholds
from factcheck.results import VERDICTS

app = typer.Typer(help="Check claims against sources with an NLI model.", no_args_is_help=True)

ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Hugging Face NLI checkpoint (name or path); default: the shipped model."),
]

ThreadsOption = Annotated[
    int | None, typer.Option("--threads", min=1, help="CPU threads for the models; default: torch's choice.")
]


def _known_encoding(encoding: str | None) -> str | None:
    """An unknown --encoding is an error before anything is read."""
    from factcheck.pipeline.ingest import IngestError, check_encoding

    try:
        check_encoding(encoding)
    except IngestError as error:
        _fail(f"--encoding: {error}")
    return encoding


EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        metavar="NAME",
        callback=_known_encoding,
        help="Text encoding of the input files (cp1252, cp1250, latin-1...), for those without a byte-order mark; "
        "default: UTF-8, or the encoding detected where the guess is confident.",
    ),
]


class PairFormat(str, Enum):
    jsonl = "jsonl"
    table = "table"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _interrupted(message: str) -> None:
    """Ctrl-C: what was kept, and the exit status a shell gives a command stopped by SIGINT."""
    typer.echo(message, err=True)
    raise typer.Exit(code=130)


@contextmanager
def _interrupts_kept() -> Iterator[None]:
    """Within the block, a Ctrl-C is never lost.

    Python runs the SIGINT handler in the main thread wherever it is; when that is inside an object's finalizer
    (``__del__``: a library's compiled pattern, a tokenizer's buffer), the KeyboardInterrupt cannot leave it, is
    printed as "Exception ignored" with a traceback, and the command runs on to its end (seen once in a CI run of
    the Ctrl-C test: exit 0, a report written). Such an interrupt is raised again 10 ms later, by a timer signal
    (raised at once, it would be lost in this hook as well, and a thread that sends SIGINT races the hook).
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield  # no interval timers (Windows), or no signal handlers to set (only the main thread may)
        return
    previous_hook, previous_alarm = sys.unraisablehook, signal.getsignal(signal.SIGALRM)

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt

    def deliver_again(unraisable) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            signal.setitimer(signal.ITIMER_REAL, 0.01)
        else:
            previous_hook(unraisable)

    signal.signal(signal.SIGALRM, interrupt)
    sys.unraisablehook = deliver_again
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_alarm)
        sys.unraisablehook = previous_hook


@contextmanager
def _whole_report_or_none() -> Iterator[None]:
    """Ctrl-C before the report is complete leaves no output at all (the report file is written in one step)."""
    try:
        with _interrupts_kept():
            yield
    except KeyboardInterrupt:
        _interrupted("interrupted: nothing written (the report is written once every claim is checked)")


@app.command()
def score(
    pairs_file: Annotated[Path, typer.Argument(help="JSON lines with 'premise' and 'hypothesis' (and optional 'id').")],
    model: ModelOption = None,
    batch_size: BatchSizeOption = 32,
    output_format: Annotated[
        PairFormat, typer.Option("--format", help="jsonl (default) or a table.")
    ] = PairFormat.jsonl,
    threads: ThreadsOption = None,
    encoding: EncodingOption = None,
) -> None:
    """Score premise/hypothesis pairs: calibrated probabilities of entailment, neutral, contradiction."""
    from factcheck.nli.pairs import PairInputError, read_pairs, score_pairs

    try:
        records = read_pairs(pairs_file, encoding)
    except PairInputError as error:
        _fail(str(error))
    _set_threads(threads)
    _progress(quiet=False)
    try:
        results = score_pairs(records, model=model, batch_size=batch_size)
    except (OSError, ValueError) as error:  # a --model that is no NLI checkpoint
        _fail(str(error))
    if output_format is PairFormat.table:
        from rich.console import Console
        from rich.table import Column, Table

        # Ids and labels are what a reader greps for: they never wrap; the hypothesis takes what width is left.
        table = Table(
            Column("id", no_wrap=True),
            Column("label", no_wrap=True),
            Column("P(ent)", justify="right"),
            Column("P(neu)", justify="right"),
            Column("P(con)", justify="right"),
            Column("hypothesis", overflow="fold"),
        )
        from rich.markup import escape

        for r in results:
            p = r["probabilities"]
            table.add_row(
                escape(str(r["id"])),  # "[citation needed]" is the user's text, not rich markup
                r["label"],
                f"{p['entailment']:.2f}",
                f"{p['neutral']:.2f}",
                f"{p['contradiction']:.2f}",
                escape(r["hypothesis"]),
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
    html = "html"


FormatOption = Annotated[
    ReportFormat | None,
    typer.Option("--format", "-f", help="Output format; default: from --out's extension, else jsonl."),
]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of standard output.")]
_DEFAULT_THRESHOLDS = Thresholds()
SupportOption = Annotated[
    float | None,
    typer.Option(
        "--support-threshold",
        min=0.0,
        max=1.0,
        help="Probability of 'supported' at which a source supports a claim; default: the decision's own "
        "(0.35 by the strongest passage, the learned operating point with --decision learned).",
    ),
]
ContradictOption = Annotated[
    float | None,
    typer.Option(
        "--contradict-threshold",
        min=0.0,
        max=1.0,
        help="Probability of 'contradicted' at which a source contradicts a claim; default: the decision's own "
        "(0.45 by the strongest passage, the learned operating point, chosen for precision, with --decision "
        "learned). Lower it to see more possible contradictions, with more false ones.",
    ),
]
ConflictOption = Annotated[
    float,
    typer.Option(
        "--conflict-threshold",
        min=0.0,
        max=1.0,
        help="A source that reaches this for support and contradiction is 'conflicting'.",
    ),
]
class Decision(str, Enum):
    strongest = "strongest"
    learned = "learned"


DecisionOption = Annotated[
    Decision,
    typer.Option(
        "--decision",
        help="How a source's passages become a verdict: by the strongest passage, or by the learned decision "
        "fitted for the model (decision.json beside it; calibrated probabilities of each verdict).",
    ),
]
BatchSizeOption = Annotated[int, typer.Option("--batch-size", min=1, help="Pairs per NLI forward pass.")]


class Backend(str, Enum):
    auto = "auto"
    torch = "torch"
    torch_bf16 = "torch-bf16"
    onnx = "onnx"
    onnx_int8 = "onnx-int8"


BackendOption = Annotated[
    Backend,
    typer.Option(
        "--backend",
        help="What runs the NLI model: auto (the fastest of torch, torch-bf16 and onnx on this machine, measured "
        "once and kept in ~/.cache/factcheck/backends.json); torch (float32); torch-bf16 (fast only with "
        "AMX or avx512_bf16); ONNX Runtime on an export of it, onnx (float32) or onnx-int8 (8-bit weights, "
        "2.4-4.0x float32 torch; changes a few verdicts in a hundred).",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bars (there are none either when stderr is not a terminal).")
]


def _progress(quiet: bool) -> bool:
    """Whether to draw progress bars; when not, the model libraries' own bars are turned off too."""
    shown = not quiet and sys.stderr.isatty()
    if not shown:
        import datasets
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging as transformers_logging

        disable_progress_bars()
        transformers_logging.disable_progress_bar()
        datasets.disable_progress_bars()
    return shown


def _top_documents(top_k: str) -> int | None:
    if top_k == "all":
        return None
    if not (top_k.isascii() and top_k.isdigit()) or int(top_k) < 1:  # isdigit alone takes "²"
        _fail(f"--top-k: a number of documents (1 or more) or 'all', not {top_k!r}")
    return int(top_k)


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _checker(
    model: str | None,
    support: float | None,
    contradict: float | None,
    conflict: float,
    batch_size: int,
    backend: Backend,
    threads: int | None,
    progress: bool,
    decision: Decision,
):
    from factcheck.checker import Checker

    _set_threads(threads)
    thresholds = Thresholds(support=support, contradict=contradict, conflict=conflict)
    return Checker(
        model=model,
        thresholds=thresholds,
        batch_size=batch_size,
        backend=backend.value,
        show_progress=progress,
        verdicts="learned" if decision is Decision.learned else None,
    )


def _output_format(out: Path | None, chosen: ReportFormat | None) -> str:
    """The report format, decided before any work is done, so that a bad output name fails at once."""
    from factcheck.output.formats import format_for

    if chosen:
        return chosen.value
    try:
        return format_for(str(out) if out else None)
    except ValueError as error:
        _fail(str(error))


def _refuse_unwritable(out: Path | None, inputs: list) -> None:
    """A report that could not be written, or would overwrite an input (the claims file, an article), is an error
    before any work is done, not after the whole run."""
    if out is None or str(out) == "-":
        return
    if out.is_dir():
        _fail(f"{out}: a folder; name the report file")
    if not out.parent.is_dir():
        _fail(f"{out}: cannot write: no folder {out.parent}")
    if not os.access(out.parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        _fail(f"{out}: cannot write: permission denied")
    for item in inputs:
        if item is not None and str(item) != "-" and Path(item).resolve() == out.resolve():
            _fail(f"{out}: that is an input of this run ({item}); choose another --out")


def _emit(report, documents, checker, out: Path | None, chosen: str) -> None:
    if chosen == "html":
        from factcheck.output.html import render_html

        text = render_html(report, documents, model=checker.nli.display_name)
    else:
        from factcheck.output.formats import render

        text = render(report, chosen)
    _write(text, out)


def _write(text: str, out: Path | None) -> None:
    if out and str(out) != "-":
        from factcheck.output.formats import write_atomically

        try:
            write_atomically(out, text)
        except OSError as error:
            _fail(f"{out}: cannot write: {error.strerror or error}")
    else:
        sys.stdout.write(text)


def _load_errors():
    from factcheck.pipeline.claims import ClaimInputError
    from factcheck.pipeline.ingest import IngestError

    return (ClaimInputError, IngestError)


@app.command()
def check(
    claims: Annotated[
        str | None,
        typer.Option("--claims", "-c", help="JSON lines with 'claim' (and 'id'), or one claim a line; - for stdin."),
    ] = None,
    articles: Annotated[
        list[Path] | None,
        typer.Option("--articles", "-a", help="Files, folders or globs of the sources (repeatable)."),
    ] = None,
    index: Annotated[
        Path | None,
        typer.Option("--index", "-i", help="An archive (factcheck index add) to check against instead of --articles."),
    ] = None,
    top_k: Annotated[
        str | None,
        typer.Option(
            "--top-k",
            help="With --index: the documents of the archive checked for each claim, those that bear on it most: "
            "a number, or 'all' for every document with a passage related to it \\[default: 20].",
        ),
    ] = None,
    claims_from: Annotated[
        Path | None,
        typer.Option("--claims-from", help="Check the claims extracted from this article (not against itself)."),
    ] = None,
    encoding: EncodingOption = None,
    out: OutOption = None,
    output_format: FormatOption = None,
    model: ModelOption = None,
    support_threshold: SupportOption = _DEFAULT_THRESHOLDS.support,
    contradict_threshold: ContradictOption = _DEFAULT_THRESHOLDS.contradict,
    conflict_threshold: ConflictOption = _DEFAULT_THRESHOLDS.conflict,
    decision: DecisionOption = Decision.strongest,
    batch_size: BatchSizeOption = 32,
    backend: BackendOption = Backend.auto,
    threads: ThreadsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Check claims against articles: supported, contradicted or not mentioned, with evidence.

    One row per claim and source in jsonl and csv (pandas.read_json(lines=True) / read_csv read them as they are).
    """
    from factcheck.checker import Checker
    from factcheck.pipeline.claims import parse_claims
    from factcheck.pipeline.ingest import decode_text, load_documents, read_text
    from factcheck.scale.archive import Archive

    if (claims is None) == (claims_from is None):
        _fail("give the claims with --claims or --claims-from (one of them)")
    if (articles is None) == (index is None):
        _fail("give the sources with --articles or --index (one of them)")
    if top_k is not None and index is None:
        _fail("--top-k chooses documents of an archive: use it with --index (with --articles, every article is checked)")
    chosen = _output_format(out, output_format)
    with _whole_report_or_none():
        try:
            sources = Archive(index, create=False) if index else load_documents([str(a) for a in articles], encoding=encoding)
            if claims_from:
                article = Checker._one_document(claims_from, encoding)
            else:
                text = decode_text(sys.stdin.buffer.read(), "<stdin>", encoding) if claims == "-" else read_text(claims, encoding)
                claim_list = parse_claims(text, "<stdin>" if claims == "-" else claims)
            given = [claims, claims_from] + ([] if index else [d.path for d in sources])
            _refuse_unwritable(out, given)
            thresholds = (support_threshold, contradict_threshold, conflict_threshold)
            checker = _checker(model, *thresholds, batch_size, backend, threads, _progress(quiet), decision)
            among = {"top_documents": _top_documents(top_k)} if top_k else {}
            if claims_from:
                report = checker.check_claims_of(article, sources, **among)
                if not report.claims:
                    _fail(f"{claims_from}: no check-worthy claims found (factcheck extract shows what is taken)")
            else:
                report = checker.check(claim_list, sources, **among)
            documents = sources.documents(dict.fromkeys(r.document_id for r in report.results)) if index else sources
        except (OSError, ValueError, *_load_errors()) as error:  # ArchiveError and "one document expected" included
            _fail(str(error))
        unmatched = [entry["claim_id"] for entry in report.summary() if not any(entry[v] for v in VERDICTS)]
        if index and unmatched:  # rows are per claim and source: these claims are in none
            typer.echo(f"warning: nothing in {index} bears on {len(unmatched)} claim(s): {', '.join(unmatched)}", err=True)
        if report.not_checked:  # the sources listed are not all there are
            typer.echo(
                f"warning: {sum(report.not_checked.values())} document(s) of {index} bearing on {len(report.not_checked)} "
                "claim(s) were beyond --top-k and not checked (not_checked in the summary); --top-k all checks every one",
                err=True,
            )
        _emit(report, documents, checker, out, chosen)


@app.command()
def compare(
    article_a: Annotated[Path, typer.Argument(help="First article.")],
    article_b: Annotated[Path, typer.Argument(help="Second article.")],
    encoding: EncodingOption = None,
    out: OutOption = None,
    output_format: FormatOption = None,
    model: ModelOption = None,
    support_threshold: SupportOption = _DEFAULT_THRESHOLDS.support,
    contradict_threshold: ContradictOption = _DEFAULT_THRESHOLDS.contradict,
    conflict_threshold: ConflictOption = _DEFAULT_THRESHOLDS.conflict,
    decision: DecisionOption = Decision.strongest,
    batch_size: BatchSizeOption = 32,
    backend: BackendOption = Backend.auto,
    threads: ThreadsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Check the claims of A against B and those of B against A: agreements, contradictions, one-sided claims.

    As html: both articles side by side, each claim linked to its evidence in the other.
    """

    chosen = _output_format(out, output_format)
    with _whole_report_or_none():
        try:
            from factcheck.checker import Checker

            documents = Checker.comparison_pair(article_a, article_b, encoding=encoding)
            _refuse_unwritable(out, [article_a, article_b])
            thresholds = (support_threshold, contradict_threshold, conflict_threshold)
            checker = _checker(model, *thresholds, batch_size, backend, threads, _progress(quiet), decision)
            report = checker.compare(*documents)
        except (OSError, ValueError, *_load_errors()) as error:
            _fail(str(error))
        for document in documents:
            if not any(claim.document_id == document.id for claim in report.claims):
                typer.echo(f"warning: {document.id}: no check-worthy claims found, nothing of it was checked", err=True)
        _emit(report, documents, checker, out, chosen)


@app.command()
def extract(
    article: Annotated[Path, typer.Argument(help="The article to take claims from.")],
    encoding: EncodingOption = None,
    out: OutOption = None,
) -> None:
    """The claims the checker would extract from an article, with spans and speakers (JSON lines).

    Each claim's 'start' and 'end' index the article's text (for HTML, the main text extracted from it).
    """
    from factcheck.checker import Checker
    from factcheck.pipeline.claims import MIN_WORDS, extract_claims

    if out is not None and out.suffix.lower() != ".jsonl":
        _fail(f"{out}: extract writes JSON lines; name the output .jsonl")
    try:
        document = Checker._one_document(article, encoding)
    except (ValueError, *_load_errors()) as error:
        _fail(str(error))
    _refuse_unwritable(out, [article])
    claims = extract_claims(document)
    if not claims:
        typer.echo(f"warning: {article}: no check-worthy claims found (statements of {MIN_WORDS} words or more)", err=True)
    _write("".join(json.dumps(claim.to_dict(), ensure_ascii=False) + "\n" for claim in claims), out)


class BatchEngine(str, Enum):
    local = "local"
    ray = "ray"


@app.command()
def batch(
    jobs: Annotated[
        Path,
        typer.Argument(
            help='JSON lines, one job a line: {"id": "j1", "claims": ["..."], "articles": ["a.txt", "folder/"]}, '
            'with "documents": [{"id": "d1", "text": "..."}] instead of (or as well as) "articles" for inline texts. '
            "Relative article paths are read from the jobs file's folder."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON lines, one a job, appended and flushed job by job.")],
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue an interrupted run: keep --out and skip the jobs it already holds."),
    ] = False,
    encoding: EncodingOption = None,
    engine: Annotated[
        BatchEngine,
        typer.Option(
            "--engine",
            help="local: the jobs one after another in this process. ray: spread over the actors of a Ray cluster "
            "(pip install 'factcheck\\[ray]'); same output, record for record, with the same --threads.",
        ),
    ] = BatchEngine.local,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="With --engine ray: the cluster, HOST:PORT of its head or 'auto'; default: a Ray instance on this "
            "machine, started for the batch.",
        ),
    ] = None,
    actors: Annotated[
        int | None,
        typer.Option(
            "--actors", min=1, help="With --engine ray: how many checkers (model copies); default: cluster CPUs / --threads."
        ),
    ] = None,
    model: ModelOption = None,
    support_threshold: SupportOption = _DEFAULT_THRESHOLDS.support,
    contradict_threshold: ContradictOption = _DEFAULT_THRESHOLDS.contradict,
    conflict_threshold: ConflictOption = _DEFAULT_THRESHOLDS.conflict,
    batch_size: BatchSizeOption = 32,
    backend: BackendOption = Backend.auto,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads", min=1, help="CPU threads for the models (per actor with --engine ray); default: torch's choice."
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Run many checks, one output line per job: its report, or an error naming the line and what is wrong.

    A bad job does not stop the batch, and a run killed at any point continues with --resume as if never stopped.

    Exit status: 0 when every job has results, 1 when any has an error, 2 when the batch cannot run at all.
    """
    from factcheck.scale.batch import Batch, BatchError, BatchInterrupted, CheckerSettings, LocalEngine

    if engine is BatchEngine.local and (address or actors):
        _fail("--address and --actors go with --engine ray")
    if _output_format(out, None) != "jsonl":
        _fail(f"{out}: batch writes JSON lines, one a job; name its output .jsonl")
    thresholds = Thresholds(support=support_threshold, contradict=contradict_threshold, conflict=conflict_threshold)
    settings = CheckerSettings(model, thresholds, batch_size, backend.value, threads)
    try:
        planned = Batch(jobs, out, resume=resume, encoding=encoding)
        progress = _progress(quiet)
        checker = settings.build()
        # A model that cannot load is one error now, not one per job (or per actor). For the ONNX backends this
        # also makes the export, once, before Ray actors on this machine would each find it missing.
        _ = checker.nli
        if engine is BatchEngine.ray:
            from factcheck.scale.ray_engine import RayEngine

            runner = RayEngine(settings, address=address, actors=actors)
        else:
            runner = LocalEngine(checker)
        with _interrupts_kept():
            summary = planned.run(runner, show_progress=progress)
    except BatchInterrupted as interrupted:
        _interrupted(str(interrupted))
    except (BatchError, OSError, ImportError, RuntimeError, ValueError) as error:
        _fail(str(error))
    typer.echo(summary.line(), err=True)
    raise typer.Exit(code=1 if summary.failed else 0)


index_app = typer.Typer(
    help="An archive of sources, indexed once, that claims are checked against (factcheck check --index).",
    no_args_is_help=True,
)
app.add_typer(index_app, name="index")
ArchiveArgument = Annotated[Path, typer.Argument(help="The archive's folder.")]


@index_app.command("add")
def index_add(
    archive: Annotated[Path, typer.Argument(help="The archive's folder; made if it does not exist.")],
    paths: Annotated[list[Path], typer.Argument(help="Files, folders or globs of sources, as check --articles reads them.")],
    encoding: EncodingOption = None,
    engine: Annotated[
        BatchEngine,
        typer.Option(
            "--engine",
            help="local: embed here. ray: embed on the actors of a Ray cluster (pip install 'factcheck\\[ray]'); "
            "this process writes the archive.",
        ),
    ] = BatchEngine.local,
    address: Annotated[
        str | None,
        typer.Option("--address", help="With --engine ray: HOST:PORT of the cluster's head or 'auto'; default: this machine."),
    ] = None,
    documents_per_batch: Annotated[
        int,
        typer.Option(
            "--documents-per-batch", min=1, help="Documents embedded together; a kill loses at most this many's work."
        ),
    ] = 64,
    threads: ThreadsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Add sources to an archive: the same file twice is one document, a changed file replaces its old version.

    Interrupted (even by kill -9), the archive holds each document wholly or not at all; the same command again
    finishes the work.
    """
    from factcheck.pipeline.ingest import first_few, load_documents
    from factcheck.scale.archive import Archive, ArchiveError
    from factcheck.scale.ray_engine import RayError

    if engine is BatchEngine.local and address:
        _fail("--address goes with --engine ray")
    _set_threads(threads)
    try:
        # Read before the archive is opened, so that a mistyped path makes no archive: removing one made here
        # could remove what another index add, started at the same time, stores into it.
        documents = load_documents([str(p) for p in paths], skip=archive, encoding=encoding)
        with _interrupts_kept(), Archive(archive) as opened:
            summary = opened.add(
                documents,
                engine=engine.value,
                address=address,
                documents_per_batch=documents_per_batch,
                show_progress=_progress(quiet),
            )
            folders = [p for p in paths if p.is_dir()]
            gone = opened.files_gone(folders) if folders else []
    except KeyboardInterrupt:
        _interrupted("interrupted: the documents stored so far are kept; run the same command again to finish")
    except (OSError, ArchiveError, RayError, *_load_errors()) as error:
        _fail(str(error))
    if gone:
        typer.echo(
            f"{archive}: files gone from these folders, their documents kept: {len(gone)} ({first_few(gone)}); "
            f"factcheck index remove {archive} ID... takes them out",
            err=True,
        )
    typer.echo(f"{archive}: {summary.line()}", err=True)


@index_app.command("remove")
def index_remove(
    archive: ArchiveArgument,
    ids: Annotated[list[str], typer.Argument(help="Ids of the documents to take out (factcheck check reports them).")],
) -> None:
    """Take documents out of an archive: all the ids given, or none when one is unknown."""
    from factcheck.scale.archive import Archive, ArchiveError

    try:
        with Archive(archive, create=False) as opened:
            removed = opened.remove(ids)
    except (OSError, ArchiveError) as error:
        _fail(str(error))
    typer.echo(f"{archive}: {len(removed)} removed", err=True)


@index_app.command("info")
def index_info(
    archive: ArchiveArgument,
    ids: Annotated[bool, typer.Option("--ids", help="List the documents' ids instead, one a line, in the order added.")] = False,
) -> None:
    """Documents, passages, size on disk, retriever model and when the archive last changed."""
    from factcheck.scale.archive import Archive, ArchiveError

    try:
        with Archive(archive, create=False) as opened:
            typer.echo("\n".join(opened.ids() if ids else opened.info().lines()))
    except (OSError, ArchiveError) as error:
        _fail(str(error))


@app.command("eval")
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Folder of the public benchmark files.")] = Path("../shared/data"),
    out: Annotated[Path, typer.Option("--out", help="Report folder: report.md, report.html, results.json, plots/.")] = Path(
        "eval/report"
    ),
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="NLI checkpoint (name or path); repeat to compare several. Default: the shipped model."),
    ] = None,
    benchmarks: Annotated[
        list[str] | None,
        typer.Option(
            "--benchmarks",
            "-b",
            help="Benchmarks to run (repeatable); default: all. A hub dataset id (owner/name[:split]) is a model-level set.",
        ),
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="A fixed random sample of every set (CI: a few minutes).")] = False,
    results_md: Annotated[
        Path | None, typer.Option("--results-md", help="Also write the summary tables here (eval/RESULTS.md).")
    ] = None,
    threads: ThreadsOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Evaluate on public benchmarks: model level (sentence pairs) and system level (claims vs. sources)."""
    import shlex

    from factcheck.evaluation.report import write_report
    from factcheck.evaluation.suite import portable_path, run_suite

    if not str(out).strip() or str(out) in (".", "./"):
        _fail("--out: name a folder for the report (the current folder would fill with its files)")
    if out.exists() and not out.is_dir():
        _fail(f"--out {out}: a file; the report is a folder (report.md, report.html, results.json, plots/)")
    if results_md is not None and (results_md.is_dir() or not results_md.parent.is_dir()):
        _fail(f"--results-md {results_md}: cannot write a file there (a folder, or in a folder that does not exist)")
    _set_threads(threads)
    progress = _progress(quiet)
    # The command as run, with this machine's paths shown as reports may show them, quoted to run again.
    arguments = [("=".join([a.split("=", 1)[0], portable_path(a.split("=", 1)[1])]) if a.startswith("--") and "=" in a
                  else portable_path(a)) for a in sys.argv[2:]]
    command = "factcheck eval " + shlex.join(arguments) if sys.argv[1:2] == ["eval"] else "factcheck eval"
    try:
        result = run_suite(
            model or [None],
            data,
            benchmarks,
            quick=quick,
            show_progress=progress,
            log=(lambda _: None) if quiet else (lambda line: typer.echo(line, err=True)),
        )
    except (OSError, ValueError, KeyError) as error:
        _fail(str(error).strip("'\""))
    try:
        written = write_report(result, out, command, results_md)
    except OSError as error:
        _fail(f"{error.filename or out}: cannot write the report: {error.strerror or error}")
    if not quiet:
        typer.echo(f"wrote {len(written)} files to {out} in {result.seconds:.0f} s", err=True)
    from factcheck.evaluation.report import markdown_table, tables

    for table in tables(result)[:1]:
        typer.echo(markdown_table(table))


@app.command()
def models() -> None:
    """The shipped model, and how to use another one."""
    from factcheck.nli.infer import default_model_path, model_display_name

    path = default_model_path()
    if not (path / "config.json").is_file():
        _fail(f"the default model is missing at {path}: reinstall factcheck from its source tree (pip install -e .) "
              "or point FACTCHECK_MODEL at a checkpoint folder")
    typer.echo(f"default model: {path}")
    typer.echo(f"in reports:    {model_display_name(str(path))}")
    card = path / "MODEL_CARD.md"
    if card.is_file():
        typer.echo(f"model card:    {card}")
    typer.echo(
        "other models:  pass --model NAME_OR_PATH with any Hugging Face 3-way NLI checkpoint, e.g.\n"
        "               --model cross-encoder/nli-deberta-v3-base  (needs a network the first time)\n"
        "               or set FACTCHECK_MODEL=/path/to/checkpoint for every command."
    )


def main() -> None:
    """The ``factcheck`` command. An empty argument is refused before the command parses it: click reads ``""`` as
    the path ".", so ``-a "$UNSET"`` checked every file of the current folder (a claims file against itself)."""
    arguments = sys.argv[1:]
    for at, argument in enumerate(arguments):
        option, _, value = argument.partition("=") if argument.startswith("--") and "=" in argument else ("", "", argument)
        if value.strip():
            continue
        if not option and at and arguments[at - 1].startswith("-") and arguments[at - 1] != "-":
            option = arguments[at - 1]
        where = option or f"argument {at + 1} after factcheck"
        _fail_early(f"{where}: empty (an unset shell variable?); name a file, folder or value")
    app()


def _fail_early(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
