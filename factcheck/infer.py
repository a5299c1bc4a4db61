"""NLI inference: (premise, hypothesis) pairs -> calibrated probabilities.

``NLIModel`` loads any Hugging Face sequence-classification NLI checkpoint by
name or path (the shipped default when none is given) and reads the label order
from the checkpoint's own ``id2label``: ``roberta-large-mnli`` puts
contradiction first, ``cross-encoder/nli-deberta-v3-base`` puts entailment
second, ours puts entailment first. Probabilities always come back in
``LABELS`` order.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from factcheck.nli_data import LABELS

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "factcheck-nli-minilm-l6"
CALIBRATION_FILE = "calibration.json"

# How checkpoints on the hub spell our three labels.
_LABEL_SPELLINGS = {
    "entailment": "entailment",
    "entail": "entailment",
    "entailed": "entailment",
    "neutral": "neutral",
    "contradiction": "contradiction",
    "contradict": "contradiction",
    "contradictory": "contradiction",
}


def default_model_path() -> Path:
    """The shipped checkpoint: ``$FACTCHECK_MODEL`` if set, else ``models/<name>`` of this source tree."""
    override = os.environ.get("FACTCHECK_MODEL")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "models" / DEFAULT_MODEL_NAME


def label_order(id2label: dict) -> list[int]:
    """For each of ``LABELS``, the index of the checkpoint output that means it."""
    by_name = {}
    for index, name in id2label.items():
        canonical = _LABEL_SPELLINGS.get(str(name).strip().lower())
        if canonical:
            by_name[canonical] = int(index)
    missing = [label for label in LABELS if label not in by_name]
    if missing:
        raise ValueError(
            f"the checkpoint's id2label {dict(id2label)} does not name {missing}; "
            "factcheck needs a 3-way NLI model whose config says which output is which"
        )
    return [by_name[label] for label in LABELS]


class NLIModel:
    """A 3-way NLI cross-encoder with temperature-calibrated probabilities.

    >>> model = NLIModel()                                   # the shipped default
    >>> model.predict([("The sky is blue.", "The sky is green.")])  # doctest: +SKIP
    array([[0.01, 0.04, 0.95]], dtype=float32)              # entailment, neutral, contradiction
    """

    labels = LABELS

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "cpu",
        max_length: int = 512,
        temperature: float | None = None,
    ):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.name_or_path = str(model) if model is not None else str(default_model_path())
        if model is None and not Path(self.name_or_path).is_dir():
            raise FileNotFoundError(
                f"the shipped model is missing at {self.name_or_path}; install factcheck from its source tree "
                "(pip install -e .), set FACTCHECK_MODEL, or pass a model name or path"
            )
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.name_or_path)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.name_or_path, dtype=torch.float32)
        self.model.to(self.device).eval()
        self._order = label_order(self.model.config.id2label)
        self.max_length = min(max_length, getattr(self.model.config, "max_position_embeddings", max_length))
        self.temperature = temperature if temperature is not None else self._stored_temperature()

    def _stored_temperature(self) -> float:
        path = Path(self.name_or_path) / CALIBRATION_FILE
        if path.is_file():
            return float(json.loads(path.read_text())["temperature"])
        return 1.0

    def logits(self, pairs: Sequence[tuple[str, str]], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Raw logits in ``LABELS`` order, one row a pair, in the order given."""
        import torch
        from tqdm.auto import tqdm

        if not pairs:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        # Length-sorted batches pad little; the original order is restored at the end.
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        out = np.empty((len(pairs), len(LABELS)), dtype=np.float32)
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        with torch.inference_mode():
            for batch in tqdm(batches, desc="NLI", unit="batch", disable=not show_progress):
                encoded = self.tokenizer(
                    [pairs[i][0] for i in batch],
                    [pairs[i][1] for i in batch],
                    truncation=True,
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                ).to(self.device)
                logits = self.model(**encoded).logits.float()[:, self._order]
                out[batch] = logits.cpu().numpy()
        return out

    def predict(self, pairs: Sequence[tuple[str, str]], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Calibrated probabilities of (entailment, neutral, contradiction) for each (premise, hypothesis)."""
        return softmax(self.logits(pairs, batch_size=batch_size, show_progress=show_progress) / self.temperature)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
