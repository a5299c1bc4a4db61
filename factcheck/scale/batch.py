"""Many checks in one run (the ``factcheck batch`` job), built to be killed and resumed.

The jobs file holds one JSON object a line::

    {"id": "j1", "claims": ["...", {"id": "c2", "claim": "..."}], "articles": ["a.txt", "folder/"]}
    {"id": "j2", "claims": ["..."], "documents": [{"id": "note", "text": "..."}]}

and the output gets one line per job, in input order, carrying the job's ``id``
and ``line``: the report (``results`` and ``summary``, as ``Report.to_dict``) or
an ``error`` naming the line and what is wrong with it. A bad job never stops
the batch.

Each output line goes out in one ``write`` call and is made durable (fsync)
before the next job starts, so a run killed at any moment leaves complete lines and at
most one cut-off last line. Ctrl-C waits for the line being written; a write that
fails (a full disk) takes its part-line back. ``resume`` drops that cut-off line, counts the
records already written for each id and skips as many jobs of that id: the
resumed output is byte for byte what an uninterrupted run writes.

Jobs run on an engine: ``LocalEngine`` runs them one after another in this
process; ``factcheck.scale.ray_engine.RayEngine`` spreads them over the actors of a
Ray cluster. Either way this process reads the jobs file, decides what still has
to run and writes the output, in input order, so that output and resumption
are the same whatever engine ran the jobs.
"""

from __future__ import annotations

import codecs
import difflib
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from factcheck.checker import Checker
from factcheck.pipeline.aggregate import Thresholds
from factcheck.pipeline.claims import Claim, as_claims, claim_from_record, free_claim_id, given_claim_ids
from factcheck.pipeline.ingest import (
    Document,
    IngestError,
    decode_text,
    id_error,
    is_valid_id,
    json_type_name,
    load_documents,
    parse_json,
)

# Byte order marks of the encodings whose lines cannot be told apart byte by byte (a newline is two or four bytes).
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
JOB_FIELDS = ("id", "claims", "articles", "documents")
DOCUMENT_FIELDS = ("id", "text", "title", "date", "source", "url")
# How every output line begins (``Batch.run`` puts "id" first): a line cut short by a kill is recognised by it.
_RECORD_START = b'{"id": '


class JobError(ValueError):
    """What is wrong with one job; it becomes that job's error record."""


class BatchError(ValueError):
    """A problem with the batch as a whole (jobs file, output file): nothing can be run."""


@dataclass
class BatchSummary:
    output: Path
    jobs: int
    already_done: int
    ok: int  # over the whole output, earlier runs included
    failed: int
    seconds: float

    def line(self) -> str:
        ran = self.jobs - self.already_done
        resumed = f", {self.already_done} done by an earlier run" if self.already_done else ""
        return (
            f"{self.output}: {self.jobs} jobs, {self.ok} with results, {self.failed} errors "
            f"({ran} run in {self.seconds:.1f} s{resumed})"
        )


def _given_id(record: object) -> str | int | None:
    return record["id"] if isinstance(record, dict) and is_valid_id(record.get("id")) else None


def _job_id(record: object, number: int, given_ids: set) -> str | int:
    """The job's own id, or ``line-N`` when it has none (or the line is not even a JSON object); ``line-N (no
    id)`` where a job of the file has that id already, so that a made-up id never clashes with a given one."""
    given = _given_id(record)
    if given is not None:
        return given
    return f"line-{number}" if f"line-{number}" not in given_ids else f"line-{number} (no id)"


