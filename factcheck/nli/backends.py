"""Which runtime runs the NLI model: the backends, the CPU they run on, and what ``auto`` stands for.

``auto`` is the fastest path that keeps the answers. A path *qualifies* when it stays within 0.5 point of
float32 on XNLI-en validation and gives float32's verdicts on >= 99% of the quick evaluation's system-level checks
(``eval/bench.py`` measures both for every backend): ``torch`` (float32), ``torch-bf16`` and ``onnx`` (float32
ONNX Runtime) qualify on every CPU we measured; ``onnx-int8`` changes 3-4% of verdicts and never does.

Which qualifying path is fastest cannot be read off the CPU's flags. bfloat16 is fast only where the CPU
multiplies it in hardware, but having the instructions is not enough: on a 2-vCPU AMD EPYC with avx512_bf16,
``torch-bf16`` ran 1.6-2.8x float32 torch; on a 2-vCPU Intel Xeon with avx512_bf16 and avx512_fp16 but no AMX
exposed to the guest, the same code ran 0.7x, and ``onnx`` 1.2x (``python eval/bench.py``, commit 3e836fa).
Without bfloat16 in hardware it is emulated (0.2x on an AVX2-only EPYC, Zen 2), where ``onnx`` ran 1.4x.

So ``auto`` measures, once per machine: the candidates (``torch``; ``torch-bf16`` where the CPU has AMX or
avx512_bf16; ``onnx``) each run the same few hundred pairs of the bundled example on the shipped model, and the
fastest is kept in ``~/.cache/factcheck/backends.json`` (``$XDG_CACHE_HOME`` is honoured), keyed by the CPU's name
and flags, the thread count and the runtimes' versions. The first ``auto`` on a new machine costs a few seconds
(the ONNX export included); later ones read the file. A GPU gets ``torch``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime, timezone
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")

# The instruction sets that decide which path can be fast, as /proc/cpuinfo names them.
CPU_FLAGS = ("amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni", "avx_vnni", "avx512f", "avx2")

CHOICE_FILE = "backends.json"
# Rounds of the measurement; the best one counts (the first run of a shape compiles kernels, a neighbour's
# burst of work slows any one round).
ROUNDS = 3


def cpu_features() -> dict[str, bool]:
    """Which of ``CPU_FLAGS`` this CPU has: from /proc/cpuinfo on Linux, else from what torch's kernels detect."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith(("flags", "Features")):
                present = set(line.split(":", 1)[1].split())
                return {flag: flag in present for flag in CPU_FLAGS}
    import torch

    capability = torch.backends.cpu.get_cpu_capability()  # "AVX512", "AVX2", "DEFAULT", ...
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    return {
        flag: (flag.startswith("amx") and amx) or (flag == "avx512f" and capability == "AVX512")
        or (flag == "avx2" and capability in ("AVX2", "AVX512"))
        for flag in CPU_FLAGS
    }


def cpu_description() -> str:
    """The CPU's model name and which of the flags that decide the fast path it has, for benchmark headers."""
    import platform

    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    features = cpu_features()
    has = [flag for flag in CPU_FLAGS if features[flag]]
    lacks = [flag for flag in CPU_FLAGS if not features[flag]]
    return f"{name} (with {' '.join(has) or 'none of'}; without {' '.join(lacks) or 'none'})"


def candidates() -> list[str]:
    """The qualifying paths worth measuring on this CPU, in the order preferred when none can be measured."""
    features = cpu_features()
    bf16 = ["torch-bf16"] if features["amx_bf16"] or features["avx512_bf16"] else []
    return [*bf16, "onnx", "torch"]


def resolve_backend(backend: str, device: str = "cpu") -> str:
    """The backend that ``auto`` stands for here (see the module docstring); any other name stands for itself."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if device != "cpu":
        return "torch"
    import torch

    return fastest(tuple(candidates()), torch.get_num_threads())


def choice_file() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "factcheck" / CHOICE_FILE


def machine_key(threads: int) -> str:
    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "none"

    return f"{cpu_description()}; {threads} threads; torch {installed('torch')}; onnxruntime {installed('onnxruntime')}"


@lru_cache(maxsize=None)
def fastest(paths: tuple[str, ...], threads: int) -> str:
    """The fastest of ``paths`` on this machine with ``threads`` threads: as measured before and kept in
    ``choice_file()``, else measured now and kept."""
    key = machine_key(threads)
    path = choice_file()
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError):
        records = {}
    record = records.get(key)
    if record and record.get("candidates") == list(paths):
        return record["choice"]
    speeds = measure(paths)
    if not speeds:
        log.warning("no NLI backend could be measured here; using %s", paths[0])
        return paths[0]
    choice = max(speeds, key=speeds.get)
    records[key] = {
        "candidates": list(paths),
        "pairs_per_second": {name: round(speed, 1) for name, speed in speeds.items()},
        "choice": choice,
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    from factcheck.nli.onnx_backend import write_atomically

    write_atomically(path, lambda temporary: temporary.write_text(json.dumps(records, indent=1) + "\n"))
    log.info("NLI backend for this machine: %s (pairs/s measured: %s)", choice, records[key]["pairs_per_second"])
    return choice


def measurement_pairs() -> list[tuple[str, str]]:
    """Every claim of the bundled example against every sentence and two-sentence window of its article: the
    lengths of a real check (news passages against one-sentence claims)."""
    from factcheck.pipeline.ingest import Document
    from factcheck.pipeline.retrieve import make_passages
    from factcheck.pipeline.segment import split_sentences

    folder = Path(__file__).resolve().parents[1] / "examples"
    document = Document((folder / "port-ellis-ferry.txt").read_text(encoding="utf-8"), "port-ellis-ferry")
    claims = [json.loads(line)["claim"] for line in (folder / "claims.jsonl").read_text(encoding="utf-8").splitlines() if line]
    passages = make_passages(document, split_sentences(document), 2)
    return [(passage.text, claim) for passage in passages for claim in claims]


def measure(paths: tuple[str, ...]) -> dict[str, float]:
    """Pairs/s of each path on the shipped model; a path that cannot run here is left out, with a warning."""
    from factcheck.nli.infer import NLIModel

    pairs = measurement_pairs()
    speeds = {}
    for name in paths:
        try:
            model = NLIModel(backend=name)
            model.predict(pairs[:16])  # loads lazily built parts; not timed
            best = 0.0
            for _ in range(ROUNDS):
                started = time.perf_counter()
                model.predict(pairs)
                best = max(best, len(pairs) / (time.perf_counter() - started))
            speeds[name] = best
        except Exception as error:  # noqa: BLE001 -- any failure only rules that path out
            log.warning("NLI backend %s could not be measured here, so auto will not pick it: %s", name, error)
    return speeds
