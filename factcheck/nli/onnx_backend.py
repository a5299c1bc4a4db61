"""The NLI model on ONNX Runtime: exported once per checkpoint, optionally with 8-bit weights.

``NLIModel(backend="onnx")`` and ``backend="onnx-int8"`` run through here.
The export comes from the same checkpoint through ``torch.onnx`` and is kept under
``~/.cache/factcheck/onnx/<key>/`` (``$XDG_CACHE_HOME`` is honoured), where the key hashes the checkpoint's
folder, the size and modification time of its configuration and weights, and the torch version: a retrained or replaced model
gets a new export, an unchanged one is never exported twice. ``model-int8.onnx`` is that export with its
weights quantised by ``onnxruntime.quantization.quantize_dynamic`` (signed 8-bit, one scale per output
channel: a single scale per tensor loses about a point of accuracy on this model; per channel keeps it).
Activations stay float and are quantised on the fly.

Files are written under a temporary name and renamed into place, so that processes exporting the same
model at once (the actors of a Ray batch) never read a half-written file.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
import warnings
from pathlib import Path

# Part of the cache key: raise it when the way models are exported changes, so old exports are not reused.
EXPORT_VERSION = 1
OPSET = 17


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "factcheck" / "onnx"


def _missing_dependency(error: ImportError) -> ImportError:
    return ImportError(f"the ONNX backends need onnx and onnxruntime, dependencies of factcheck: reinstall it ({error})")


def checkpoint_folder(name_or_path: str) -> Path:
    """The folder holding the checkpoint's files: the path itself, or the hub cache's snapshot of a name."""
    if Path(name_or_path).is_dir():
        return Path(name_or_path).resolve()
    from transformers.utils import cached_file

    from factcheck.nli.hub import hub_unreachable

    return Path(cached_file(name_or_path, "config.json", local_files_only=hub_unreachable())).parent.resolve()


def export_key(folder: Path) -> str:
    import torch

    digest = hashlib.sha256(f"{EXPORT_VERSION}|{torch.__version__}|{folder}".encode())
    # What the export is made of; the model card or evaluation files may change without invalidating it.
    for path in sorted(p for p in folder.iterdir() if p.name == "config.json" or p.suffix in (".safetensors", ".bin")):
        stat = path.stat()
        digest.update(f"|{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def write_atomically(target: Path, write) -> None:
    """``write(path)`` into a temporary file next to ``target``, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _export(folder: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    # Eager attention traces into plain ONNX operators; the SDPA path carries mask logic the tracer freezes.
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    # Two pairs of different lengths, so that padding and the attention mask are part of the traced graph.
    sample = tokenizer(["A premise.", "A longer premise with more words."], ["A hypothesis.", "Short."], padding=True, return_tensors="pt")
    # The legacy exporter names the inputs in the order of ``forward``'s parameters, whatever order they come in.
    names = [name for name in inspect.signature(model.forward).parameters if name in sample]
    axes = {name: {0: "batch", 1: "tokens"} for name in names} | {"logits": {0: "batch"}}

    def write(path: Path) -> None:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # tracer warnings about Python branches on shapes we do not use
            torch.onnx.export(
                model,
                (),
                str(path),
                kwargs={name: sample[name] for name in names},
                input_names=names,
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )

    write_atomically(target, write)


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    write_atomically(
        target, lambda path: quantize_dynamic(str(source), str(path), weight_type=QuantType.QInt8, per_channel=True)
    )


def exported_model(name_or_path: str, *, quantized: bool) -> Path:
    """The ONNX file of a checkpoint (exported, and quantised, on first use)."""
    try:
        import onnx  # noqa: F401  -- the exporter and the quantiser need it
        import onnxruntime  # noqa: F401
    except ImportError as error:
        raise _missing_dependency(error) from None
    folder = checkpoint_folder(name_or_path)
    directory = cache_root() / export_key(folder)
    plain = directory / "model.onnx"
    if not plain.is_file():
        _export(folder, plain)
    if not quantized:
        return plain
    int8 = directory / "model-int8.onnx"
    if not int8.is_file():
        _quantize(plain, int8)
    return int8


def onnx_session(name_or_path: str, *, quantized: bool):
    """An ONNX Runtime session on the CPU that runs one batch on one thread.

    ``NLIModel`` runs as many batches side by side as torch has threads (``--threads``): on the pairs of
    `eval/bench.py`, 4-17% more pairs/s than one batch at a time on all of them.
    """
    path = exported_model(name_or_path, quantized=quantized)
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # SkipLayerNormalization (residual sum, bias and layer norm in one operator) runs slower here than what it
    # replaces: with its fusion off, 8-bit gave 9-12% more pairs/s on 1,000 of `eval/bench.py`'s pairs. Turning
    # off the GELU, MatMulIntegerToFloat or DynamicQuantizeMatMul fusions instead made it 4-18% slower.
    return onnxruntime.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=["SkipLayerNormFusion"]
    )
