"""Model weights that ship inside the package (found with no hub and no checkout).

``tracker-nli-minilm-l6/`` is the project's NLI cross-encoder (see its
README.md, the model card); the config names it ``model = "tracker-nli-minilm-l6"``.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent


def packaged_model(name: str) -> Path | None:
    """The folder of a model shipped in this package, or None."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    folder = WEIGHTS_DIR / name
    return folder if (folder / "config.json").exists() else None
