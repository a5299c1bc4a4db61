"""factcheck: does each source support, contradict or not mention each claim, and where.

Importing the package is cheap: models load on first use.
"""

import importlib.abc
import importlib.util
import sys
import warnings
from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "Archive": "factcheck.scale.archive",
    "Checker": "factcheck.checker",
    "Claim": "factcheck.pipeline.claims",
    "Document": "factcheck.pipeline.ingest",
    "Report": "factcheck.results",
    "Thresholds": "factcheck.pipeline.aggregate",
    "VerdictModel": "factcheck.pipeline.aggregate",
    "NLIModel": "factcheck.nli.infer",
    "LABELS": "factcheck.nli.data",
    "score_pairs": "factcheck.nli.pairs",
    "read_pairs": "factcheck.nli.pairs",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'factcheck' has no attribute {name!r}")


# Modules that moved when the package was grouped by role (0.2). Old imports keep working for one release, with a
# DeprecationWarning naming the new place.
_MOVED = {
    "factcheck.ingest": "factcheck.pipeline.ingest",
    "factcheck.segment": "factcheck.pipeline.segment",
    "factcheck.claims": "factcheck.pipeline.claims",
    "factcheck.retrieve": "factcheck.pipeline.retrieve",
    "factcheck.mismatch": "factcheck.pipeline.mismatch",
    "factcheck.aggregate": "factcheck.pipeline.aggregate",
    "factcheck.infer": "factcheck.nli.infer",
    "factcheck.onnx_backend": "factcheck.nli.onnx_backend",
    "factcheck.calibration": "factcheck.nli.calibration",
    "factcheck.nli_data": "factcheck.nli.data",
    "factcheck.pairs": "factcheck.nli.pairs",
    "factcheck.report": "factcheck.results",
    "factcheck.html": "factcheck.output.html",
    "factcheck.benchmarks": "factcheck.evaluation.benchmarks",
    "factcheck.eval_suite": "factcheck.evaluation.suite",
    "factcheck.evaluate": "factcheck.evaluation.evaluate",
    "factcheck.eval_report": "factcheck.evaluation.report",
    "factcheck.batch": "factcheck.scale.batch",
    "factcheck.ray_engine": "factcheck.scale.ray_engine",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in _MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new_name = _MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new_name}; import it from there", DeprecationWarning, stacklevel=2)
        return import_module(new_name)

    def exec_module(self, module):
        pass


sys.meta_path.append(_MovedModuleFinder())
