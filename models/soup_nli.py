#!/usr/bin/env python
"""Average the weights of NLI checkpoints of one architecture (a "model soup").

Two runs of ``models/train_nli.py`` that share a start (e.g. the shipped model and its
continuation for one more epoch) usually sit in one basin of the loss; the weighted
mean of their weights is a single model, as fast as either, and often better than both
on data neither was tuned for (Wortsman et al. 2022, "Model soups").

    HF_HUB_OFFLINE=1 .venv/bin/python models/soup_nli.py \\
        tracker/weights/tracker-nli-minilm-l6 /tmp/nli_v3 --weights 0.5 0.5 --out /tmp/soup

The tokenizer and configuration come from the first model; the result is written the way
``train_nli.py`` writes a model (fp16 weights, ``config.json`` asking for fp32 on load),
with a ``data_manifest.json`` naming the ingredients and their weights.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_nli import save_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model folders (same architecture)")
    parser.add_argument("--weights", type=float, nargs="+",
                        help="one per model, normalised to sum 1 (default: equal)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    weights = args.weights or [1.0] * len(args.models)
    if len(weights) != len(args.models) or min(weights) < 0 or sum(weights) <= 0:
        parser.error("--weights: one non-negative number per model, not all zero")
    weights = [w / sum(weights) for w in weights]
    models = [AutoModelForSequenceClassification.from_pretrained(m, dtype=torch.float32)
              for m in args.models]
    states = [m.state_dict() for m in models]
    if any(s.keys() != states[0].keys() for s in states):
        parser.error("the models do not share one architecture")
    soup = {}
    for name, tensor in states[0].items():
        if tensor.is_floating_point():
            soup[name] = sum(w * s[name].float() for w, s in zip(weights, states))
        else:
            soup[name] = tensor
    models[0].load_state_dict(soup)
    models[0].eval()
    manifests = []
    for m in args.models:
        path = Path(m) / "data_manifest.json"
        manifests.append(json.loads(path.read_text()) if path.exists() else None)
    manifest = {"soup": [{"model": str(m), "weight": round(w, 4)}
                         for m, w in zip(args.models, weights)],
                "ingredients": manifests}
    save_model(models[0], AutoTokenizer.from_pretrained(args.models[0]), Path(args.out),
               manifest, fp16=True)
    print(f"soup of {len(args.models)} models -> {args.out}")


if __name__ == "__main__":
    main()
