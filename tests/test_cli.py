"""The ``factcheck`` command as a user runs it (a subprocess), on the shared examples."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import EXAMPLES_DIR, REPO, SPANISH_ARTICLE, interruptible

ARTICLES = EXAMPLES_DIR / "articles"
ARTICLE = ARTICLES / "tass-2022-01-22-us-written-response.txt"
CLAIMS = EXAMPLES_DIR / "claims.jsonl"
SUBCOMMANDS = ["score", "check", "compare", "extract", "batch", "eval", "models"]

needs_examples = pytest.mark.skipif(not ARTICLE.is_file(), reason=f"shared examples not found at {EXAMPLES_DIR}")


def run_cli(
    *args: str | Path, input: str | None = None, env: dict[str, str] | None = None, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess:
    """The command run the way a shell runs it, with the environment of the tests (model, offline hub) plus ``env``;
    ``preexec_fn`` runs in the child before the command starts."""
    command = [sys.executable, "-m", "factcheck.cli", *map(str, args)]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        command, check=False, capture_output=True, text=True, input=input, cwd=REPO, env=environment, preexec_fn=preexec_fn
    )


OUR_ARTICLE_TEXT = (REPO / "factcheck" / "examples" / "port-ellis-ferry.txt").read_text(encoding="utf-8")


def claim_ids() -> list[str]:
    return [json.loads(line)["id"] for line in CLAIMS.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("subcommand", [None, *SUBCOMMANDS])
def test_every_subcommand_has_help(subcommand):
    result = run_cli(*([subcommand] if subcommand else []), "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_shell_completion_is_offered():
    # Typer otherwise detects the shell from the parent process (none under nohup or some CI runners) and ignores
    # the argument; its own switch for tests makes --show-completion take the shell we name.
    result = run_cli("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert result.returncode == 0, result.stderr
    assert "complete" in result.stdout and "factcheck" in result.stdout.lower()


@needs_examples
@pytest.mark.parametrize("output", ["report.jsonl", "report.csv", "report.json"])
def test_check_writes_a_table_pandas_reads(tmp_path, output):
    out = tmp_path / output
    result = run_cli("check", "--claims", CLAIMS, "--articles", ARTICLES, "--out", out, "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    if out.suffix == ".json":
        data = json.loads(out.read_text())
        assert [s["claim_id"] for s in data["summary"]] == claim_ids()
        rows = pd.DataFrame.from_records(data["results"])
    elif out.suffix == ".csv":
        rows = pd.read_csv(out)
        assert {"claim_id", "document_id", "verdict", "confidence", "evidence", "key_span"} <= set(rows.columns)
        for evidence, key in rows[["evidence", "key_span"]].dropna().itertuples(index=False):
            assert key in evidence
        # The claims file's own fields are columns of their own, as given.
        expected = {json.loads(line)["id"]: json.loads(line)["evidence_contains"] for line in CLAIMS.read_text().splitlines() if line.strip()}
        given = {i: None if pd.isna(v) else v for i, v in zip(rows["claim_id"], rows["claim.evidence_contains"])}
        assert given == expected
    else:
        rows = pd.read_json(out, lines=True)
        assert all("expected" in claim["metadata"] for claim in rows["claim"])
    assert len(rows) == len(claim_ids())  # one row per claim and source; one source here
    assert set(rows["verdict"]) <= {"supported", "contradicted", "not_mentioned", "conflicting"}


@needs_examples
def test_check_reads_claims_from_stdin_and_prints_markdown():
    claims = "The Russia-NATO Council met in Brussels on January 12.\nUkraine has formally applied to join the European Union.\n"
    result = run_cli("check", "-c", "-", "-a", ARTICLE, "--format", "md", "--threads", "1", "--backend", "torch", input=claims)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| id | claim | source | verdict")
    assert len(lines) == 2 + 2
    assert lines[2].startswith("| claim-") and lines[3].startswith("| claim-")
    assert "European Union" in result.stdout


def test_check_names_an_unknown_backend():
    result = run_cli("check", "-c", "-", "-a", "x.txt", "--backend", "tensorrt", input="A claim.\n")
    assert result.returncode == 2
    assert "tensorrt" in result.stderr and "auto" in result.stderr


@needs_examples
def test_check_html_is_one_self_contained_file(tmp_path):
    out = tmp_path / "report.html"
    result = run_cli("check", "-c", CLAIMS, "-a", ARTICLE, "-o", out, "--threads", "1", "--support-threshold", "0.6")
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert html.startswith("<!doctype html>")
    assert 'class="card card-' in html and "<mark class=" in html
    assert "<script" not in html and "<link" not in html and "src=" not in html


def test_check_names_a_missing_article(tmp_path):
    (tmp_path / "claims.txt").write_text("A claim about something.\n")
    result = run_cli("check", "-c", tmp_path / "claims.txt", "-a", tmp_path / "nowhere.txt")
    assert result.returncode == 2
    assert f"{tmp_path / 'nowhere.txt'}: no such file or folder" in result.stderr


def test_check_names_the_broken_claims_line(tmp_path):
    (tmp_path / "claims.jsonl").write_text('{"claim": "Fine."}\n{"claim": \n')
    result = run_cli(
        "check", "-c", tmp_path / "claims.jsonl", "-a", REPO / "factcheck" / "examples" / "port-ellis-ferry.txt"
    )
    assert result.returncode == 2
    assert f"{tmp_path / 'claims.jsonl'}, line 2: invalid JSON" in result.stderr


@needs_examples
def test_compare_checks_both_directions(tmp_path):
    altered = tmp_path / "tass-altered.txt"
    altered.write_text(ARTICLE.read_text(encoding="utf-8").replace("on January 12", "on January 14"), encoding="utf-8")
    result = run_cli("compare", ARTICLE, altered, "--format", "json", "--threads", "1")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["document_a"], data["document_b"]) == (ARTICLE.stem, "tass-altered")
    directions = {(r["claim"]["document_id"], r["document_id"]) for r in data["results"]}
    assert directions == {(ARTICLE.stem, "tass-altered"), ("tass-altered", ARTICLE.stem)}
    by_id = {r["claim"]["id"]: r for r in data["results"]}
    assert any("January 12" in by_id[i]["claim"]["text"] for i in data["contradictions"])
    assert any("January 14" in by_id[i]["claim"]["text"] for i in data["contradictions"])
    assert data["agreements"]


@needs_examples
def test_extract_gives_claims_with_exact_spans():
    result = run_cli("extract", ARTICLE)
    assert result.returncode == 0, result.stderr
    claims = [json.loads(line) for line in result.stdout.splitlines()]
    text = ARTICLE.read_text(encoding="utf-8")
    assert len(claims) > 5
    for claim in claims:
        assert text[claim["start"] : claim["end"]] == claim["text"]
        assert claim["document_id"] == ARTICLE.stem
    assert any(c["speaker"] for c in claims)


def test_models_says_how_to_use_another():
    result = run_cli("models")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("default model: ")
    assert "--model" in result.stdout and "FACTCHECK_MODEL" in result.stdout


@needs_examples
def test_batch_on_the_examples(tmp_path):
    cases = [json.loads(line) for line in CLAIMS.read_text().splitlines() if line.strip()]
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        "".join(
            json.dumps({"id": case["id"], "claims": [case["claim"]], "articles": [str(ARTICLES)]}) + "\n"
            for case in cases[:3]
        )
    )
    out = tmp_path / "results.jsonl"
    result = run_cli("batch", jobs, "--out", out, "--threads", "1")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [case["id"] for case in cases[:3]]
    for record, case in zip(records, cases):
        (row,) = record["results"]
        assert (row["claim"]["text"], row["document_id"]) == (case["claim"], ARTICLE.stem)
    assert result.stderr.splitlines()[-1].startswith(f"{out}: 3 jobs, 3 with results, 0 errors (")
    assert pd.read_json(io.StringIO(out.read_text()), lines=True)["id"].tolist() == [case["id"] for case in cases[:3]]


def test_an_output_name_we_cannot_write_is_an_error_before_any_work(tmp_path):
    result = run_cli("check", "-c", "-", "-a", REPO / "factcheck/examples/port-ellis-ferry.txt", "--out", tmp_path / "report.xlsx", input="A claim.\n")
    assert result.returncode == 2
    assert "report.xlsx: cannot write .xlsx files" in result.stderr and ".jsonl" in result.stderr and ".html" in result.stderr
    assert not (tmp_path / "report.xlsx").exists()


def test_a_report_that_cannot_be_written_or_would_overwrite_an_input_fails_before_the_model_loads(tmp_path):
    (tmp_path / "articles").mkdir()
    ferry = tmp_path / "articles" / "ferry.md"
    ferry.write_text(OUR_ARTICLE_TEXT, encoding="utf-8")
    claims = tmp_path / "claims.jsonl"
    claims.write_text('{"claim": "The terminal cost 48 million euros."}\n', encoding="utf-8")
    cases = [
        (("check", "-c", claims, "-a", ferry, "-o", ferry), "that is an input of this run"),
        (("check", "-c", claims, "-a", tmp_path / "articles", "-o", claims), "that is an input of this run"),
        (("check", "-c", claims, "-a", tmp_path / "articles", "-o", ferry), "that is an input of this run"),
        (("compare", ferry, ferry, "-o", ferry), "that is an input of this run"),
        (("check", "-c", claims, "-a", ferry, "-o", tmp_path / "missing" / "r.md"), "no folder"),
        (("check", "-c", claims, "-a", ferry, "-o", tmp_path), "a folder; name the report file"),
        (("extract", ferry, "-o", tmp_path / "claims.xlsx"), "extract writes JSON lines; name the output .jsonl"),
        (("extract", ferry, "-o", ferry), "extract writes JSON lines; name the output .jsonl"),
    ]
    for args, message in cases:
        started = time.perf_counter()
        result = run_cli(*args, "--backend", "torch") if args[0] != "extract" else run_cli(*args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert time.perf_counter() - started < 8, args  # no model was loaded (that alone takes longer)
    assert ferry.read_text(encoding="utf-8") == OUR_ARTICLE_TEXT
    assert claims.read_text(encoding="utf-8") == '{"claim": "The terminal cost 48 million euros."}\n'


def test_an_article_without_claims_is_said_not_passed_over(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Hi.\nOk?\n", encoding="utf-8")
    result = run_cli("extract", short)
    assert result.returncode == 0 and result.stdout == ""
    assert f"warning: {short}: no check-worthy claims found" in result.stderr
    result = run_cli("compare", short, REPO / "factcheck/examples/port-ellis-ferry.txt", "--format", "json", "--backend", "torch")
    assert result.returncode == 0, result.stderr
    assert "warning: short: no check-worthy claims found, nothing of it was checked" in result.stderr
    assert "port-ellis-ferry: no check-worthy" not in result.stderr
    assert len(json.loads(result.stdout)["summary"]) == len(json.loads(result.stdout)["results"]) > 0


def test_the_learned_decision_is_one_flag_away():
    ferry = REPO / "factcheck/examples/port-ellis-ferry.txt"
    result = run_cli("check", "-c", "-", "-a", ferry, "--decision", "learned", input="The terminal cost 48 million euros.\n")
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["verdict"] == "supported"
    assert abs(sum(row["verdict_probabilities"].values()) - 1.0) < 1e-5
    assert row["confidence"] == row["verdict_probabilities"]["supported"]


def test_a_file_compared_with_itself_agrees_with_itself(tmp_path):
    ferry = REPO / "factcheck/examples/port-ellis-ferry.txt"
    result = run_cli("compare", ferry, ferry, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["document_b"] == "port-ellis-ferry (again)"
    assert report["results"] and not report["contradictions"]
    assert {r["verdict"] for r in report["results"]} == {"supported"}


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"\x00\x01\x02binary\xff\xfe", "binary file"),
        # too short for a confident guess of its encoding: an error naming the file, as an article gets
        ("Die Fähre fuhr pünktlich ab.\n".encode("latin-1"), "cannot determine text encoding"),
        ("\ufeffThe terminal cost 48 million euros.\n".encode("utf-8"), None),  # a BOM is no part of the claim
    ],
)
def test_claims_files_get_the_encoding_detection_and_errors_articles_get(tmp_path, content, expected):
    claims = tmp_path / "claims.txt"
    claims.write_bytes(content)
    result = run_cli("check", "-c", claims, "-a", REPO / "factcheck/examples/port-ellis-ferry.txt")
    if expected:
        assert result.returncode == 2 and str(claims) in result.stderr and expected in result.stderr
        assert "Traceback" not in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert not json.loads(result.stdout.splitlines()[0])["claim"]["text"].startswith("\ufeff")


def test_check_reads_articles_and_claims_in_the_encoding_given(tmp_path):
    article, claims = tmp_path / "noticia.txt", tmp_path / "claims.txt"
    article.write_bytes(SPANISH_ARTICLE.encode("cp1252"))
    claim = "El coste total asciende a 45 millones de euros, según el ayuntamiento."
    claims.write_bytes(f"{claim}\n".encode("cp1252"))
    refused = run_cli("check", "-c", claims, "-a", article)
    assert refused.returncode == 2 and f"{article}: cannot determine text encoding" in refused.stderr
    assert "give it with --encoding (e.g. cp1252, cp1250)" in refused.stderr
    result = run_cli("check", "-c", claims, "-a", article, "--encoding", "cp1252", "--threads", "1")
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["claim"]["text"] == claim and row["verdict"] == "supported"
    evidence = row["evidence"][0]
    assert evidence["text"] == SPANISH_ARTICLE[evidence["start"] : evidence["end"]] == claim


def test_extract_reads_a_cp1250_article_with_its_polish_letters(tmp_path):
    text = "Wójt gminy ogłosił w środę, że nowy most zostanie otwarty w przyszłym roku. Koszt wyniesie 45 mln zł.\n"
    article = tmp_path / "wiadomosc.txt"
    article.write_bytes(text.encode("cp1250"))
    result = run_cli("extract", article, "--encoding", "cp1250")
    assert result.returncode == 0, result.stderr
    claims = [json.loads(line) for line in result.stdout.splitlines()]
    assert [c["text"] for c in claims] == [
        "Wójt gminy ogłosił w środę, że nowy most zostanie otwarty w przyszłym roku.",
        "Koszt wyniesie 45 mln zł.",
    ]
    assert all(c["text"] == text[c["start"] : c["end"]] for c in claims)


@pytest.mark.parametrize(
    "command",
    [
        ["check", "-c", "{missing}", "-a", "{missing}"],
        ["compare", "{missing}", "{missing}"],
        ["extract", "{missing}"],
        ["batch", "{missing}", "-o", "{folder}/out.jsonl"],
        ["index", "add", "{folder}/archive", "{missing}"],
        ["score", "{missing}"],
    ],
)
def test_every_command_that_reads_text_files_refuses_an_unknown_encoding_before_reading(tmp_path, command):
    args = [a.format(missing=tmp_path / "missing.txt", folder=tmp_path) for a in command]
    result = run_cli(*args, "--encoding", "cp-1252")
    assert result.returncode == 2
    assert result.stderr == (
        "error: --encoding: unknown text encoding 'cp-1252' (a name Python knows, e.g. cp1252, cp1250, latin-1, utf-16)\n"
    )
    assert list(tmp_path.iterdir()) == []  # no archive, no batch output


def test_two_outlets_with_the_same_file_name_can_be_checked_and_compared(tmp_path):
    text = (REPO / "factcheck/examples/port-ellis-ferry.txt").read_text(encoding="utf-8")
    (tmp_path / "nyt").mkdir()
    (tmp_path / "wapo").mkdir()
    (tmp_path / "nyt" / "article.txt").write_text(text, encoding="utf-8")
    (tmp_path / "wapo" / "article.txt").write_text(text.replace("212 passengers", "120 passengers"), encoding="utf-8")
    checked = run_cli("check", "-c", "-", "-a", tmp_path / "nyt/article.txt", "-a", tmp_path / "wapo/article.txt", input="The first ferry carried 212 passengers.\n")
    assert checked.returncode == 0, checked.stderr
    assert [json.loads(line)["document_id"] for line in checked.stdout.splitlines()] == ["nyt/article", "wapo/article"]
    compared = run_cli("compare", tmp_path / "nyt/article.txt", tmp_path / "wapo/article.txt", "--format", "json")
    assert compared.returncode == 0, compared.stderr
    assert json.loads(compared.stdout)["document_a"] == "nyt/article"


def test_a_ctrl_c_that_lands_in_a_finalizer_still_stops_the_check(capsys):
    import typer

    from factcheck.cli import _whole_report_or_none

    class Finalised:  # what Python does when SIGINT's handler runs inside an object's __del__
        def __del__(self):
            raise KeyboardInterrupt

    with pytest.raises(typer.Exit) as stopped, _whole_report_or_none():
        Finalised()  # dropped at once: its __del__ runs here, and its KeyboardInterrupt cannot leave it
        for _ in range(1000):  # the check going on, where the interrupt is delivered again
            time.sleep(0.001)
    assert stopped.value.exit_code == 130
    err = capsys.readouterr().err
    assert "interrupted: nothing written" in err and "Exception ignored" not in err


@needs_examples
def test_ctrl_c_during_check_leaves_no_report_and_no_traceback(tmp_path):
    out = tmp_path / "report.json"
    # Enough claims (2,800) that the check is still running when Ctrl-C comes on a fast machine; the test waits
    # only until the interruption, so more claims cost it nothing.
    claims = tmp_path / "claims.txt"
    texts = [json.loads(line)["claim"] for line in CLAIMS.read_text().splitlines() if line.strip()]
    claims.write_text("".join(f"{text} ({n})\n" for n in range(400) for text in texts), encoding="utf-8")
    command = [sys.executable, "-m", "factcheck.cli", "check", "-c", str(claims), "-a", str(ARTICLES), "-o", str(out)]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible
    )
    time.sleep(6)  # past the imports, into loading the models or checking
    assert process.poll() is None, "the check ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    # 130 as the CLI exits; now and then (2 of 8 runs, after the message, cause not found yet) the process ends by
    # SIGINT instead. A shell shows both as status 130.
    assert process.returncode in (130, -signal.SIGINT), stderr
    assert stderr.strip().splitlines()[-1] == "interrupted: nothing written (the report is written once every claim is checked)"
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == [claims]  # neither the report nor a temporary file


def test_a_file_too_large_to_read_is_an_error_naming_it(tmp_path):
    huge = tmp_path / "dump.txt"
    with huge.open("wb") as handle:
        handle.truncate(2**30)  # 1 GiB, sparse: no disk used
    result = run_cli("check", "-c", "-", "-a", huge, input="A claim.\n")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {huge}: 1,024 MiB, over the 64 MiB factcheck reads from one file; split it (one article a file, or a .jsonl of records)"
    as_claims = run_cli("check", "-c", huge, "-a", REPO / "factcheck/examples/port-ellis-ferry.txt")
    assert as_claims.returncode == 2 and f"error: {huge}: 1,024 MiB" in as_claims.stderr


def test_reports_name_the_model_by_name_and_hash_never_by_a_local_path(tmp_path):
    out = tmp_path / "report.html"
    ferry = REPO / "factcheck/examples/port-ellis-ferry.txt"
    result = run_cli("check", "-c", "-", "-a", ferry, "-o", out, input="The terminal cost 48 million euros.\n")
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert re.search(r"model factcheck-nli-minilm-l6 \(sha256 [0-9a-f]{12}\)", html)
    assert str(REPO) not in html and str(Path.home()) not in html
    for committed in ("eval/RESULTS.md", "eval/report/report.html", "eval/report/report.md", "eval/report/results.json"):
        assert "/work/" not in (REPO / committed).read_text(encoding="utf-8")  # where our reports were made


@pytest.mark.parametrize(
    "args, named",
    [
        (("check", "-c", CLAIMS, "-a", ""), "-a"),
        (("check", "-c", CLAIMS, "--articles="), "--articles"),
        (("compare", REPO / "factcheck" / "examples" / "port-ellis-ferry.txt", " "), "argument 3 after factcheck"),
        (("extract", ""), "argument 2 after factcheck"),
    ],
)
def test_an_empty_argument_is_an_error_not_the_current_folder(args, named):
    # The shell gives "" for an unset variable; read as a path it is ".", every file of the working folder.
    result = run_cli(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert f"error: {named}: empty (an unset shell variable?)" in result.stderr
