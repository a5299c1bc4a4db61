from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

# Tests never reach the hub: the shipped model and the bundled encoder are local files.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA_DIR = SHARED / "data"
EXAMPLES_DIR = SHARED / "examples"
# An article of the kind legacy newsroom systems save as cp1252, too short for a confident guess of that encoding.
SPANISH_ARTICLE = (
    "El alcalde anunció el miércoles que el nuevo puente abrirá el próximo año. «Es un paso importante», dijo ante "
    "el pleno municipal. El coste total asciende a 45 millones de euros, según el ayuntamiento.\n"
)


@pytest.fixture(scope="session")
def nli_model():
    from factcheck.nli.infer import NLIModel

    return NLIModel()


@pytest.fixture(scope="session")
def float32_model(nli_model):
    """The checkpoint as transformers loads it; the default backend is bfloat16 on a CPU with AMX, where a
    probability moves in its third decimal with the batch it is padded in."""
    from factcheck.nli.infer import NLIModel

    return nli_model if nli_model.backend == "torch" else NLIModel(nli_model.name_or_path, backend="torch")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"public data not found at {DATA_DIR}")
    return DATA_DIR


def interruptible() -> None:
    """``preexec_fn`` of a child that a test interrupts with SIGINT, as Ctrl-C would. A shell starts a background
    job with SIGINT ignored, and Python keeps it ignored: run that way (``pytest ... &``), the child would never see
    the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
