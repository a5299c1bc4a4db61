"""What runs the NLI model: length-bucketed batches, and the bfloat16 and ONNX Runtime backends."""

from __future__ import annotations

import json

import numpy as np
import pytest

from factcheck.nli import backends
from factcheck.nli.backends import resolve_backend
from factcheck.nli.data import LABELS
from factcheck.nli.infer import NLIModel, length_batches

PAIRS = [
    ("The council will not raise parking fees this year.", "The council will raise parking fees this year."),
    ("A man is playing a guitar on stage.", "A man is playing an instrument."),
    ("A man is playing a guitar on stage.", "The man is famous in Japan."),
    ("The museum opened in 1990 after a decade of building work " * 12, "The museum opened in 1990."),
    ("Rescue teams evacuated 300 residents from two villages.", "Residents were evacuated."),
    ("The terminal cost 48 million euros.", "The terminal cost nothing."),
]


@pytest.fixture
def onnx_cache(tmp_path, monkeypatch):
    """Exports go to a fresh cache folder, so that the test sees the export being made."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "factcheck" / "onnx"


def test_length_batches_group_similar_lengths_within_both_limits():
    lengths = [5, 400, 7, 6, 120, 300, 8, 9, 500]
    batches = length_batches(lengths, max_pairs=3, max_tokens=600)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 600
    groups = [set(batch) for batch in batches]
    assert {0, 2, 3} in groups  # the three shortest are padded to 7 tokens, not to 500
    assert {8} in groups and {1} in groups  # two of the longest would exceed the budget together


def test_onnx_float32_gives_the_torch_probabilities(float32_model, onnx_cache):
    onnx = NLIModel(float32_model.name_or_path, backend="onnx")
    np.testing.assert_allclose(onnx.predict(PAIRS), float32_model.predict(PAIRS), atol=1e-4)


def test_onnx_int8_is_exported_once_and_agrees_with_torch(float32_model, onnx_cache):
    first = NLIModel(float32_model.name_or_path, backend="onnx-int8")
    (folder,) = onnx_cache.iterdir()
    made = {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}
    assert set(made) == {"model.onnx", "model-int8.onnx"}  # nothing half-written is left behind
    assert (folder / "model-int8.onnx").stat().st_size < (folder / "model.onnx").stat().st_size / 3

    again = NLIModel(float32_model.name_or_path, backend="onnx-int8")
    assert {path.name: path.stat().st_mtime_ns for path in folder.iterdir()} == made  # reused, not re-exported
    quantized, reference = again.predict(PAIRS), float32_model.predict(PAIRS)
    np.testing.assert_allclose(first.predict(PAIRS), quantized)
    # 8-bit weights keep clear answers; a borderline pair can change its label (on a CPU with avx512_vnni the
    # repeated museum premise goes from entailment 0.63 to contradiction 0.48), which is why auto never runs them.
    clear = reference.max(axis=1) >= 0.7
    assert clear.sum() >= 4
    assert [LABELS[i] for i in quantized[clear].argmax(axis=1)] == [LABELS[i] for i in reference[clear].argmax(axis=1)]
    # A probability moves by a few hundredths on average; a borderline pair moves more.
    assert np.abs(quantized - reference).mean() < 0.05


def test_bfloat16_stays_close_to_float32(float32_model):
    bf16 = NLIModel(float32_model.name_or_path, backend="torch-bf16").predict(PAIRS)
    reference = float32_model.predict(PAIRS)
    assert (bf16.argmax(axis=1) == reference.argmax(axis=1)).all()
    np.testing.assert_allclose(bf16, reference, atol=0.03)


def test_an_unknown_backend_is_a_clear_error(nli_model):
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'; choose one of auto, torch, torch-bf16, onnx, onnx-int8"):
        NLIModel(nli_model.name_or_path, backend="tensorrt")


@pytest.fixture
def fresh_choice(tmp_path, monkeypatch):
    """Backend choices are kept in a fresh cache folder and forgotten in memory, before and after the test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    backends.fastest.cache_clear()
    yield tmp_path / "factcheck" / backends.CHOICE_FILE
    backends.fastest.cache_clear()


