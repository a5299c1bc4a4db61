from __future__ import annotations

import json
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


def test_models_names_the_shipped_checkpoint():
    result = run_cli("models")
    assert result.returncode == 0
    assert "factcheck-nli-minilm-l6 (present)" in result.stdout
