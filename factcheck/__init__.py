"""factcheck: does each source support, contradict or not mention each claim, and where.

Importing the package is cheap: models load on first use.
"""

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "Checker": "factcheck.checker",
    "Claim": "factcheck.claims",
    "Document": "factcheck.ingest",
    "Report": "factcheck.report",
    "Thresholds": "factcheck.aggregate",
    "VerdictModel": "factcheck.aggregate",
    "NLIModel": "factcheck.infer",
    "LABELS": "factcheck.nli_data",
    "score_pairs": "factcheck.pairs",
    "read_pairs": "factcheck.pairs",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'factcheck' has no attribute {name!r}")
