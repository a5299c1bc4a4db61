from __future__ import annotations

import numpy as np
import pytest

from factcheck import Checker, Document
from factcheck.nli.infer import default_model_path
from factcheck.nli.key_spans import KEY_SPAN_FILE, KeySpanHead, span_from_scores, words_of


def test_the_span_is_the_run_around_the_most_important_word_down_to_half_of_it():
    text = "Officials said the response will not contain any commitments on that."
    words = words_of(text)
    scores = np.array([0.1, 0.0, 0.0, 0.2, 0.6, 0.9, 0.8, 0.5, 0.3, 0.4, 0.1])
    start, end = span_from_scores(words, scores)
    assert text[start:end] == "will not contain any"
    assert span_from_scores(words, np.zeros(len(words))) is None
    assert span_from_scores([], np.zeros(0)) is None


@pytest.fixture(scope="module")
def head():
    head = KeySpanHead.load(default_model_path())
    assert head is not None, f"the shipped model has no {KEY_SPAN_FILE}"
    return head


def test_the_shipped_head_points_at_the_words_that_decide(head):
    passage = (
        "The foreign ministry said on Tuesday that the written response of the United States will not contain any "
        "commitments regarding NATO's openness policy, according to officials."
    )
    (span,) = head.spans([(passage, "The US response includes NATO commitments.", "contradiction")])
    assert "not contain" in passage[span[0] : span[1]]
    passage = "The council approved the new budget on Monday after a long debate, the mayor's office said."
    (span,) = head.spans([(passage, "The council approved the budget.", "entailment")])
    assert "approved" in passage[span[0] : span[1]]
    assert span[1] - span[0] < len(passage) / 2


def test_a_model_without_a_head_is_explained_by_occlusion(tmp_path, nli_model):
    for path in default_model_path().iterdir():
        if path.name != KEY_SPAN_FILE:
            (tmp_path / path.name).symlink_to(path)
    from factcheck.nli.infer import NLIModel

    checker = Checker(NLIModel(tmp_path, backend=nli_model.backend))
    assert checker.key_span_head is None
    document = Document(text="The bridge over the Tagus was closed on 4 May after engineers found cracks in a pillar.", id="b")
    calls = []
    original = checker.predict
    checker.predict = lambda pairs: calls.append(len(pairs)) or original(pairs)
    (result,) = checker.check(["Engineers found cracks in the bridge."], [document]).results
    assert result.verdict == "supported" and result.evidence[0].key_span is not None
    assert len(calls) > 2  # the passage, then the rounds of the occlusion search


def test_a_head_of_another_model_is_refused_with_the_file_named(tmp_path):
    import torch
    from safetensors.torch import save_file

    for path in default_model_path().iterdir():
        if path.name != KEY_SPAN_FILE:
            (tmp_path / path.name).symlink_to(path)
    save_file({"roberta.encoder.layer.0.output.dense.weight": torch.zeros(2, 2)}, str(tmp_path / KEY_SPAN_FILE))
    with pytest.raises(ValueError, match=f"{KEY_SPAN_FILE}: not a key-span head of this model"):
        KeySpanHead.load(tmp_path)


def test_occlusion_can_be_asked_for_and_a_wrong_choice_is_refused(nli_model):
    checker = Checker(nli_model, key_spans="occlusion")
    document = Document(text="The bridge over the Tagus was closed on 4 May after engineers found cracks in a pillar.", id="b")
    calls = []
    original = checker.predict
    checker.predict = lambda pairs: calls.append(len(pairs)) or original(pairs)
    (result,) = checker.check(["Engineers found cracks in the bridge."], [document]).results
    assert result.evidence[0].key_span is not None and len(calls) > 2
    with pytest.raises(ValueError, match="key_spans='head'"):
        Checker(nli_model, key_spans="head")


def test_a_claim_longer_than_the_model_reads_still_gets_a_span(head):
    claim = "The council approved the budget. " * 120  # ~720 tokens: the claim, not the passage, is cut
    passage = "The council approved the new budget on Monday after a long debate."
    (span,) = head.spans([(passage, claim, "entailment")])
    assert span is None or 0 <= span[0] < span[1] <= len(passage)
