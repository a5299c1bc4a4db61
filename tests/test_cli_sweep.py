"""Every input a user can give the command line ends in a result or in a clear error: a property-based sweep.

Hypothesis generates claims files, jobs files, article files of every supported type and output paths; the real
command runs on each (typer's runner, in this process, so that a traceback is caught as the exception it is). Every
case must end either with exit status 0 and a complete output, or with a non-zero status and an error naming the
file, and never with a traceback, a hang or a part-written output record.
"""

from __future__ import annotations

import codecs
import json
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import REPO
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from factcheck.cli import app

FERRY = REPO / "factcheck" / "examples" / "port-ellis-ferry.txt"
SWEEP = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
SECONDS_PER_CASE = 120  # a hang is a failure, not a stuck CI run

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"]
FIELDS = ["id", "claim", "text", "claims", "articles", "documents", "title", "date", "source", "url", "x"]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=4), inner, max_size=4),
    max_leaves=10,
)
sentences = st.sampled_from(
    [
        "The terminal cost 48 million euros.",
        "The first ferry carried 212 passengers.",
        "Mayor Ana Ribeiro opened the terminal.",
        "Das Terminal wurde pünktlich eröffnet.",
        "终点站于周一开放。",
        "",
        "   ",
    ]
)
huge = st.just("The terminal cost 48 million euros and " * 3000)
deep = st.integers(min_value=500, max_value=200_000).map(lambda depth: "[" * depth + "]" * depth)


def claims_records() -> st.SearchStrategy[str]:
    """A line of a claims file: a record of the right shape with values of any type, or any JSON at all."""
    record = st.fixed_dictionaries(
        {"claim": sentences | huge | json_values}, optional={"id": json_values | sentences, "text": json_values}
    )
    return (record | json_values).map(lambda value: json.dumps(value, ensure_ascii=False)) | deep


def job_records() -> st.SearchStrategy[str]:
    document = st.fixed_dictionaries({"text": sentences | json_values}, optional={"id": json_values, "date": json_values})
    job = st.fixed_dictionaries(
        {"claims": st.lists(sentences | json_values, max_size=3) | json_values},
        optional={
            "id": json_values | st.sampled_from(["j1", "j2"]),
            "articles": st.lists(st.sampled_from(["ferry.txt", "missing.txt", "", "/", "."]), max_size=2) | json_values,
            "documents": st.lists(document, max_size=2) | json_values,
        },
    )
    return (job | json_values).map(lambda value: json.dumps(value, ensure_ascii=False)) | deep


def encoded(lines: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """A file of such lines in some encoding (those that cannot encode a line replace it), or any bytes."""
    text = st.lists(lines | sentences, min_size=0, max_size=4).map("\n".join)
    as_bytes = st.tuples(text, st.sampled_from(ENCODINGS)).map(lambda t: codecs.encode(t[0], t[1], "replace"))
    return as_bytes | st.binary(max_size=300)


broken_html = st.sampled_from(
    [
        "<html><body><p>The terminal cost 48 million euros.</p>",
        "<html><head><title>x</title></head><body></body></html>",
        "<<<>>><p",
        "<p>The first ferry carried 212 passengers.</p>" * 3,
        "<script>alert(1)</script>",
    ]
)
article_contents = {
    ".txt": encoded(sentences),
    ".md": encoded(sentences),
    ".html": broken_html.map(str.encode) | st.binary(max_size=200),
    ".htm": broken_html.map(str.encode),
    ".json": encoded(claims_records()),
    ".jsonl": encoded(job_records()),
}
articles = st.sampled_from(sorted(article_contents)).flatmap(lambda s: st.tuples(st.just(s), article_contents[s]))


class Hang(BaseException):
    """Raised in a command that runs too long; a BaseException, so that no handler of the command catches it."""


@contextmanager
def time_limit(seconds: int):
    def hang(signum, frame):
        raise Hang(f"the command ran over {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(*args: str | Path, input: bytes | None = None):
    with time_limit(SECONDS_PER_CASE):
        result = CliRunner().invoke(app, [*map(str, args), "--quiet"], input=input, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback for {args}: {result.stderr}") from result.exception
    event(f"exit status {result.exit_code}")  # pytest --hypothesis-show-statistics: how many cases get how far
    return result


def assert_clear_error(result, *names: str) -> None:
    """A non-zero exit with one line that starts with 'error:' and names one of the files."""
    assert result.exit_code != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: "), result.stderr
    assert any(name in message for name in names), f"{message!r} names none of {names}"


def assert_whole_output(text: str, output_format: str) -> None:
    if output_format == "json":
        json.loads(text)
    else:
        for line in text.splitlines():
            json.loads(line)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "ferry.txt").write_text(FERRY.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


@SWEEP
@given(content=encoded(claims_records()), on_stdin=st.booleans())
def test_claims_files(folder, content, on_stdin):
    claims = folder / "claims.jsonl"
    claims.write_bytes(content)
    source = ["-c", "-"] if on_stdin else ["-c", claims]
    result = run("check", *source, "-a", folder / "ferry.txt", input=content if on_stdin else None)
    if result.exit_code == 0:
        assert_whole_output(result.stdout, "jsonl")
    else:
        assert_clear_error(result, "<stdin>" if on_stdin else str(claims))


@SWEEP
@given(article=articles)
def test_article_files(folder, article):
    suffix, content = article
    path = folder / f"article{suffix}"
    path.write_bytes(content)
    result = run("check", "-c", "-", "-a", path, input=b"The terminal cost 48 million euros.\n")
    if result.exit_code == 0:
        assert_whole_output(result.stdout, "jsonl")
    else:
        assert_clear_error(result, str(path))


@SWEEP
@given(content=encoded(job_records()))
def test_jobs_files(folder, content):
    jobs = folder / "jobs.jsonl"
    out = folder / "out.jsonl"
    jobs.write_bytes(content)
    out.unlink(missing_ok=True)
    result = run("batch", jobs, "--out", out)
    if result.exit_code == 2:
        assert_clear_error(result, str(jobs), str(out))
        return
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert result.exit_code == (1 if any("error" in r for r in records) else 0)
    for record in records:  # one whole record a job; errors name the jobs file and the line
        assert "results" in record or record["error"].startswith(f"{jobs.name}, line {record['line']}: ")


def _unwritable(folder: Path) -> dict[str, Path]:
    (folder / "a-folder.json").mkdir(exist_ok=True)
    return {
        "a folder": folder / "a-folder.json",
        "a missing folder": folder / "missing" / "report.json",
        "under a file": folder / "ferry.txt" / "report.json",
        "read-only file system": Path("/proc/report.json"),
        "unknown format": folder / "report.xlsx",
    }


UNWRITABLE = ["a folder", "a missing folder", "under a file", "read-only file system", "unknown format"]


@settings(SWEEP, max_examples=15)
@given(case=st.sampled_from(UNWRITABLE), command=st.sampled_from(["check", "compare", "batch"]))
def test_output_paths_that_cannot_be_written(folder, case, command):
    out = _unwritable(folder)[case]
    if command == "check":
        result = run("check", "-c", "-", "-a", folder / "ferry.txt", "-o", out, input=b"The terminal cost 48 million euros.\n")
    elif command == "compare":
        result = run("compare", folder / "ferry.txt", folder / "ferry.txt", "-o", out)
    else:
        jobs = folder / "one-job.jsonl"
        jobs.write_text(json.dumps({"claims": ["A claim."], "documents": [{"text": "A text."}]}) + "\n", encoding="utf-8")
        result = run("batch", jobs, "-o", out)
    assert_clear_error(result, str(out))