@pytest.mark.parametrize(
    "flags, expected",
    [
        ({"avx2", "avx512_bf16", "avx512_vnni"}, ["torch-bf16", "onnx", "torch"]),  # AMD EPYC (Zen 4), some Xeons
        ({"avx2", "amx_bf16", "amx_int8"}, ["torch-bf16", "onnx", "torch"]),  # Intel Xeon, 4th generation on
        ({"avx2", "avx512_vnni"}, ["onnx", "torch"]),  # bfloat16 would be emulated: 0.2x float32, not worth a try
        (set(), ["onnx", "torch"]),
    ],
)
def test_auto_measures_only_the_paths_that_can_be_fast_on_this_cpu(flags, expected, monkeypatch):
    monkeypatch.setattr(backends, "cpu_features", lambda: {flag: flag in flags for flag in backends.CPU_FLAGS})
    assert backends.candidates() == expected


def test_auto_is_the_fastest_path_measured_once_per_machine(fresh_choice, monkeypatch):
    measured = []

    def fake_measure(paths):
        measured.append(paths)
        # As on the Intel Xeon with avx512_bf16 but no AMX: bfloat16 slower than float32, ONNX Runtime fastest.
        return {"torch-bf16": 72.0, "onnx": 127.0, "torch": 108.0}

    monkeypatch.setattr(backends, "measure", fake_measure)
    monkeypatch.setattr(backends, "candidates", lambda: ["torch-bf16", "onnx", "torch"])
    assert resolve_backend("auto") == "onnx"
    record = json.loads(fresh_choice.read_text())
    (entry,) = record.values()
    assert entry["choice"] == "onnx" and entry["pairs_per_second"]["torch-bf16"] == 72.0
    assert next(iter(record)).startswith(backends.cpu_description())  # keyed by the machine
    backends.fastest.cache_clear()  # a new process reads the file instead of measuring again
    assert resolve_backend("auto") == "onnx"
    assert len(measured) == 1
    assert resolve_backend("auto", device="cuda") == "torch"
    assert resolve_backend("torch-bf16") == "torch-bf16"  # a backend asked for by name is never second-guessed


def test_a_path_that_cannot_run_here_is_left_out_of_the_measurement(caplog):
    speeds = backends.measure(("torch", "no-such-backend"))
    assert set(speeds) == {"torch"} and speeds["torch"] > 0
    assert "no-such-backend could not be measured" in caplog.text


def test_the_default_is_resolved_and_on_record(nli_model):
    assert nli_model.backend == resolve_backend("auto")
    assert nli_model.backend != "auto"


def test_the_cpu_is_described_by_name_and_flags():
    from factcheck.nli.backends import CPU_FLAGS, cpu_description

    description = cpu_description()
    assert all(flag in description for flag in CPU_FLAGS)  # each either with or without


def test_batches_run_side_by_side_on_one_thread_each(float32_model, monkeypatch):
    import threading
    import time

    import torch

    pairs, previous = PAIRS * 2, torch.get_num_threads()
    active, seen, lock, run = [0], [], threading.Lock(), float32_model._run

    def watched(batch):
        with lock:
            active[0] += 1
            seen.append((active[0], torch.get_num_threads()))
        time.sleep(0.05)  # long enough for the other worker to start its own batch
        try:
            return run(batch)
        finally:
            with lock:
                active[0] -= 1

    try:
        torch.set_num_threads(1)
        one_thread = float32_model.predict(pairs, batch_size=2)
        torch.set_num_threads(2)
        monkeypatch.setattr(float32_model, "_run", watched)
        side_by_side = float32_model.predict(pairs, batch_size=2)
        assert torch.get_num_threads() == 2  # lowered for the call only
    finally:
        torch.set_num_threads(previous)
    assert max(concurrent for concurrent, _ in seen) == 2
    assert {threads for _, threads in seen} == {1}
    # Each batch on one thread, as with --threads 1: the same probabilities to the last bit.
    np.testing.assert_array_equal(side_by_side, one_thread)


def test_a_failing_batch_restores_the_thread_count(float32_model, monkeypatch):
    import torch

    previous = torch.get_num_threads()

    def broken(batch):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(float32_model, "_run", broken)
    try:
        torch.set_num_threads(2)
        with pytest.raises(RuntimeError, match="out of memory"):
            float32_model.predict(PAIRS, batch_size=2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