def _claims(value: object) -> list[Claim]:
    if not isinstance(value, list) or not value:
        raise JobError(f"field 'claims' must be a non-empty array, got {'an empty array' if value == [] else json_type_name(value)}")
    claims: list[Claim] = []
    given = given_claim_ids(value)
    for n, item in enumerate(value, start=1):
        if isinstance(item, str) and item.strip():
            claims.append(Claim(item.strip(), id=free_claim_id(n, given)))
            continue
        if not isinstance(item, dict):
            raise JobError(f"claim {n}: must be a non-empty string, or an object with a non-empty 'claim'")
        try:
            claims.append(claim_from_record(item, n, given))
        except ValueError as error:
            raise JobError(f"claim {n}: {error}") from None
    try:
        return as_claims(claims)
    except ValueError as error:
        raise JobError(str(error)) from None


def _articles(value: object, base: Path) -> list[Path]:
    if not isinstance(value, list) or not value or not all(isinstance(p, str) and p.strip() for p in value):
        raise JobError("field 'articles' must be a non-empty array of paths")
    # Relative paths are read from the jobs file's folder, so a jobs file and its articles move together.
    return [base / p for p in value]


def _documents(value: object) -> list[Document]:
    if not isinstance(value, list) or not value:
        raise JobError(f"field 'documents' must be a non-empty array, got {'an empty array' if value == [] else json_type_name(value)}")
    documents, numbers = [], {}
    for n, item in enumerate(value, start=1):
        where = f"document {n}"
        if not isinstance(item, dict):
            raise JobError(f"{where}: expected an object with 'text', got {json_type_name(item)}")
        unknown = [k for k in item if k not in DOCUMENT_FIELDS]
        if unknown:
            raise JobError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(DOCUMENT_FIELDS)})")
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise JobError(f"{where}: field 'text' must be a non-empty string")
        if "id" in item and (problem := id_error(item["id"])):
            raise JobError(f"{where}: {problem}")
        fields = {k: v for k, v in item.items() if k != "id"}
        document_id = str(item.get("id", f"document-{n}"))
        if document_id in numbers:
            raise JobError(f"{where}: id {document_id!r} already used by document {numbers[document_id]}")
        numbers[document_id] = n
        try:
            documents.append(Document(id=document_id, **fields))
        except ValueError as error:
            raise JobError(f"{where}: {error}") from None
    return documents


def job_inputs(record: object, base: Path) -> tuple[list[Claim], list[Path | Document]]:
    """The claims and sources of one job record; ``JobError`` says what is wrong with it."""
    if not isinstance(record, dict):
        raise JobError(f"expected a JSON object, got {json_type_name(record)}")
    unknown = [k for k in record if k not in JOB_FIELDS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], JOB_FIELDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise JobError(f"unknown field {unknown[0]!r} ({hint}a job has: {', '.join(JOB_FIELDS)})")
    if "id" in record and (problem := id_error(record["id"])):
        raise JobError(problem)
    if "claims" not in record:
        raise JobError("missing field 'claims'")
    if "articles" not in record and "documents" not in record:
        raise JobError("missing field 'articles' (paths) or 'documents' (inline texts)")
    claims = _claims(record["claims"])
    sources: list[Path | Document] = []
    if "articles" in record:
        sources += _articles(record["articles"], base)
    if "documents" in record:
        sources += _documents(record["documents"])
    return claims, sources


def _job_lines(path: Path, encoding: str | None = None) -> Iterator[tuple[int, bytes]]:
    """(line number, UTF-8 bytes) of each non-blank line. A file in the ``encoding`` given, or of UTF-16 or UTF-32
    (its byte order mark says so, as Windows tools write it), is decoded whole, as its line breaks need not be
    single bytes; any other is read a line at a time, so that a line that is not UTF-8 is that job's error, not
    the batch's."""
    with path.open("rb") as handle:
        start = handle.read(4)
        if encoding is not None or start.startswith(_WIDE_BOMS):
            lines = decode_text(start + handle.read(), path, encoding).split("\n")
            yield from ((n, line.encode("utf-8")) for n, line in enumerate(lines, 1) if line.strip())
            return
        handle.seek(0)
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw.removeprefix(codecs.BOM_UTF8) if number == 1 else raw


