from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

from factcheck.nli.data import LABELS
from factcheck.nli.infer import NLIModel, default_model_path, label_order


def test_shipped_checkpoint_is_complete_and_small():
    path = default_model_path()
    config = json.loads((path / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(3)] == list(LABELS)
    assert (path / "tokenizer.json").is_file()
    assert (path / "model.safetensors").stat().st_size <= 100 * 1024 * 1024
    assert json.loads((path / "calibration.json").read_text())["temperature"] > 0


def test_loads_with_plain_transformers_offline():
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(default_model_path()))
    assert model.config.num_labels == 3


def test_obvious_pairs_get_the_right_label(nli_model):
    pairs = [
        ("The council will not raise parking fees this year.", "The council will raise parking fees this year."),
        ("A man is playing a guitar on stage.", "A man is playing an instrument."),
        ("A man is playing a guitar on stage.", "The man is famous in Japan."),
    ]
    probs = nli_model.predict(pairs)
    assert probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert [LABELS[i] for i in probs.argmax(axis=1)] == ["contradiction", "entailment", "neutral"]


def test_batching_keeps_the_callers_order(float32_model):
    pairs = [
        ("A very long premise " + "about many things " * 30, "Something happened."),
        ("Short.", "A dog runs."),
        ("Two women are talking in a cafe in Paris.", "Two women are in France."),
    ]
    together = float32_model.predict(pairs, batch_size=2)
    one_by_one = np.concatenate([float32_model.predict([p]) for p in pairs])
    np.testing.assert_allclose(together, one_by_one, atol=1e-4)


def test_empty_input_gives_empty_output(nli_model):
    assert nli_model.predict([]).shape == (0, 3)


def test_temperature_divides_the_logits(nli_model):
    pairs = [("A cat sleeps on the sofa.", "An animal is resting.")]
    logits = nli_model.logits(pairs)
    hot = NLIModel(nli_model.name_or_path, temperature=2.0).predict(pairs)
    expected = np.exp(logits / 2.0) / np.exp(logits / 2.0).sum()
    np.testing.assert_allclose(hot, expected, atol=1e-5)


@pytest.mark.parametrize(
    "id2label, expected",
    [
        ({0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}, [2, 1, 0]),  # roberta-large-mnli
        ({0: "contradiction", 1: "entailment", 2: "neutral"}, [1, 2, 0]),  # cross-encoder/nli-deberta-v3-base
        ({0: "entailment", 1: "neutral", 2: "contradiction"}, [0, 1, 2]),
    ],
)
def test_label_order_comes_from_the_config(id2label, expected):
    assert label_order(id2label) == expected


def test_unnamed_labels_are_refused():
    with pytest.raises(ValueError, match="does not name"):
        label_order({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})


def test_a_checkpoint_with_another_label_order_gives_the_same_probabilities(nli_model, tmp_path):
    """A copy of our model with its outputs permuted, as roberta-large-mnli orders them."""
    from transformers import AutoModelForSequenceClassification

    source = default_model_path()
    permuted = AutoModelForSequenceClassification.from_pretrained(str(source))
    order = [2, 1, 0]  # contradiction, neutral, entailment
    with torch.no_grad():
        permuted.classifier.weight.copy_(permuted.classifier.weight[order])
        permuted.classifier.bias.copy_(permuted.classifier.bias[order])
    permuted.config.id2label = {0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}
    permuted.config.label2id = {v: k for k, v in permuted.config.id2label.items()}
    permuted.save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "calibration.json"):
        shutil.copy(source / name, tmp_path / name)
    pairs = [("The museum opened in 1990.", "The museum opened in 1995."), ("It rains.", "It is wet outside.")]
    np.testing.assert_allclose(NLIModel(tmp_path).predict(pairs), nli_model.predict(pairs), atol=1e-5)


def test_missing_default_model_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("FACTCHECK_MODEL", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="shipped model is missing"):
        NLIModel()


def test_a_hub_model_is_named_with_the_revision_it_was_loaded_at(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from factcheck.nli.infer import model_display_name

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--someone--some-nli"
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert model_display_name("someone/some-nli") == "someone/some-nli (revision 0123456789ab)"
    assert model_display_name("someone/not-downloaded") == "someone/not-downloaded"


def test_without_a_network_a_hub_model_loads_from_the_cache_or_fails_at_once(tmp_path, monkeypatch):
    import socket

    import huggingface_hub.constants

    from factcheck.nli import hub
    from factcheck.nli.infer import NLIModel, default_model_path

    def no_dns(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    hub.hub_unreachable.cache_clear()
    try:
        # Not cached: the error says why, with no retries against a host that does not resolve.
        with pytest.raises(ValueError, match="someone/absent-nli: not a local folder, not in the local cache"):
            NLIModel("someone/absent-nli", backend="torch")
        # Cached: loaded from the cache, named by the revision it holds.
        commit = "89abcdef0123456789abcdef0123456789abcdef"
        snapshot = tmp_path / "models--someone--our-nli" / "snapshots" / commit
        snapshot.mkdir(parents=True)
        for path in default_model_path().iterdir():
            (snapshot / path.name).symlink_to(path)
        (tmp_path / "models--someone--our-nli" / "refs").mkdir()
        (tmp_path / "models--someone--our-nli" / "refs" / "main").write_text(commit)
        model = NLIModel("someone/our-nli", backend="torch")
        assert model.display_name == "someone/our-nli (revision 89abcdef0123)"
        assert model.predict([("The sky is blue.", "The sky is blue.")]).argmax() == 0
    finally:
        hub.hub_unreachable.cache_clear()


@pytest.mark.parametrize(
    "pairs, message",
    [
        (("The council will not raise fees.", "The council will raise fees."), "one (premise, hypothesis) pair"),
        (["The council will not raise fees.", "The council will raise fees."], "pair 1: a (premise, hypothesis) tuple"),
        ([("A premise.", "A hypothesis.", "extra")], "pair 1: a (premise, hypothesis) tuple"),
    ],
)
def test_predict_refuses_what_is_not_a_list_of_pairs(nli_model, pairs, message):
    # A lone pair or a list of strings was scored as pairs of characters: probabilities near uniform, no error.
    with pytest.raises(TypeError, match=re.escape(message)):
        nli_model.predict(pairs)


def test_loading_a_model_draws_no_progress_bar_and_leaves_the_setting_as_it_was(capfd):
    from transformers.utils import logging as transformers_logging

    was = transformers_logging.is_progress_bar_enabled()
    NLIModel(backend="torch")
    assert "Loading weights" not in capfd.readouterr().err
    assert transformers_logging.is_progress_bar_enabled() == was
