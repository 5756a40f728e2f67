"""The shipped NLI model (tracker/weights/tracker-nli-minilm-l6) loads offline and separates
obvious entailment / neutral / contradiction pairs, both through the raw NLI head and
through transformers' zero-shot-classification pipeline (no project code in between)."""
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest
import torch

MODEL_DIR = Path(os.environ.get(
    "TRACKER_NLI_MODEL_DIR",
    Path(__file__).resolve().parents[1] / "tracker" / "weights" / "tracker-nli-minilm-l6"))

PREMISE = "A man is playing a guitar on a stage in front of a large crowd."
PAIRS = [
    (PREMISE, "A man is playing an instrument.", "entailment"),
    (PREMISE, "The man is a famous rock star who is on a world tour.", "neutral"),
    (PREMISE, "The man is asleep in his bed at home.", "contradiction"),
]
MARGIN = 0.2


@pytest.fixture(scope="module")
def head():
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(MODEL_DIR)
    model = AutoModelForSequenceClassification.from_pretrained(MODEL_DIR).eval()
    return tok, model


@pytest.fixture(scope="module")
def zsc():
    from transformers import pipeline
    return pipeline("zero-shot-classification", model=str(MODEL_DIR))


def test_files_and_config():
    import json
    cfg = json.loads((MODEL_DIR / "config.json").read_text())
    assert cfg["id2label"] == {"0": "entailment", "1": "neutral", "2": "contradiction"}
    assert cfg["label2id"] == {"entailment": 0, "neutral": 1, "contradiction": 2}
    weights = MODEL_DIR / "model.safetensors"
    assert weights.exists()
    total = sum(f.stat().st_size for f in MODEL_DIR.iterdir() if f.is_file())
    assert total < 60 * 1024 * 1024
    assert (MODEL_DIR / "README.md").exists()


@pytest.mark.parametrize("premise,hypothesis,label", PAIRS)
def test_raw_head_separates_labels(head, premise, hypothesis, label):
    tok, model = head
    assert model.dtype == torch.float32  # fp16 file is upcast on load
    enc = tok(premise, hypothesis, return_tensors="pt")
    with torch.no_grad():
        probs = torch.softmax(model(**enc).logits[0].float(), -1)
    id2label = model.config.id2label
    top2 = torch.topk(probs, 2)
    assert id2label[int(top2.indices[0])] == label, probs.tolist()
    assert float(top2.values[0] - top2.values[1]) > MARGIN, probs.tolist()


def test_pipeline_finds_entailment_id(zsc):
    assert zsc.entailment_id == 0
    assert zsc.model.dtype == torch.float32


def test_pipeline_entailment_vs_contradiction(zsc):
    # multi_label=True: per hypothesis softmax over [entailment, contradiction]
    out = zsc(PREMISE, candidate_labels=["A man is playing an instrument.",
                                         "The man is asleep in his bed at home."],
              hypothesis_template="{}", multi_label=True)
    s = dict(zip(out["labels"], out["scores"]))
    assert s["A man is playing an instrument."] > 0.5 + MARGIN, s
    assert s["The man is asleep in his bed at home."] < 0.5 - MARGIN, s


def test_pipeline_topic(zsc):
    out = zsc("The central bank raised interest rates to fight inflation.",
              candidate_labels=["economy", "sports"], hypothesis_template="This text is about {}.")
    assert out["labels"][0] == "economy", out
    assert out["scores"][0] - out["scores"][1] > MARGIN, out


