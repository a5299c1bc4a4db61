from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO

EXAMPLE = REPO / "factcheck" / "examples" / "pairs.jsonl"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "factcheck.cli", *args], capture_output=True, text=True, cwd=REPO)


def test_score_the_shipped_example():
    result = run_cli("score", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [json.loads(line)["id"] for line in EXAMPLE.read_text().splitlines()]
    by_id = {r["id"]: r for r in rows}
    assert by_id["council-negation"]["label"] == "contradiction"
    assert by_id["budget-paraphrase"]["label"] == "entailment"
    for r in rows:
        assert abs(sum(r["probabilities"].values()) - 1) < 1e-3


def test_table_format():
    result = run_cli("score", str(EXAMPLE), "--format", "table")
    assert result.returncode == 0, result.stderr
    assert "council-negation" in result.stdout and "contradiction" in result.stdout


def test_a_broken_line_is_reported_with_file_and_line(tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"premise": "A.", "hypothesis": "B."}\n{"premise": "A.", "hypothesis": \n')
    result = run_cli("score", str(bad))
    assert result.returncode == 2
    assert f"{bad}, line 2: invalid JSON" in result.stderr


def test_a_missing_field_is_reported(tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"premise": "A."}\n')
    result = run_cli("score", str(bad))
    assert result.returncode == 2
    assert "line 1: field 'hypothesis' must be a non-empty string" in result.stderr


def test_duplicate_ids_and_a_folder_that_is_no_model_are_errors(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"id": "p1", "premise": "A b.", "hypothesis": "C d."}\n{"id": "p1", "premise": "E f.", "hypothesis": "G h."}\n')
    result = run_cli("score", pairs)
    assert result.returncode == 2 and f"{pairs}, line 2: id 'p1' already used on line 1" in result.stderr
    pairs.write_text('{"premise": "A b.", "hypothesis": "C d."}\n')
    (tmp_path / "empty").mkdir()
    result = run_cli("score", pairs, "--model", tmp_path / "empty")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{tmp_path / 'empty'}: not a model that can be loaded here" in result.stderr
    assert run_cli("score", pairs, "--batch-size", "0").returncode == 2


def test_a_pairs_file_is_read_in_the_encoding_given(tmp_path):
    pair = {"premise": "El alcalde anunció el miércoles que el puente abrirá.", "hypothesis": "El puente abrirá."}
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_bytes((json.dumps(pair, ensure_ascii=False) + "\n").encode("cp1252"))
    result = run_cli("score", pairs, "--encoding", "cp1252")
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["premise"], row["hypothesis"]) == (pair["premise"], pair["hypothesis"])


def test_the_users_own_label_is_kept_and_text_is_shown_as_written(tmp_path):
    pairs = tmp_path / "gold.jsonl"
    pairs.write_text(
        '{"id": 2, "premise": "A man is sleeping.", "hypothesis": "A man is awake [citation needed].", "label": "entailment"}\n'
        '{"premise": "A man sleeps.", "hypothesis": "closing [/] tag"}\n'
    )
    result = run_cli("score", pairs)
    assert result.returncode == 0, result.stderr  # the second pair's number is no id the user gave
    first, second = map(json.loads, result.stdout.splitlines())
    assert first["given_label"] == "entailment" and first["label"] in ("entailment", "neutral", "contradiction")
    assert (first["id"], second["id"]) == (2, "2 (no id)")  # a numbered pair never takes an id the user gave
    table = run_cli("score", pairs, "--format", "table")
    assert table.returncode == 0, table.stderr
    assert "[citation" in table.stdout and "needed]" in table.stdout and "[/]" in table.stdout  # (the column may wrap)


def test_models_names_the_shipped_checkpoint_as_reports_do(tmp_path):
    result = run_cli("models")
    assert result.returncode == 0
    assert "in reports:    factcheck-nli-minilm-l6 (sha256 " in result.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "factcheck.cli", "models"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "FACTCHECK_MODEL": str(tmp_path / "none")},
    )
    assert missing.returncode == 2 and "the default model is missing" in missing.stderr


def test_a_record_holding_both_label_and_given_label_is_an_error_not_a_lost_label(tmp_path):
    pairs = tmp_path / "gold.jsonl"
    pairs.write_text('{"premise": "A man eats.", "hypothesis": "Nobody eats.", "label": "contradiction", "given_label": "x"}\n')
    result = run_cli("score", pairs)
    assert result.returncode == 2 and f"{pairs}, line 1: fields 'label' and 'given_label' both given" in result.stderr
