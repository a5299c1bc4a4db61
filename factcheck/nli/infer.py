"""NLI inference: (premise, hypothesis) pairs -> calibrated probabilities.

``NLIModel`` loads any Hugging Face sequence-classification NLI checkpoint by
name or path (the shipped default when none is given) and reads the label order
from the checkpoint's own ``id2label``: ``roberta-large-mnli`` puts
contradiction first, ``cross-encoder/nli-deberta-v3-base`` puts entailment
second, ours puts entailment first. Probabilities always come back in
``LABELS`` order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from factcheck.nli.backends import resolve_backend
from factcheck.nli.data import LABELS
from factcheck.nli.hub import UNREACHABLE, hub_unreachable, quiet_loading

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
    return Path(__file__).resolve().parents[2] / "models" / DEFAULT_MODEL_NAME


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


# torch's thread count is process-wide: one call at a time may lower it (``side_by_side``).
_THREAD_COUNT = threading.Lock()

# Pairs are sorted by token count and cut into batches padded only to their own longest pair; a batch holds at
# most ``batch_size`` pairs and a budget of padded tokens (pairs x longest), so that a batch of long pairs stays
# small. Sorting is what matters most: on the pairs of `eval/bench.py --quick` (2 threads) any budget from 1,024
# tokens to none gives torch 155-185 pairs/s, where padding every pair to 512 tokens gives 16. The budget suits
# each runtime. ONNX Runtime runs the attention's softmax, mask, transposes, GELU and residual sums as separate
# passes over memory, which stay in the core's cache only with small batches (our reading of these numbers):
# on 1,500 of `eval/bench.py`'s pairs (2 threads, budgets taking turns), 8-bit ran 126 pairs/s with 2,048
# tokens, 171 with 1,024 and 192-200 with 128 to 512, where float32 torch ran 71-74 with 256 to 2,048 and 64
# with 4,096. The 8-bit path quantises activations over the whole batch, so which pairs
# share a batch moves its XNLI-en accuracy by a few tenths of a point either way (71.73-72.49% for budgets from
# 64 to 2,048 tokens, 72.49% with 512), float32 keeps 72.69%.
MAX_BATCH_TOKENS = {"torch": 2048, "onnx": 512}
# With torch, widths are rounded up to a multiple of this. On a CPU, oneDNN compiles and caches a kernel for
# every new matrix shape: on the 5,196 pairs of `eval/bench.py` exact widths made 115 batch shapes, and the
# cached kernels and freed buffers left 700-950 MiB behind; multiples of 16 make 16 shapes and leave 230 MiB,
# at the same pairs/s (a few more padded tokens, fewer kernels to compile). ONNX Runtime keeps exact widths: it
# compiles nothing per shape, and padded tokens would only widen the range its 8-bit path quantises over.
PAD_TO_MULTIPLE_OF = 16


@contextmanager
def side_by_side(n_batches: int, *, on_cpu: bool = True):
    """A thread pool, and its number of workers, to run torch batches side by side on a CPU, each batch on its
    share of torch's threads.

    On the CPU, torch splits each operation of one batch between its threads, and a BERT this small spends
    much of that time waiting for threads to meet at the end of an operation (layer norms, softmax, small
    products). Whole batches side by side, one thread each, keep every core busy instead: on `eval/bench.py`'s
    pairs with 2 threads, 5-50% more NLI pairs/s in bfloat16 (the gain varies with the host), 3-11% in float32;
    15-25% more claims/s on its short documents when the retrieval encoder runs so too. torch releases the GIL
    while it computes. torch's thread count is process-wide, so it is lowered for the call, under a lock, and
    restored after it. With as many batches as threads, every batch runs on one thread, and its results no
    longer depend on the thread count. Off the CPU, one worker.
    """
    import torch

    with _THREAD_COUNT:
        threads = torch.get_num_threads()
        workers = max(1, min(threads, n_batches)) if on_cpu else 1
        torch.set_num_threads(threads // workers)
        try:
            with ThreadPoolExecutor(workers, thread_name_prefix="factcheck-torch") as pool:
                yield pool, workers
        finally:
            torch.set_num_threads(threads)


class NLIModel:
    """A 3-way NLI cross-encoder with temperature-calibrated probabilities.

    >>> model = NLIModel()                                   # the shipped default
    >>> model.predict([("The sky is blue.", "The sky is green.")])  # doctest: +SKIP
    array([[0.01, 0.04, 0.95]], dtype=float32)              # entailment, neutral, contradiction

    ``backend`` chooses what runs the network: ``auto`` (the default: the fastest of the paths that keep the
    answers, measured once per machine, see ``factcheck.nli.backends``; ``self.backend`` says which ran);
    ``torch`` (float32); ``torch-bf16``, the same in bfloat16, fast only where the CPU multiplies bfloat16 in
    hardware (AMX, avx512_bf16; 0.7-2.9x float32 there, 0.2x elsewhere); or ONNX Runtime on an export of the same
    checkpoint (see ``factcheck.nli.onnx_backend``), ``onnx`` (float32, 1.1-1.4x torch) or ``onnx-int8``
    (weights quantised to 8 bits: 2.4-4.0x float32 torch, but a few verdicts in a hundred change). ``python
    eval/bench.py`` measures them.
    """

    labels = LABELS

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "cpu",
        max_length: int = 512,
        temperature: float | None = None,
        backend: str = "auto",
    ):
        import torch
        from transformers import AutoConfig, AutoTokenizer

        backend = resolve_backend(backend, device)
        self.name_or_path = str(model) if model is not None else str(default_model_path())
        if model is None and not Path(self.name_or_path).is_dir():
            raise FileNotFoundError(
                f"the shipped model is missing at {self.name_or_path}; install factcheck from its source tree "
                "(pip install -e .), set FACTCHECK_MODEL, or pass a model name or path"
            )
        if backend.startswith("onnx") and device != "cpu":
            raise ValueError(f"backend {backend!r} runs on the CPU only; use backend='torch' for device {device!r}")
        self.backend = backend
        self.runtime = backend.split("-")[0]  # torch or onnx: what batches are cut and run for
        self.device = torch.device(device)
        offline = not Path(self.name_or_path).is_dir() and hub_unreachable()
        try:
            self.config = AutoConfig.from_pretrained(self.name_or_path, local_files_only=offline)
            self.tokenizer = AutoTokenizer.from_pretrained(self.name_or_path, local_files_only=offline)
        except (OSError, ValueError) as error:
            # transformers' own message is long and names a missing tokenizer library rather than the folder.
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            if offline:
                raise ValueError(f"{self.name_or_path}: {UNREACHABLE}") from None
            raise ValueError(
                f"{self.name_or_path}: not a model that can be loaded here (a folder with config.json, tokenizer "
                f"and weights, or a hub name this machine can reach): {first_line}"
            ) from None
        self._order = label_order(self.config.id2label)
        self.max_length = min(max_length, getattr(self.config, "max_position_embeddings", max_length))
        self.temperature = temperature if temperature is not None else self._stored_temperature()
        if self.runtime == "torch":
            from transformers import AutoModelForSequenceClassification

            dtype = torch.bfloat16 if backend == "torch-bf16" else torch.float32
            with quiet_loading():
                self.model = AutoModelForSequenceClassification.from_pretrained(
                    self.name_or_path, dtype=dtype, local_files_only=offline
                )
            self.model.to(self.device).eval()
            self._run = self._run_torch
        else:
            from factcheck.nli.onnx_backend import onnx_session

            self.session = onnx_session(self.name_or_path, quantized=backend == "onnx-int8")
            self.threads = torch.get_num_threads()  # one session run per thread, side by side
            self._inputs = [i.name for i in self.session.get_inputs()]
            self._run = self._run_onnx

    @cached_property
    def display_name(self) -> str:
        """The model as reports name it (``model_display_name``)."""
        return model_display_name(self.name_or_path)

    def _stored_temperature(self) -> float:
        path = Path(self.name_or_path) / CALIBRATION_FILE
        if path.is_file():
            return float(json.loads(path.read_text())["temperature"])
        return 1.0

    def _run_torch(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            inputs = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
            return self.model(**inputs).logits.float().cpu().numpy()

    def _run_onnx(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, {name: batch[name] for name in self._inputs})[0]

    def overlong(self, pairs: Sequence[tuple[str, str]]) -> list[bool]:
        """Which pairs are longer than the ``max_length`` tokens the model reads, and are cut to fit (the longer
        text of the two loses its end)."""
        if not pairs:
            return []
        encoded = self.tokenizer([p[0] for p in pairs], [p[1] for p in pairs], truncation=False, verbose=False)
        return [len(ids) > self.max_length for ids in encoded["input_ids"]]

    def logits(self, pairs: Sequence[tuple[str, str]], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Raw logits in ``LABELS`` order, one row a pair, in the order given.

        All pairs are tokenised in one call; batches are then cut from the pairs sorted by token count, so
        that each is padded only to its own longest pair (with torch, rounded up to ``PAD_TO_MULTIPLE_OF``), and
        hold at most ``batch_size`` pairs and the runtime's ``MAX_BATCH_TOKENS`` padded tokens. On a CPU,
        batches run side by side (``_batch_workers``).
        """
        from tqdm.auto import tqdm

        pairs = as_pairs(pairs)
        if not pairs:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        encoded = self.tokenizer(
            [p[0] for p in pairs], [p[1] for p in pairs], truncation=True, max_length=self.max_length
        )
        widths = padded_widths(encoded, PAD_TO_MULTIPLE_OF if self.runtime == "torch" else 1, self.max_length)
        out = np.empty((len(pairs), len(LABELS)), dtype=np.float32)
        batches = length_batches(widths, batch_size, MAX_BATCH_TOKENS[self.runtime])

        def run(batch: list[int]) -> int:
            out[batch] = self._run(pad_batch(self.tokenizer, encoded, batch, max(widths[i] for i in batch)))[:, self._order]
            return len(batch)

        with tqdm(total=len(pairs), desc="NLI", unit="pair", disable=not show_progress) as progress:
            with self._batch_workers(len(batches)) as workers:
                for done in workers.map(run, batches):
                    progress.update(done)
        return out

    @contextmanager
    def _batch_workers(self, n_batches: int):
        """Threads that run batches side by side (``side_by_side``); ONNX Runtime's session runs take one thread
        each (``factcheck.nli.onnx_backend``)."""
        if self.runtime == "onnx":
            with ThreadPoolExecutor(max(1, min(self.threads, n_batches)), thread_name_prefix="factcheck-nli") as pool:
                yield pool
            return
        with side_by_side(n_batches, on_cpu=self.device.type == "cpu") as (pool, _):
            yield pool

    def predict(self, pairs: Sequence[tuple[str, str]], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Calibrated probabilities of (entailment, neutral, contradiction) for each (premise, hypothesis)."""
        return softmax(self.logits(pairs, batch_size=batch_size, show_progress=show_progress) / self.temperature)


def as_pairs(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs as (premise, hypothesis) tuples; anything else is a TypeError naming it. One pair on its own is
    refused, not read as two pairs of characters (uniform nonsense probabilities)."""
    if isinstance(pairs, tuple) and len(pairs) == 2 and all(isinstance(t, str) for t in pairs):
        raise TypeError("pairs: one (premise, hypothesis) pair; give a list of pairs, [(premise, hypothesis)]")
    out = [tuple(p) if isinstance(p, list) else p for p in pairs]
    for n, pair in enumerate(out, start=1):
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise TypeError(f"pair {n}: a (premise, hypothesis) tuple of two strings, not {pair!r:.80}")
    return out


def model_display_name(name_or_path: str) -> str:
    """A model as reports name it: a hub id as it is; a local checkpoint by its folder name and the start of its
    weights' sha256, never by a path of the machine that ran it."""
    folder = Path(name_or_path)
    if not folder.is_dir():
        revision = _hub_revision(name_or_path)
        return f"{name_or_path} (revision {revision[:12]})" if revision else name_or_path
    folder = folder.resolve()  # "." has no name of its own
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    digest = hashlib.sha256()
    for path in weights:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return f"{folder.name} (sha256 {digest.hexdigest()[:12]})" if weights else folder.name


def _hub_revision(name: str) -> str | None:
    """The commit of a hub model as loaded here: its cached snapshot's folder (a hub id alone names whatever the
    model's main branch holds when it is downloaded, which can change under a report)."""
    from transformers.utils import cached_file

    try:
        snapshot = Path(cached_file(name, "config.json", local_files_only=True)).parent
    except (OSError, ValueError):
        return None
    return snapshot.name if re.fullmatch(r"[0-9a-f]{40}", snapshot.name) else None


def padded_widths(encoded, step: int, max_length: int) -> list[int]:
    """Each tokenised pair's length rounded up to a multiple of ``step`` (``PAD_TO_MULTIPLE_OF`` with torch)."""
    return [min(-(-len(ids) // step) * step, max_length) for ids in encoded["input_ids"]]


def pad_batch(tokenizer, encoded, batch: list[int], width: int) -> dict[str, np.ndarray]:
    """The batch's token ids as int64 arrays, padded to ``width`` on the tokenizer's padding side."""
    pad_values = {"input_ids": tokenizer.pad_token_id or 0, "token_type_ids": tokenizer.pad_token_type_id}
    arrays = {}
    for name in tokenizer.model_input_names:
        if name not in encoded:
            continue
        array = np.full((len(batch), width), pad_values.get(name, 0), dtype=np.int64)
        for row, i in enumerate(batch):
            ids = encoded[name][i]
            if tokenizer.padding_side == "left":
                array[row, width - len(ids) :] = ids
            else:
                array[row, : len(ids)] = ids
        arrays[name] = array
    return arrays


def length_batches(lengths: Sequence[int], max_pairs: int, max_tokens: int) -> list[list[int]]:
    """Indices grouped into batches of similar length: at most ``max_pairs`` each, and at most ``max_tokens``
    once padded to the longest (a single pair longer than that is a batch of its own)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < max_pairs and (len(batches[-1]) + 1) * lengths[i] <= max_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
