"""tracker.analysis.stance: the tagger's rules on a tiny model, and the shipped model on
real texts (loaded once per session)."""

from __future__ import annotations

import json
import shutil

import pytest

from tracker.analysis.stance import StanceTagger, _neutral_rule, get_tagger
from tracker.config import TaggerConfig
from tracker.errors import ModelError
from tracker.sources.files import walk_inputs
from tracker.sources.textfiles import parse_text_file
from tracker.testing import SEEDS

LABELS = ["favor", "against", "neutral", "unrelated"]
OFF_TOPIC = (
    "The football club announced the signing of a young striker from Portugal on a "
    "five-year contract, and the manager said he would play on Saturday."
)


def test_a_model_without_entailment_label_is_rejected(tmp_path, tiny_nli):
    folder = tmp_path / "sentiment"
    shutil.copytree(tiny_nli, folder)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"0": "negative", "1": "neutral", "2": "positive"}
    config["label2id"] = {"negative": 0, "neutral": 1, "positive": 2}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="is not an NLI model"):
        StanceTagger(TaggerConfig(model=str(folder)))


def test_neutral_rules(tiny_nli):
    scores = {"favor": 0.7, "against": 0.2, "neutral": 0.9}
    rules = {"hypotheses": 0.9, "fallback": 0.0, "balance": -0.5}
    for rule, neutral in rules.items():
        config = TaggerConfig(model=tiny_nli, neutral_rule=rule)
        assert _neutral_rule(scores, config)["neutral"] == pytest.approx(neutral)
        hypotheses = [label for label, _ in StanceTagger(config)._stance_hypotheses()]
        assert ("neutral" in hypotheses) == (rule == "hypotheses")


def test_evidence_is_whole_sentences_never_the_headline_run_into_the_body(tiny_nli):
    title = "Envoy welcomes Arctic talks"
    text = ("US and Russian officials met in Anchorage to discuss shipping in the Bering Strait "
            "and the Arctic Council. " * 3 + "\"It works,\" he said. "
            + "A long closing sentence about the Arctic and the United States and Russia "
            "that goes on and on " * 12)
    tagger = StanceTagger(TaggerConfig(model=tiny_nli, relevance_threshold=-1.0))
    [tag] = tagger.tag_texts([(title, text)])
    sentences = tagger.sentences(title, text)
    assert sentences[0] == title  # the headline is a sentence of its own
    assert not tag.evidence.endswith("…") and len(tag.evidence) < 800
    # Evidence is one sentence, or a short one with the next: never the headline + body.
    joined = {f"{a} {b}" for a, b in zip(sentences[1:], sentences[2:])}
    assert tag.evidence in sentences or tag.evidence in joined
    assert not tag.evidence.startswith(f"{title} ")
    assert all(tagger.count_tokens(s) <= tagger.config.max_passage_tokens for s in sentences)


def test_nli_engine_works_with_any_nli_model(tiny_nli):
    tagger = StanceTagger(TaggerConfig(model=tiny_nli, engine="nli"))
    tags = tagger.tag_texts([("Arctic talks", "US and Russian officials met."), (None, OFF_TOPIC)])
    assert all(t.status == "ok" and t.label in LABELS for t in tags)


# -- the real default model ---------------------------------------------------------


@pytest.fixture(scope="session")
def default_tagger():
    return get_tagger(TaggerConfig())


def test_default_model_finds_every_seed_relevant(default_tagger):
    articles = [parse_text_file(f.path) for f in walk_inputs(SEEDS).files]
    assert len(articles) == 5
    tags = default_tagger.tag_texts([(a.title, a.text) for a in articles])
    for article, tag in zip(articles, tags):
        assert tag.label in ("favor", "against", "neutral"), (article.title, tag)
        assert tag.evidence and tag.evidence in " ".join(
            default_tagger.sentences(article.title, article.text))


@pytest.mark.parametrize("title, text", [
    ("Transfer news", OFF_TOPIC),
    ("Sea ice", "Arctic sea ice reached its smallest winter maximum on record this year, "
                "scientists said, warning that the trend is accelerating."),
    ("Prisoner swap", "The United States and Russia carried out a prisoner swap in Abu Dhabi "
                      "on Thursday, exchanging an American teacher for a Russian hacker."),
])
def test_default_model_tags_unrelated_texts_unrelated(default_tagger, title, text):
    tag = default_tagger.tag_texts([(title, text)])[0]
    assert tag.label == "unrelated", tag


def test_the_screen_reads_leads_with_an_int8_copy_that_keeps_their_scores(default_tagger):
    """The screen embeds headline + lead with a per-channel int8 copy of the embedder
    (screen_quantize, the default); without it, with the fp32 embedder itself. Both put
    an off-topic article aside and let the seeds through, their lead scores close."""
    import dataclasses

    from torch.ao.nn.quantized.dynamic import Linear as Int8Linear

    articles = [parse_text_file(f.path) for f in walk_inputs(SEEDS).files]
    texts = [(a.title, a.text) for a in articles] + [("Transfer news", OFF_TOPIC)]
    config = dataclasses.replace(TaggerConfig(), prefilter_terms=[])  # the screen decides
    int8 = get_tagger(config)
    fp32 = get_tagger(dataclasses.replace(config, screen_quantize=False))
    assert any(isinstance(m, Int8Linear) for m in int8.screen_embedder.model.modules())
    assert not any(isinstance(m, Int8Linear) for m in int8.embedder.model.modules())
    assert fp32.screen_embedder is fp32.embedder
    assert int8.model_hash != fp32.model_hash  # a different screen re-tags what it decided

    leads = [int8._lead(title, text) for title, text in texts]
    scores = {name: tagger._screen_topic.relevance(
                  tagger.screen_embedder.encode(leads), tagger.config)
              for name, tagger in (("int8", int8), ("fp32", fp32))}
    # bench/screen_quantize.py: mean change 0.02, largest 0.11 over 903 news leads
    assert abs(scores["int8"] - scores["fp32"]).max() < 0.1, scores
    threshold = config.screen_threshold
    for name, tagger in (("int8", int8), ("fp32", fp32)):
        assert (scores[name][:5] >= threshold).all() and scores[name][5] < threshold, name
        tags = tagger.tag_texts(texts)
        assert [t.label != "unrelated" for t in tags] == [True] * 5 + [False], (name, tags)
        assert tags[5].relevance == pytest.approx(scores[name][5], abs=1e-3)