def test_soup_averages_weights(tmp_path):
    """models/soup_nli.py (how the shipped model was made): the weighted mean of each
    tensor, the tokenizer and configuration of the first model, fp16 on disk."""
    import subprocess
    import sys

    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    shifted = AutoModelForSequenceClassification.from_pretrained(MODEL_DIR, dtype=torch.float32)
    with torch.no_grad():
        shifted.classifier.bias += 2.0
    shifted.save_pretrained(tmp_path / "shifted")
    script = Path(__file__).resolve().parents[1] / "models" / "soup_nli.py"
    out = tmp_path / "soup"
    subprocess.run([sys.executable, str(script), str(MODEL_DIR), str(tmp_path / "shifted"),
                    "--weights", "3", "1", "--out", str(out)], check=True, capture_output=True)
    original = load_file(MODEL_DIR / "model.safetensors")
    soup = load_file(out / "model.safetensors")
    assert soup.keys() == original.keys()
    assert all(soup[name].dtype == torch.float16 for name in soup)
    for name, tensor in original.items():
        expected = tensor.float() + (0.5 if name == "classifier.bias" else 0.0)
        assert torch.allclose(soup[name].float(), expected, atol=2e-3), name
    assert (out / "tokenizer.json").exists() and (out / "data_manifest.json").exists()
    bad = subprocess.run([sys.executable, str(script), str(MODEL_DIR), "--weights", "1", "2",
                          "--out", str(tmp_path / "bad")], capture_output=True, text=True)
    assert bad.returncode == 2 and "one non-negative number per model" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_training_resumes_exactly_where_it_stopped(tmp_path):
    """models/train_nli.py --state / --resume: a run stopped mid-epoch and resumed ends
    with the very weights of the same run done in one sitting (optimizer, schedule, data
    position and dropout all restored); a folder without a state is refused in one line."""
    import subprocess
    import sys

    from safetensors.torch import load_file

    script = Path(__file__).resolve().parents[1] / "models" / "train_nli.py"
    tiny = ["--base", str(MODEL_DIR), "--limit-per-source", "8", "--batch-size", "8",
            "--epochs", "1.5", "--resched-at", "-1", "--max-length", "48", "--threads", "1"]

    def train(*args, out):
        done = subprocess.run([sys.executable, str(script), *args, "--out", str(tmp_path / out),
                               "--ckpt", str(tmp_path / f"{out}_ckpt")],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    train(*tiny, out="straight")
    first = train(*tiny, "--max-steps", "5", "--state", str(tmp_path / "state"), out="resumed")
    assert "state at step 5" in first
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["model", "trainer.pt"]
    # a save killed between its two renames leaves the complete previous state in .old
    (tmp_path / "state").rename(tmp_path / "state.old")
    # the same thread count: float sums in another order would differ in the last bits
    second = train("--resume", str(tmp_path / "state"), "--threads", "1", out="resumed")
    assert "last save was interrupted; going on from the complete state in" in second
    assert "resumed at step 5 (epoch 1, batch 5)" in second
    straight = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    for name, tensor in straight.items():
        assert torch.equal(tensor, resumed[name]), name
    assert straight["classifier.bias"].abs().sum() > 0

    refused = subprocess.run([sys.executable, str(script), "--resume", str(tmp_path / "straight"),
                              "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines()[-1].endswith("no training state there (trainer.pt)")


def test_stance_templates_add_the_fixed_wording_to_every_recast_text():
    """models/train_nli.py --stance-templates PRO CON: every recast stance text (other
    targets' data, never the Arctic) also gets the two fixed hypotheses, labelled as its
    random pro / con pair is (favor: PRO entailed, CON contradicted; against: the reverse;
    none: both neutral); nothing else in the recast changes."""
    import importlib.util
    import random

    spec = importlib.util.spec_from_file_location(
        "train_nli", Path(__file__).resolve().parents[1] / "models" / "train_nli.py")
    train_nli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_nli)
    E, N, C = (train_nli.L2I[name] for name in ("entailment", "neutral", "contradiction"))
    fixed = ["Fixed wording for {t}.", "Fixed wording against {t}."]
    plain = train_nli.recast_stance({"sources": []}, 60, random.Random(3))
    manifest = {"sources": []}
    with_fixed = train_nli.recast_stance(manifest, 60, random.Random(3), fixed)
    added = [pair for pair in with_fixed if pair[1].startswith("Fixed wording")]
    assert len(with_fixed) - len(plain) == len(added) == 2 * 60
    assert [p for p in with_fixed if not p[1].startswith("Fixed wording")] == plain
    assert manifest["sources"][0]["templates"]["fixed_pro_con"] == fixed
    expected = {"favor": (E, C), "against": (C, E), "none": (N, N)}
    gold = {}
    for r in train_nli.read_jsonl(train_nli.DATA / train_nli.STANCE_FILE):
        target = train_nli.SEMEVAL_TARGET_TEXT.get(r["target"], r["target"])
        gold[(r["text"], target)] = r["label"]
    stances = set()
    for text, hypothesis, label, source in added:
        assert source == "stance_recast"
        pro = hypothesis.startswith("Fixed wording for ")
        target = hypothesis.removeprefix("Fixed wording for " if pro else
                                         "Fixed wording against ").removesuffix(".")
        assert label == expected[gold[(text, target)]][0 if pro else 1], (text, hypothesis)
        stances.add(gold[(text, target)])
    assert stances == set(expected)  # every stance was checked