def read_jobs(path: Path, encoding: str | None = None) -> Iterator[tuple[int, object | JobError]]:
    """(line number, parsed record or the reason it cannot be parsed) for each non-blank line."""
    for number, raw in _job_lines(path, encoding):
        try:
            yield number, parse_json(raw.decode("utf-8").rstrip("\r\n"))
        except UnicodeDecodeError as error:
            yield number, JobError(f"not UTF-8 (byte {error.start})")
        except json.JSONDecodeError as error:
            yield number, JobError(f"invalid JSON ({error.msg}, column {error.colno})")


def count_jobs(path: Path, encoding: str | None = None) -> int:
    try:
        return sum(1 for _ in _job_lines(path, encoding))
    except OSError as error:
        raise BatchError(f"{path}: cannot read: {error.strerror or error}") from None
    except IngestError as error:
        raise BatchError(str(error)) from None


def read_done(path: Path) -> tuple[Counter, int]:
    """(records written per id, how many of them are errors) of an earlier run's output.

    A last line without its newline is the one a kill cut short: it is removed from the file, and its
    job runs again. Any other line that is not one of our records stops the resume rather than risk
    changing somebody else's file.
    """
    done: Counter = Counter()
    failed = 0
    keep = 0  # bytes of complete lines
    with path.open("rb+") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                if not (raw.startswith(_RECORD_START) or _RECORD_START.startswith(raw)):
                    raise BatchError(f"{path}, line {number}: not a record of factcheck batch; not resuming into it")
                break
            try:
                record = parse_json(raw)
            except ValueError:  # JSON, UTF-8 or number errors alike
                record = None
            if not isinstance(record, dict) or "id" not in record or not ({"results", "error"} & record.keys()):
                raise BatchError(f"{path}, line {number}: not a record of factcheck batch; not resuming into it")
            done[record["id"]] += 1
            failed += "error" in record
            keep += len(raw)
        handle.truncate(keep)
    return done, failed


