"""The key-span head: the words of a passage that drive its verdict, in one forward pass.

The occlusion search (``factcheck.pipeline.aggregate.KeySpanSearch``) finds them by removing words and asking the
NLI model again, a dozen model calls a passage. The head is trained (``models/train_key_spans.py``) to predict what
the exhaustive search, which removes every three-word window, would find: per word, its importance as a share of the
passage's most important word's. It is the NLI model with its top layers copied and fine-tuned and a token
classifier on top; only those layers are stored, beside the NLI model's weights (``key_spans.safetensors``). It is
made for that NLI model: another model's folder has no such file, and the checker searches by occlusion there.
"""

from __future__ import annotations

import bisect
import json
import re
from pathlib import Path

import numpy as np

from factcheck.nli.data import LABELS

KEY_SPAN_FILE = "key_spans.safetensors"
WORD = re.compile(r"\S+")


def words_of(text: str) -> list[tuple[int, int]]:
    """The passage's words as the occlusion search counts them: runs of non-space characters."""
    return [m.span() for m in WORD.finditer(text)]


def span_from_scores(words: list[tuple[int, int]], scores: np.ndarray) -> tuple[int, int] | None:
    """The run of words around the most important one whose importance is at least half of it (the occlusion
    search's rule), as character offsets in the passage."""
    if not words or scores.size == 0 or scores.max() <= 0:
        return None
    peak = int(scores.argmax())
    left = right = peak
    while left > 0 and scores[left - 1] >= scores[peak] / 2:
        left -= 1
    while right + 1 < len(words) and scores[right + 1] >= scores[peak] / 2:
        right += 1
    return words[left][0], words[right][1]


class KeySpanHead:
    """``KeySpanHead.load(model_folder)``: the head stored with an NLI model, or None where it has none."""

    def __init__(self, model, tokenizer, max_length: int = 512):
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def untrained(cls, model_folder: str | Path, layers: int) -> KeySpanHead:
        """The NLI model with a token classifier, only its top ``layers`` layers and the classifier trainable."""
        head = cls._build(Path(model_folder), {})
        for parameter in head.model.parameters():
            parameter.requires_grad = False
        for module in (*head.model.base_model.encoder.layer[-layers:], head.model.classifier):
            for parameter in module.parameters():
                parameter.requires_grad = True
        return head

    @classmethod
    def load(cls, model_folder: str | Path, *, dtype=None, tokenizer=None) -> KeySpanHead | None:
        """``tokenizer``: the NLI model's, where it is loaded already."""
        path = Path(model_folder) / KEY_SPAN_FILE
        if not path.is_file():
            return None
        from safetensors.torch import load_file

        head = cls._build(Path(model_folder), load_file(str(path)), tokenizer)
        head.model.eval()
        if dtype is not None:
            head.model.to(dtype)
        return head

    @classmethod
    def _build(cls, folder: Path, trained: dict, tokenizer=None) -> KeySpanHead:
        """The NLI model's weights with the head's over them."""
        from transformers import AutoModelForTokenClassification, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        from factcheck.nli.hub import quiet_loading

        # transformers reports the NLI model's pooler as unexpected (a token classifier has none) on every load.
        verbosity = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()
        try:
            with quiet_loading():
                model = AutoModelForTokenClassification.from_pretrained(str(folder), num_labels=len(LABELS))
        finally:
            transformers_logging.set_verbosity(verbosity)
        unknown = set(trained) - set(model.state_dict())
        if unknown:
            raise ValueError(f"{folder / KEY_SPAN_FILE}: not a key-span head of this model (unknown weights {sorted(unknown)[:3]})")
        model.load_state_dict(trained, strict=False)
        return cls(model, tokenizer or AutoTokenizer.from_pretrained(str(folder)))

    def save(self, path: Path, record: dict) -> None:
        """The trained layers in bfloat16: half the size, and how a CPU with AMX or avx512_bf16 runs them anyway."""
        import torch
        from safetensors.torch import save_file

        trained = {name for name, p in self.model.named_parameters() if p.requires_grad}
        state = {
            name: tensor.detach().to(torch.bfloat16).contiguous()
            for name, tensor in self.model.state_dict().items()
            if name in trained
        }
        save_file(state, str(path), metadata={"record": json.dumps(record)})

    @staticmethod
    def channel(label: str) -> int:
        return LABELS.index(label)

    def tokenize(self, pairs: list[tuple[str, str]]):
        """(passage, claim) pairs as the NLI model reads them, truncated longest first (a claim may be the longer),
        unpadded, with each token's character offsets."""
        return self.tokenizer(
            [passage for passage, _ in pairs],
            [claim for _, claim in pairs],
            truncation=True,
            max_length=self.max_length,
            return_offsets_mapping=True,
        )

    @staticmethod
    def token_words(offsets, sequence_ids, words: list[tuple[int, int]]) -> list[int | None]:
        """For each token, the index of the passage word it belongs to (None: claim, special tokens, padding)."""
        starts = [start for start, _ in words]
        out = []
        for (start, end), sequence in zip(offsets, sequence_ids):
            out.append(bisect.bisect_right(starts, start) - 1 if sequence == 0 and end > start else None)
        return out

    def spans(self, items: list[tuple[str, str, str]], batch_size: int = 32) -> list[tuple[int, int] | None]:
        """For each (passage, claim, deciding label), the key span's character offsets in the passage.

        Batched as the NLI model's pairs are (``NLIModel.logits``): by length, padded to a multiple of
        ``PAD_TO_MULTIPLE_OF``, side by side on a CPU's threads; a batch in the order given, each padded to the
        longest, ran at a third of the NLI model's pairs/s on `eval/bench.py`."""
        import torch

        from factcheck.nli.infer import (
            MAX_BATCH_TOKENS,
            PAD_TO_MULTIPLE_OF,
            length_batches,
            pad_batch,
            padded_widths,
            side_by_side,
        )

        if not items:
            return []
        encoded = self.tokenize([(passage, claim) for passage, claim, _ in items])
        widths = padded_widths(encoded, PAD_TO_MULTIPLE_OF, self.max_length)
        batches = length_batches(widths, batch_size, MAX_BATCH_TOKENS["torch"])
        out: list[tuple[int, int] | None] = [None] * len(items)

        def run(batch: list[int]) -> None:
            inputs = pad_batch(self.tokenizer, encoded, batch, max(widths[i] for i in batch))
            with torch.inference_mode():
                logits = self.model(**{name: torch.from_numpy(array) for name, array in inputs.items()}).logits
            scores = torch.sigmoid(logits.float()).numpy()
            for row, i in enumerate(batch):
                passage, _, label = items[i]
                words = words_of(passage)
                importance = np.zeros(len(words))
                channel = scores[row, :, self.channel(label)]
                for token, word in enumerate(self.token_words(encoded["offset_mapping"][i], encoded.sequence_ids(i), words)):
                    if word is not None:
                        importance[word] = max(importance[word], channel[token])
                out[i] = span_from_scores(words, importance)

        with side_by_side(len(batches)) as (pool, _):
            list(pool.map(run, batches))
        return out
