"""The evaluation suite behind ``factcheck eval``: model-level and system-level benchmarks in one run.

Model level scores the NLI model on sentence pairs (``factcheck.evaluation.evaluate``);
system level runs claims against evidence or whole articles through the checker
and the two baselines (``factcheck.evaluation.benchmarks``). ``--quick`` runs a fixed
random sample of every set, small enough for CI.

Every number is deterministic on one machine: no sampling at inference, fixed
seeds for the quick samples. The run records the commit, the model, the sha256
of every data file it read and its own time, so a table can be traced back.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from factcheck.checker import Checker
from factcheck.evaluation.benchmarks import (
    METHODS,
    SYSTEM_SETS,
    MethodRun,
    confident_mistakes,
    fixed_sample,
    load_system_set,
    run_method,
    score_method,
)
from factcheck.evaluation.evaluate import evaluate_sets
from factcheck.nli.backends import resolve_backend
from factcheck.nli.data import SETS
from factcheck.nli.infer import NLIModel

MODEL_LEVEL = [
    "xnli-en-validation",
    "mnli-mismatched-hard",
    "snli-test-hard",
    "anli-r1",
    "anli-r2",
    "anli-r3",
    "negation-nli-mnli",
    "negation-nli-snli",
    "negation-nli-rte",
    "breaking-nli",
    "med",
    "dnc-function-words",
    "conjnli-dev",
    "esnli-test",
]
SYSTEM_LEVEL = list(SYSTEM_SETS)
QAGS_PARTS = ("qags-cnndm", "qags-xsum")
QAGS_POOLED = "qags (pooled)"
QUICK_PAIRS = 150
QUICK_ITEMS = 40
# FNC-1 bodies are whole articles: the checker reads every held-out pair (10,316), but the baselines' every-sentence
# and 400-token passes over them would take hours here, so in the full suite they take a fixed sample.
BASELINE_ITEMS = {"fnc-1-dev": 600}
MISTAKES_SHOWN = 10
QUICK_MISTAKES_SHOWN = 3  # each one costs up to 60 NLI calls of occlusion

# The data folder each model-level set is read from (for the sha256 record).
_MODEL_LEVEL_FOLDERS = {
    "xnli-en-validation": "xnli-en",
    "snli-test": "snli-test",
    "mnli-mismatched-hard": "mnli-mismatched-hard",
    "snli-test-hard": "snli-test-hard",
    "anli-r1": "anli",
    "anli-r2": "anli",
    "anli-r3": "anli",
    "negation-nli-mnli": "negation-nli",
    "negation-nli-snli": "negation-nli",
    "negation-nli-rte": "negation-nli",
    "breaking-nli": "breaking-nli",
    "fever-symmetric-test": "fever-symmetric",
    "healthver-dev": "healthver",
    "med": "med",
    "conjnli-dev": "conjnli",
    "esnli-test": "esnli",
    "dnc-function-words": "dnc",
    "cad-snli-test": "cad-snli",
}


@dataclass
class SuiteResult:
    models: list[str]
    data_dir: str
    quick: bool
    commit: str | None
    seconds: float
    machine: dict
    data_sha256: dict[str, str]
    model_level: list[dict] = field(default_factory=list)  # one per (model, set)
    system_level: list[dict] = field(default_factory=list)  # one per (model, set, method)
    mistakes: dict[str, list[dict]] = field(default_factory=dict)  # "model|set" -> the checker's worst mistakes
    # Per (model, set, method): the scores and gold labels the plots are drawn from (not written to JSON).
    plot_data: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("plot_data")
        return data


def split_benchmarks(names: list[str]) -> tuple[list[str], list[str]]:
    """(model-level, system-level) names; an unknown name is an error listing the known ones."""
    model, system = [], []
    for name in names:
        if name in SYSTEM_SETS:
            system.append(name)
        elif name in SETS or "/" in name:  # a hub dataset id is a model-level set of its own
            if name in SETS and SETS[name].use != "E":
                raise ValueError(f"{name} is a {SETS[name].use} set (training or development); evaluate on E sets")
            model.append(name)
        else:
            known = ", ".join(MODEL_LEVEL + [n for n, spec in SETS.items() if spec.use == "E" and n not in MODEL_LEVEL] + SYSTEM_LEVEL)
            raise ValueError(f"unknown benchmark {name!r}; known: {known}")
    return model, system


def portable_path(argument: str) -> str:
    """A path as a report may show it: relative to the working folder where it lies below it, else its last part
    after ".../": reports are shared, and a path of the machine that made them means nothing elsewhere."""
    path = Path(argument)
    if not argument or not path.is_absolute():
        return argument
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return f".../{path.name}"


def data_hashes(data_dir: Path, model_sets: list[str], system_sets: list[str]) -> dict[str, str]:
    folders = sorted({_MODEL_LEVEL_FOLDERS[n] for n in model_sets if n in _MODEL_LEVEL_FOLDERS} | {SYSTEM_SETS[n].folder for n in system_sets})
    hashes = {}
    for folder in folders:
        for path in sorted((data_dir / folder).rglob("*")):
            if path.is_file():
                hashes[str(path.relative_to(data_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, check=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, cwd=Path(__file__).parent)
        return out.stdout.strip() + ("+uncommitted changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def run_suite(
    models: list[str | None],
    data_dir: str | Path,
    benchmarks: list[str] | None = None,
    *,
    quick: bool = False,
    show_progress: bool = False,
    log=print,
) -> SuiteResult:
    import torch
    import transformers

    started = time.time()
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory {data_dir} does not exist; pass it with --data")
    # A set or model named twice (``-b qags -b qags``) is run and reported once.
    model_sets, system_sets = split_benchmarks(list(dict.fromkeys(benchmarks or MODEL_LEVEL + SYSTEM_LEVEL)))
    models = list(dict.fromkeys(models))
    result = SuiteResult(
        models=[],
        data_dir=portable_path(str(data_dir)),
        quick=quick,
        commit=git_commit(),
        seconds=0.0,
        machine={
            "platform": platform.platform(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "threads": torch.get_num_threads(),
            "backend": resolve_backend("auto"),
        },
        data_sha256=data_hashes(data_dir, model_sets, system_sets),
    )
    system_items = {name: load_system_set(name, data_dir, QUICK_ITEMS if quick else None) for name in system_sets}
    for model_arg in models:
        nli = NLIModel(model_arg)
        model_name = nli.display_name
        if model_name in result.models:  # the same checkpoint by another path
            log(f"{model_name}: given twice, evaluated once")
            continue
        result.models.append(model_name)
        for evaluation in evaluate_sets(nli, model_sets, data_dir, limit=QUICK_PAIRS if quick else None, show_progress=show_progress):
            log(f"{model_name} {evaluation.name}: accuracy {evaluation.accuracy:.3f}")
            result.model_level.append({"model": model_name, **evaluation.to_dict()})
        checker = Checker(nli, key_spans=False, show_progress=show_progress)
        runs = {}
        for name, items in system_items.items():
            for method in METHODS:
                method_items = items
                if method != "factcheck" and not quick and name in BASELINE_ITEMS:
                    method_items = fixed_sample(name, items, BASELINE_ITEMS[name])
                runs[name, method] = run = run_method(checker, method_items, method)
                _record(result, model_name, name, method_items, run, log)
                if method == "factcheck":
                    result.mistakes[f"{model_name}|{name}"] = confident_mistakes(
                        checker, items, run, QUICK_MISTAKES_SHOWN if quick else MISTAKES_SHOWN
                    )
        if all(part in system_items for part in QAGS_PARTS):
            # The QAGS target is on CNN/DM and XSum pooled, as SummaC and MiniCheck report it.
            items = [item for part in QAGS_PARTS for item in system_items[part]]
            for method in METHODS:
                parts = [runs[part, method] for part in QAGS_PARTS]
                pooled = MethodRun(method, *([x for run in parts for x in getattr(run, f)] for f in ("verdicts", "scores", "support")))
                _record(result, model_name, QAGS_POOLED, items, pooled, log)
    result.seconds = round(time.time() - started, 1)
    return result


def _record(result: SuiteResult, model: str, name: str, items: list, run: MethodRun, log) -> None:
    score = score_method(name, items, run)
    log(f"{model} {name} {run.method}: balanced accuracy {score.balanced_accuracy:.3f}")
    result.system_level.append({"model": model, **asdict(score)})
    result.plot_data[(model, name, run.method)] = {
        "scores": run.scores,
        "support": run.support,
        "gold": [item.gold for item in items],
    }