class BatchInterrupted(Exception):
    """Ctrl-C (SIGINT) stopped the batch between two records; the output holds whole records only."""

    def __init__(self, output: Path, written: int, total: int):
        super().__init__(
            f"interrupted: {output} holds the records of {written} of {total} jobs, each one whole; "
            "run the same command with --resume to continue"
        )


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Ctrl-C waits until the block is done (and then interrupts): a record is written wholly or not at all.

    A handler that only notes the signal, not a blocked signal mask: the mask is the calling thread's, so a Ctrl-C
    the kernel handed to another thread (the NLI runtime's) still interrupted the block, after the write but
    before the count (a test saw "1 of 12 jobs" with 2 records in the file).
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt


class _Output:
    """Append-only JSON lines, each one durable before the next job starts."""

    def __init__(self, path: Path):
        self.path = path
        self.records = 0  # written whole by this run
        existed = path.exists()
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise BatchError(f"{path}: cannot write: {error.strerror or error}") from None
        if not existed:
            # The new file's directory entry must survive a crash too, not only its contents.
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def write(self, record: dict) -> None:
        try:
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (a file name of bytes that are not UTF-8) is no UTF-8; JSON's \u escapes keep it.
            line = (json.dumps(record) + "\n").encode("ascii")
        data = memoryview(line)
        with _sigint_deferred():
            end = os.lseek(self.fd, 0, os.SEEK_END)
            try:
                while data:
                    data = data[os.write(self.fd, data) :]
                os.fsync(self.fd)
                # Counted before Ctrl-C can land (it does the moment the block ends), so that the count of whole
                # records an interruption reports is the file's.
                self.records += 1
            except OSError as error:
                # A full disk: take back the part of the record that got out (resume would drop it anyway).
                with suppress(OSError):
                    os.ftruncate(self.fd, end)
                raise BatchError(
                    f"{self.path}: cannot write: {error.strerror or error}; the records before it are kept: "
                    "make room and run the same command with --resume to continue"
                ) from None

    def close(self) -> None:
        os.close(self.fd)


@dataclass(frozen=True)
class Task:
    """One line of the jobs file still to be run: its parsed record, or why it cannot run."""

    number: int
    job_id: str | int
    record: object = None
    error: str | None = None
    encoding: str | None = None  # of the files the job names, as ``load_documents`` takes it


@dataclass(frozen=True)
class CheckerSettings:
    """How to build the checker that runs the jobs; an engine may build it in other processes or machines."""

    model: str | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    batch_size: int = 32
    backend: str = "auto"
    threads: int | None = None  # torch's choice when None

    def build(self) -> Checker:
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        return Checker(model=self.model, thresholds=self.thresholds, batch_size=self.batch_size, backend=self.backend)


def run_task(checker: Checker, jobs_path: Path, task: Task) -> dict:
    """The output record of one job: its report, or an error naming the line and what is wrong."""
    out: dict = {"id": task.job_id, "line": task.number}
    try:
        if task.error is not None:
            raise JobError(task.error)
        claims, sources = job_inputs(task.record, jobs_path.parent)
        # Jobs must not share NLI results or embeddings: a pair scored, or a document embedded, in another job's
        # batch differs in the last float bits (padding), and a resumed run would then not write what an
        # uninterrupted one did. Clearing also keeps memory flat over a long batch.
        checker.clear_cache()
        report = checker.check(claims, load_documents(sources, encoding=task.encoding))
    # The jobs file by its name, not as the command spelled its path: a resumed run writes the same bytes however
    # it is started, and the output names no folder of the machine that ran it.
    except (JobError, IngestError) as error:
        out["error"] = f"{jobs_path.name}, line {task.number}: {error}"
    except Exception as error:  # noqa: BLE001 -- one job's crash must not cost the night's other jobs
        out["error"] = f"{jobs_path.name}, line {task.number}: internal error ({type(error).__name__}: {error})"
    else:
        out |= report.to_dict()
    return out


class Engine(Protocol):
    def outputs(self, tasks: Iterable[Task], jobs_path: Path) -> Iterator[dict]:
        """One output record per task, in the order of the tasks, each yielded as soon as it can be."""
        ...


class LocalEngine:
    """Every job in this process, one after another, on one checker."""

    def __init__(self, checker: Checker):
        self.checker = checker

    def outputs(self, tasks: Iterable[Task], jobs_path: Path) -> Iterator[dict]:
        for task in tasks:
            yield run_task(self.checker, jobs_path, task)


def _check_output_place(path: Path) -> None:
    """An output that cannot be written is refused before any model loads, not after it."""
    if str(path) == "-":
        raise BatchError("--out -: batch writes a file, which --resume continues; name one (.jsonl)")
    if path.is_dir():
        raise BatchError(f"{path}: a folder; name the output file (.jsonl)")
    if path.exists() and not path.is_file():
        raise BatchError(f"{path}: not a regular file (a device or a pipe cannot be resumed); name a .jsonl file")
    if not path.parent.is_dir():
        raise BatchError(f"{path}: the folder {path.parent} does not exist")


def _lock(path: Path) -> int:
    """An exclusive lock on the output, held while this run may write or cut it: two runs writing one output
    (a second --resume started while the first still ran) interleaved their records."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as error:
        raise BatchError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise BatchError(f"{path}: another factcheck batch is writing it; wait for it, or choose another --out") from None
    return fd


class Batch:
    """A jobs file and its output, checked before any model loads; ``run`` does the jobs not yet done. ``encoding``
    is that of the jobs file and of the files its jobs name, as ``load_documents`` takes it."""

    def __init__(self, jobs_path: Path, out_path: Path, *, resume: bool = False, encoding: str | None = None):
        self.jobs_path, self.out_path, self.encoding = jobs_path, out_path, encoding
        self.total = count_jobs(jobs_path, encoding)
        _check_output_place(out_path)
        if out_path.exists() and out_path.resolve() == jobs_path.resolve():
            raise BatchError(f"{out_path} is the jobs file; choose another --out")
        if out_path.exists() and out_path.stat().st_size and not resume:
            raise BatchError(f"{out_path} already holds results: pass --resume to continue it, or choose another --out")
        self._lock = _lock(out_path) if out_path.exists() else None
        try:
            self._plan(resume)
        except BaseException:
            self.close()  # a batch refused here does not keep its output locked
            raise

    def _plan(self, resume: bool) -> None:
        """What the output holds already, and that it is this jobs file's."""
        jobs_path, out_path = self.jobs_path, self.out_path
        self.given_ids = {i for _, record in self._records() if (i := _given_id(record)) is not None}
        self.done, self.failed_before = read_done(out_path) if resume and out_path.exists() else (Counter(), 0)
        self.already_done = sum(self.done.values())
        if self.already_done > self.total:
            raise BatchError(
                f"{out_path} holds {self.already_done} records but {jobs_path} only {self.total} jobs: not its output"
            )
        if self.done:
            job_ids = Counter(_job_id(record, number, self.given_ids) for number, record in self._records())
            foreign = next((i for i, n in self.done.items() if n > job_ids[i]), None)
            if foreign is not None:
                raise BatchError(
                    f"{out_path} holds a record of job {foreign!r}, which {jobs_path} does not have (as often): "
                    "not its output; not resuming into it"
                )

    def _records(self) -> Iterator[tuple[int, object | JobError]]:
        return read_jobs(self.jobs_path, self.encoding)

    def tasks(self) -> Iterator[Task]:
        """The jobs not written yet, in order; a line that cannot run carries its error."""
        first_line: dict[str | int, int] = {}
        seen: Counter = Counter()
        for number, record in self._records():
            job_id = _job_id(record, number, self.given_ids)
            seen[job_id] += 1
            first_line.setdefault(job_id, number)
            if seen[job_id] <= self.done[job_id]:
                continue
            if isinstance(record, JobError):
                yield Task(number, job_id, error=str(record))
            elif seen[job_id] > 1:
                yield Task(number, job_id, error=f"id {job_id!r} already used by the job on line {first_line[job_id]}")
            else:
                yield Task(number, job_id, record, encoding=self.encoding)

    def close(self) -> None:
        """Let go of the output's lock (``run`` does when it ends)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def run(self, engine: Engine, *, show_progress: bool = False) -> BatchSummary:
        """Run the jobs not done yet on ``engine`` and append their records, each durable before the next."""
        from tqdm.auto import tqdm

        started = time.perf_counter()
        failed, ok = self.failed_before, self.already_done - self.failed_before
        claims_done = pairs_done = 0
        try:
            output = _Output(self.out_path)
            if self._lock is None:  # a new output: locked as soon as it exists
                self._lock = _lock(self.out_path)
        except BatchError:
            self.close()
            raise
        progress = tqdm(
            total=self.total,
            initial=self.already_done,
            unit="job",
            desc="batch",
            disable=not show_progress,
            dynamic_ncols=True,
        )
        try:
            for out in engine.outputs(self.tasks(), self.jobs_path):
                output.write(out)
                failed += "error" in out
                ok += "error" not in out
                claims_done += len(out.get("summary", ()))  # one summary entry a claim
                pairs_done += len(out.get("results", ()))
                rate = pairs_done / (time.perf_counter() - started)
                postfix = {"claims": claims_done, "pairs": pairs_done, "pairs/s": f"{rate:.1f}", "errors": failed}
                progress.set_postfix(postfix, refresh=False)
                progress.update()
        except KeyboardInterrupt:
            raise BatchInterrupted(self.out_path, self.already_done + output.records, self.total) from None
        finally:
            progress.close()
            output.close()
            self.close()
        return BatchSummary(self.out_path, self.total, self.already_done, ok, failed, time.perf_counter() - started)
