"""``factcheck batch --engine ray``: on a Ray instance the test starts, the local engine's output, record for record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO
from test_batch import good_jobs, write_jobs
from test_cli import run_cli

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    """A one-machine Ray cluster of our own, reached by address as a real one would be; stopped afterwards."""
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="error")
    yield context.address_info["gcs_address"]
    ray.shutdown()


@pytest.fixture(scope="module")
def jobs_and_local(tmp_path_factory):
    """Two good jobs (an article file and an inline text) and a bad one, run by the local engine."""
    folder = tmp_path_factory.mktemp("ray-batch")
    bad = json.dumps({"id": "gone", "claims": ["A claim."], "articles": ["gone.txt"]})
    jobs = write_jobs(folder, [json.dumps(good_jobs(2)[1]), bad, json.dumps(good_jobs(1)[0])])
    local = folder / "local.jsonl"
    result = run_cli("batch", jobs, "--out", local, "--threads", "1")
    assert result.returncode == 1, result.stderr
    return jobs, local


def test_ray_engine_writes_what_the_local_engine_writes(cluster, jobs_and_local, tmp_path):
    jobs, local = jobs_and_local
    out = tmp_path / "ray.jsonl"
    result = run_cli("batch", jobs, "--out", out, "--engine", "ray", "--address", cluster, "--threads", "1")
    assert result.returncode == 1, result.stderr  # the bad job is an error record, as locally
    assert out.read_bytes() == local.read_bytes()
    assert result.stderr.splitlines()[-1].startswith(f"{out}: 3 jobs, 2 with results, 1 errors (")


def test_ray_engine_resumes_a_cut_output_like_the_local_engine(cluster, jobs_and_local, tmp_path):
    jobs, local = jobs_and_local
    full = local.read_bytes()
    first_end = full.index(b"\n") + 1
    out = tmp_path / "ray.jsonl"
    out.write_bytes(full[: first_end + 40])  # one whole record and the start of the next, as a kill leaves them
    result = run_cli("batch", jobs, "--out", out, "--resume", "--engine", "ray", "--address", cluster, "--threads", "1")
    assert result.returncode == 1, result.stderr
    assert out.read_bytes() == full
    assert "1 done by an earlier run" in result.stderr.splitlines()[-1]


def test_ray_options_need_the_ray_engine(tmp_path):
    jobs = write_jobs(tmp_path, [json.dumps(good_jobs(1)[0])])
    result = run_cli("batch", jobs, "--out", tmp_path / "out.jsonl", "--address", "127.0.0.1:6379")
    assert result.returncode == 2
    assert "--address and --actors go with --engine ray" in result.stderr


def test_an_unreachable_cluster_is_one_clear_error(tmp_path):
    jobs = write_jobs(tmp_path, [json.dumps(good_jobs(1)[0])])
    out = tmp_path / "out.jsonl"
    result = run_cli("batch", jobs, "--out", out, "--engine", "ray", "--address", "127.0.0.1:9", "--threads", "1")
    assert result.returncode == 2
    assert "cannot start or reach Ray at 127.0.0.1:9" in result.stderr.splitlines()[-1]
    assert not out.exists() or not out.read_bytes()


def _actor_processes() -> list[int]:
    """The PIDs of the batch's Ray actors on this machine (Ray names its worker processes after the actor)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:  # gone, or not a process
            continue
        if b"MapBatches(_JobRunner)" in command:
            pids.append(int(entry.name))
    return pids


def test_a_killed_actor_costs_nothing_and_the_output_is_the_local_one(cluster, tmp_path):
    jobs = write_jobs(tmp_path, [json.dumps(job) for job in good_jobs(8)])
    local = tmp_path / "local.jsonl"
    assert run_cli("batch", jobs, "--out", local, "--threads", "1").returncode == 0

    out = tmp_path / "ray.jsonl"
    command = [sys.executable, "-m", "factcheck.cli", "batch", str(jobs), "--out", str(out), "--engine", "ray"]
    command += ["--address", cluster, "--threads", "1"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out.exists() and out.read_bytes().count(b"\n") >= 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    victims = _actor_processes()
    assert victims and process.poll() is None, "the batch ended before an actor could be killed"
    os.kill(victims[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=600)

    # Ray restarts the actor and retries its job; were the batch to fail instead, --resume must finish it.
    if process.returncode != 0:
        assert "error:" in stderr.splitlines()[-1]
        result = run_cli("batch", jobs, "--out", out, "--resume", "--engine", "ray", "--address", cluster, "--threads", "1")
        assert result.returncode == 0, result.stderr
    assert out.read_bytes() == local.read_bytes()
