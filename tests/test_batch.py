"""``factcheck batch``: bad records become error rows, and a killed run resumes to exactly the uninterrupted output."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import REPO, SPANISH_ARTICLE, interruptible
from test_cli import run_cli

FERRY = REPO / "factcheck" / "examples" / "port-ellis-ferry.txt"
BRIDGE = "The bridge over the Tagus was closed on 4 May after engineers found cracks. It reopened in June."


def good_jobs(count: int) -> list[dict]:
    """Small jobs, alternating inline documents and an article path (relative to the jobs file)."""
    jobs = []
    for n in range(count):
        if n % 2:
            jobs.append(
                {
                    "id": f"ferry-{n}",
                    "claims": [f"The terminal cost {40 + n} million euros."],
                    "articles": ["ferry.txt"],
                }
            )
        else:
            claims = [
                f"The bridge was closed on {n + 1} May.",
                {"id": "cause", "claim": "Engineers found cracks in the bridge.", "desk": "transport"},
            ]
            jobs.append({"id": f"bridge-{n}", "claims": claims, "documents": [{"id": "bridge", "text": BRIDGE}]})
    return jobs


def write_jobs(folder: Path, lines: list[str]) -> Path:
    (folder / "ferry.txt").write_text(FERRY.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    jobs = folder / "jobs.jsonl"
    jobs.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return jobs


# (job line, what its error must say); None marks a good job.
BAD = [
    ('{"id": "broken", "claims": ["x"', "invalid JSON"),
    ('{"id": "no-claims", "articles": ["ferry.txt"]}', "missing field 'claims'"),
    ('{"id": "no-sources", "claims": ["A claim."]}', "missing field 'articles' (paths) or 'documents'"),
    ('{"id": "gone", "claims": ["A claim."], "articles": ["gone.txt"]}', "gone.txt: no such file or folder"),
    ('{"id": "binary", "claims": ["A claim."], "articles": ["binary.txt"]}', "binary.txt: binary file"),
    (
        '{"id": "blank", "claims": ["A claim."], "documents": [{"id": "d", "text": "  "}]}',
        "field 'text' must be a non-empty string",
    ),
    (
        '{"id": "empty-claim", "claims": [""], "documents": [{"text": "Some text."}]}',
        "claim 1: must be a non-empty string",
    ),
    (
        '{"id": "typo", "claim": ["A claim."], "articles": ["ferry.txt"]}',
        "unknown field 'claim' (did you mean 'claims'?",
    ),
    ("[1, 2, 3]", "expected a JSON object, got array"),
    ('{"id": "no-claim", "claims": [], "articles": ["ferry.txt"]}', "field 'claims' must be a non-empty array, got an empty array"),
    (
        '{"id": "twice", "claims": ["A claim."], "documents": [{"id": "d", "text": "One."}, {"id": "d", "text": "Two."}]}',
        "document 2: id 'd' already used by document 1",
    ),
    (
        '{"id": "half-emoji", "claims": ["The ferry \\ud83d resumes."], "documents": [{"text": "The ferry resumes."}]}',
        "invalid JSON (a lone surrogate escape",
    ),
    ('{"id": ' + "1" * 5000 + ', "claims": ["A claim."], "articles": ["ferry.txt"]}', "invalid JSON (Exceeds the limit"),
]


def bad_batch_lines() -> list[tuple[str, str | None]]:
    good = [(json.dumps(job), None) for job in good_jobs(4)]
    duplicate = (
        json.dumps(good_jobs(1)[0] | {"claims": ["Another claim."]}),
        "id 'bridge-0' already used by the job on line 1",
    )
    no_id = (json.dumps({"claims": ["Cracks were found."], "documents": [{"text": BRIDGE}]}), None)
    return [good[0], BAD[0], good[1], *BAD[1:5], duplicate, good[2], *BAD[5:], no_id, good[3]]


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def bad_batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-batch")
    lines = bad_batch_lines()
    jobs = write_jobs(folder, [line for line, _ in lines])
    out = folder / "results.jsonl"
    result = run_cli("batch", jobs, "--out", out, "--threads", "1")
    return jobs, lines, out, result


def test_bad_records_become_error_rows_and_the_batch_goes_on(bad_batch):
    jobs, lines, out, result = bad_batch
    assert result.returncode == 1, result.stderr
    rows = records(out)
    assert [row["line"] for row in rows] == list(range(1, len(lines) + 1))
    for row, (line, expected_error) in zip(rows, lines):
        number = row["line"]
        if expected_error is None:
            job = json.loads(line)
            assert row["id"] == job.get("id", f"line-{number}")
            assert "error" not in row
            assert len(row["results"]) == len(job["claims"]) * len(job.get("articles", job.get("documents")))
            given = {c["id"]: {k: v for k, v in c.items() if k not in ("id", "claim")} for c in job["claims"] if isinstance(c, dict)}
            assert all(r["claim"]["metadata"] == given[r["claim"]["id"]] for r in row["results"] if r["claim"]["id"] in given)
        else:
            assert set(row) == {"id", "line", "error"}
            assert row["error"].startswith(f"{jobs.name}, line {number}: ")
            assert expected_error in row["error"]
    good = sum(error is None for _, error in lines)
    summary = result.stderr.splitlines()[-1]
    assert summary.startswith(f"{out}: {len(lines)} jobs, {good} with results, {len(lines) - good} errors (")


def test_resume_after_a_cut_line_writes_what_an_uninterrupted_run_did(bad_batch, tmp_path):
    jobs, _, out, _ = bad_batch
    full = out.read_bytes()
    # Four whole lines and half the fifth, as a kill mid-write leaves them; line 8 repeats the id of line 1.
    ends = [i + 1 for i, byte in enumerate(full) if byte == ord("\n")]
    cut = tmp_path / "results.jsonl"
    cut.write_bytes(full[: ends[3] + (ends[4] - ends[3]) // 2])
    result = run_cli("batch", jobs, "--out", cut, "--resume", "--threads", "1")
    assert result.returncode == 1, result.stderr  # errors written before the interruption still count
    assert cut.read_bytes() == full
    assert "4 done by an earlier run" in result.stderr.splitlines()[-1]


def test_output_with_results_is_never_overwritten(bad_batch):
    jobs, _, out, _ = bad_batch
    before = out.read_bytes()
    result = run_cli("batch", jobs, "--out", out)
    assert result.returncode == 2
    assert f"{out} already holds results: pass --resume" in result.stderr
    assert out.read_bytes() == before


@pytest.mark.parametrize("content", ['{"something": "else"}\n', "a note without a newline"])
def test_resume_refuses_a_file_that_is_not_batch_output(tmp_path, content):
    jobs = write_jobs(tmp_path, [json.dumps(job) for job in good_jobs(2)])
    notes = tmp_path / "notes.jsonl"
    notes.write_text(content)
    result = run_cli("batch", jobs, "--out", notes, "--resume")
    assert result.returncode == 2
    assert f"{notes}, line 1: not a record of factcheck batch" in result.stderr
    assert notes.read_text() == content


def test_a_missing_jobs_file_is_named(tmp_path):
    result = run_cli("batch", tmp_path / "absent.jsonl", "--out", tmp_path / "out.jsonl")
    assert result.returncode == 2
    assert f"{tmp_path / 'absent.jsonl'}: cannot read" in result.stderr


@pytest.fixture(scope="module")
def twelve_jobs(tmp_path_factory) -> tuple[Path, bytes]:
    """A jobs file of twelve good jobs and what an uninterrupted run writes for it."""
    folder = tmp_path_factory.mktemp("twelve")
    jobs = write_jobs(folder, [json.dumps(job) for job in good_jobs(12)])
    uninterrupted = folder / "uninterrupted.jsonl"
    assert run_cli("batch", jobs, "--out", uninterrupted, "--threads", "1").returncode == 0
    return jobs, uninterrupted.read_bytes()


def _batch_stopped_after(jobs: Path, out: Path, records: int, stop) -> subprocess.Popen:
    """``factcheck batch`` started, and ``stop(process)`` called once ``out`` holds ``records`` lines."""
    command = [sys.executable, "-m", "factcheck.cli", "batch", str(jobs), "--out", str(out), "--threads", "1"]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible
    )
    deadline = time.monotonic() + 300
    while not (out.exists() and out.read_bytes().count(b"\n") >= records) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be stopped"
    stop(process)
    return process


def test_killed_with_sigkill_and_resumed_equals_an_uninterrupted_run(twelve_jobs, tmp_path):
    jobs, expected = twelve_jobs
    out = tmp_path / "killed.jsonl"
    process = _batch_stopped_after(jobs, out, 3, lambda p: p.kill())  # SIGKILL: no handler, no cleanup
    process.communicate()
    written = out.read_bytes()
    assert 3 <= written.count(b"\n") < 12 and expected.startswith(written[: written.rfind(b"\n") + 1])

    result = run_cli("batch", jobs, "--out", out, "--resume", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == expected

    again = run_cli("batch", jobs, "--out", out, "--resume", "--threads", "1")
    assert again.returncode == 0 and out.read_bytes() == expected
    assert "12 done by an earlier run" in again.stderr


def test_ctrl_c_stops_between_records_and_says_how_to_resume(twelve_jobs, tmp_path):
    jobs, expected = twelve_jobs
    out = tmp_path / "interrupted.jsonl"
    process = _batch_stopped_after(jobs, out, 2, lambda p: p.send_signal(signal.SIGINT))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    written = out.read_bytes()
    lines = written.count(b"\n")
    assert written.endswith(b"\n") and expected.startswith(written)  # whole records only, nothing to repair
    assert stderr.strip().splitlines()[-1] == (
        f"interrupted: {out} holds the records of {lines} of 12 jobs, each one whole; "
        "run the same command with --resume to continue"
    )
    result = run_cli("batch", jobs, "--out", out, "--resume", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == expected


class _FailingWrites:
    """``os`` as factcheck.scale.batch sees it, with ``write`` failing as a full disk does after ``allowed`` calls."""

    def __init__(self, allowed: int, error: int = errno.ENOSPC):
        self.allowed, self.error = allowed, error

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd, data):
        if self.allowed <= 0:
            written = os.write(fd, bytes(data[:10]))  # part of the record gets out before the disk is full
            assert written == 10
            raise OSError(self.error, os.strerror(self.error))
        self.allowed -= 1
        return os.write(fd, data)


@pytest.fixture(scope="module")
def small_batch(tmp_path_factory, nli_model):
    """Four jobs, the checker that runs them in this process, and what an uninterrupted run writes."""
    from factcheck.checker import Checker
    from factcheck.scale.batch import Batch, LocalEngine

    folder = tmp_path_factory.mktemp("small")
    jobs = write_jobs(folder, [json.dumps(job) for job in good_jobs(4)])
    engine = LocalEngine(Checker(nli_model))
    reference = folder / "reference.jsonl"
    Batch(jobs, reference).run(engine)
    return jobs, engine, reference.read_bytes()


def test_a_full_disk_is_a_clear_error_and_resume_finishes_the_output(small_batch, tmp_path, monkeypatch):
    import factcheck.scale.batch
    from factcheck.scale.batch import Batch, BatchError

    jobs, engine, expected = small_batch
    out = tmp_path / "results.jsonl"
    monkeypatch.setattr(factcheck.scale.batch, "os", _FailingWrites(allowed=2))
    with pytest.raises(BatchError) as failure:
        Batch(jobs, out).run(engine)
    assert str(failure.value) == (
        f"{out}: cannot write: No space left on device; the records before it are kept: "
        "make room and run the same command with --resume to continue"
    )
    assert out.read_bytes() == b"".join(expected.splitlines(keepends=True)[:2])  # the part-record was taken back

    monkeypatch.undo()
    summary = Batch(jobs, out, resume=True).run(engine)
    assert out.read_bytes() == expected
    assert (summary.already_done, summary.ok) == (2, 4)


def test_a_read_only_output_folder_is_a_clear_error(small_batch, tmp_path, monkeypatch):
    import factcheck.scale.batch
    from factcheck.scale.batch import Batch, BatchError

    jobs, engine, expected = small_batch
    out = tmp_path / "results.jsonl"
    read_only = _FailingWrites(allowed=0, error=errno.EROFS)

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    read_only.open = refuse
    monkeypatch.setattr(factcheck.scale.batch, "os", read_only)
    with pytest.raises(BatchError, match=f"^{re.escape(str(out))}: cannot write: Read-only file system$"):
        Batch(jobs, out).run(engine)
    monkeypatch.undo()
    Batch(jobs, out, resume=True).run(engine)
    assert out.read_bytes() == expected


def _stderr_on_a_terminal(*args) -> str:
    """What the command writes to its stderr when that is a terminal (160 columns)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # a terminal has a width
    process = subprocess.Popen(
        [sys.executable, "-m", "factcheck.cli", *map(str, args)], cwd=REPO, stderr=follower, stdout=subprocess.DEVNULL
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait()
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_only_and_not_with_quiet(tmp_path):
    jobs = write_jobs(tmp_path, [json.dumps(job) for job in good_jobs(3)])
    shown = _stderr_on_a_terminal("batch", jobs, "--out", tmp_path / "a.jsonl", "--threads", "1")
    assert "batch" in shown and "3/3" in shown and "pairs/s" in shown and "claims=5" in shown
    quiet = _stderr_on_a_terminal("batch", jobs, "--out", tmp_path / "b.jsonl", "--threads", "1", "--quiet")
    assert "pairs/s" not in quiet and "Loading" not in quiet
    assert quiet.strip().splitlines()[-1].startswith(f"{tmp_path / 'b.jsonl'}: 3 jobs, 3 with results, 0 errors")


def test_a_jobs_results_do_not_depend_on_the_jobs_before_it(tmp_path):
    from factcheck import Checker
    from factcheck.scale.batch import Task, run_task

    # Job a indexes the bridge article beside a long one; job b checks the bridge article alone. The sentences of
    # documents indexed together are encoded in shared padded batches, so b must not reuse a's index of it.
    long = " ".join(f"Harbour report {n}: the {n} fishing boats of the north quay were counted at dawn." for n in range(45))
    a = {"claims": ["The bridge reopened in June."], "documents": [{"id": "x", "text": BRIDGE}, {"id": "y", "text": long}]}
    b = {"claims": ["The bridge was closed after engineers found cracks."], "documents": [{"id": "x", "text": BRIDGE}]}
    jobs = tmp_path / "jobs.jsonl"
    checker = Checker()
    run_task(checker, jobs, Task(1, "a", a))
    after_a = run_task(checker, jobs, Task(2, "b", b))
    alone = run_task(Checker(model=checker.nli), jobs, Task(2, "b", b))
    assert after_a == alone


def test_a_job_without_an_id_never_takes_the_id_another_job_was_given(tmp_path):
    from factcheck.scale.batch import Batch

    job = {"claims": ["The bridge reopened."], "documents": [{"text": BRIDGE}]}
    jobs = write_jobs(tmp_path, [json.dumps(job | {"id": "line-3"}), json.dumps(job), json.dumps(job)])
    tasks = list(Batch(jobs, tmp_path / "out.jsonl").tasks())
    assert [(t.job_id, t.error) for t in tasks] == [("line-3", None), ("line-2", None), ("line-3 (no id)", None)]


@pytest.mark.parametrize(
    "out, message",
    [
        ("-", "--out -: batch writes a file"),
        (".", ": a folder; name the output file"),
        ("/dev/null", "/dev/null: not a regular file"),
        ("missing/out.jsonl", "the folder missing does not exist"),
    ],
)
def test_an_output_batch_cannot_write_is_refused_before_the_model_loads(tmp_path, out, message):
    from factcheck.scale.batch import Batch, BatchError

    jobs = write_jobs(tmp_path, [json.dumps(job) for job in good_jobs(1)])
    with pytest.raises(BatchError, match=re.escape(message)):
        Batch(jobs, Path(out))


def test_resume_refuses_the_output_of_another_jobs_file(small_batch, tmp_path):
    from factcheck.scale.batch import Batch, BatchError

    jobs, _, expected = small_batch
    other = write_jobs(tmp_path, [json.dumps(job | {"id": f"other-{n}"}) for n, job in enumerate(good_jobs(6))])
    out = tmp_path / "mixed.jsonl"
    out.write_bytes(expected)
    with pytest.raises(BatchError, match="holds a record of job 'bridge-0', which .* does not have"):
        Batch(other, out, resume=True)
    assert out.read_bytes() == expected
    Batch(jobs, out, resume=True).close()  # the refused run let go of the output


def test_two_runs_never_write_one_output_at_once(small_batch, tmp_path):
    from factcheck.scale.batch import Batch, BatchError

    jobs, engine, expected = small_batch
    out = tmp_path / "results.jsonl"
    out.write_bytes(expected.splitlines(keepends=True)[0])
    first = Batch(jobs, out, resume=True)
    with pytest.raises(BatchError, match="another factcheck batch is writing it"):
        Batch(jobs, out, resume=True)
    first.run(engine)
    assert out.read_bytes() == expected
    Batch(jobs, out, resume=True).close()  # the lock went with the run


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_a_jobs_file_saved_as_utf16_or_utf32_reads_as_its_utf8_twin(tmp_path, encoding):
    from factcheck.scale.batch import count_jobs, read_jobs

    lines = [json.dumps(job, ensure_ascii=False) for job in good_jobs(3)] + ['{"id": "ça", "claims": ["Ça va."], "documents": [{"text": "Ça va."}]}']
    plain = write_jobs(tmp_path, lines)
    wide = tmp_path / "wide.jsonl"
    wide.write_bytes("\r\n".join(lines).encode(encoding))
    assert list(read_jobs(wide)) == list(read_jobs(plain)) and count_jobs(wide) == 4


def test_a_jobs_file_and_its_articles_are_read_in_the_encoding_given(tmp_path):
    claim = "El coste total asciende a 45 millones de euros, según el ayuntamiento."
    (tmp_path / "noticia.txt").write_bytes(SPANISH_ARTICLE.encode("cp1252"))
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_bytes(json.dumps({"id": "año", "claims": [claim], "articles": ["noticia.txt"]}, ensure_ascii=False).encode("cp1252"))
    out = tmp_path / "out.jsonl"
    result = run_cli("batch", jobs, "--out", out, "--encoding", "cp1252", "--threads", "1")
    assert result.returncode == 0, result.stderr
    (record,) = records(out)
    assert record["id"] == "año" and record["results"][0]["claim"]["text"] == claim
    evidence = record["results"][0]["evidence"][0]
    assert evidence["text"] == SPANISH_ARTICLE[evidence["start"] : evidence["end"]] == claim
