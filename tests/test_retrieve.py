import pytest

from factcheck.pipeline.ingest import Document
from factcheck.pipeline.retrieve import DocumentIndex, Embedder, Retriever, make_passages
from factcheck.pipeline.segment import split_sentences

TEXT = (
    "The council met on Monday. It approved a new budget for schools.\n\n"
    "Separately, the river flooded two villages. Rescue teams evacuated 300 residents.\n\n"
    "The mayor said the budget would be published next week."
)


@pytest.fixture(scope="module")
def retriever():
    return Retriever()


def test_passages_are_sentences_and_windows_within_a_paragraph():
    document = Document(text=TEXT, id="news")
    passages = make_passages(document, split_sentences(document), window=2)
    for p in passages:
        assert TEXT[p.start : p.end] == p.text
        assert "\n\n" not in p.text
    assert "The council met on Monday. It approved a new budget for schools." in {p.text for p in passages}
    assert len(passages) == 5 + 2  # five sentences, two windows inside the two-sentence paragraphs


def test_the_relevant_passage_ranks_first(retriever):
    document = Document(text=TEXT, id="news")
    (flood,), (budget,) = [
        [c.passage.text for c in hits[:1]]
        for hits in retriever.search(["How many residents were evacuated after the flood?", "Budget for schools approved"], document)
    ]
    assert "300 residents" in flood
    assert "budget for schools" in budget


def test_a_document_is_indexed_once(retriever):
    document = Document(text=TEXT, id="news")
    assert retriever.index(document) is retriever.index(document)


def test_long_documents_are_searched_whole(retriever):
    filler = " ".join(f"Paragraph {i} talks about the weather in the valley." for i in range(400))
    text = filler + "\n\nThe bridge was closed on 4 May after cracks were found. " + filler
    hits = retriever.search(["When was the bridge closed?"], Document(text=text, id="long"))[0]
    assert "bridge was closed on 4 May" in hits[0].passage.text


def test_documents_indexed_together_get_their_own_passages_and_embeddings():
    import numpy as np

    float32 = Embedder(backend="torch")  # bfloat16 embeddings move in the third decimal with the batch

    documents = [
        Document(text=TEXT, id="news"),
        Document(text="", id="empty"),
        Document(text="The bridge was closed on 4 May after cracks were found.", id="bridge"),
        Document(text=TEXT, id="news"),  # the same document twice is indexed once
    ]
    fresh = Retriever(float32, cache_size=2)
    together = fresh.indexes(documents)
    assert together[0] is together[3]
    assert [len(index.passages) for index in together] == [7, 0, 1, 7]
    for document, index in zip(documents, together):
        alone = Retriever(float32).index(document)
        assert [p.text for p in index.passages] == [p.text for p in alone.passages]
        np.testing.assert_allclose(index.embeddings, alone.embeddings, atol=1e-5)
    assert len(fresh._indexes) == 2  # no more than cache_size kept


def test_only_sentences_are_encoded_and_a_window_is_close_to_its_own_encoding():
    import numpy as np

    from factcheck.pipeline.retrieve import embed_passages

    class Counting(Embedder):
        def encode(self, texts, batch_size=64):
            self.seen = list(texts)
            return super().encode(texts, batch_size)

    document = Document(text=TEXT, id="news")
    passages = make_passages(document, split_sentences(document), window=2)
    embedder = Counting(backend="torch")
    (embeddings,) = embed_passages(embedder, [passages])
    assert embedder.seen == [s.text for s in split_sentences(document)]
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    windows = [i for i, p in enumerate(passages) if p.first_sentence != p.last_sentence]
    own = embedder.encode([passages[i].text for i in windows])
    assert ((own * embeddings[windows]).sum(axis=1) > 0.85).all()


def test_a_text_given_several_times_is_encoded_once():
    # Many claims against one article under several names (FNC-1's headlines share their bodies) encode it once.
    class Recording(Embedder):
        calls: list = []

        def encode(self, texts, batch_size=32):
            self.calls.append(list(texts))
            return super().encode(texts, batch_size)

    embedder = Recording(backend="torch")
    texts = ["The ferry terminal opened.", "It cost 84 million euros.", "The ferry terminal opened."] * 20
    embeddings = embedder.encode(texts)
    assert embedder.calls[-1] == texts[:2]
    assert embeddings.shape == (60, 384)
    assert (embeddings[::3] == embeddings[0]).all() and (embeddings[2::3] == embeddings[0]).all()
    assert (embeddings[1::3] == embeddings[1]).all() and not (embeddings[1] == embeddings[0]).all()


def test_claims_seen_before_are_embedded_again_when_the_claim_cache_is_cleared():
    small = Retriever(Embedder(backend="torch"), cache_size=1)  # keeps 16 claim embeddings
    first = [f"The council approved budget number {i}." for i in range(10)]
    second = first[:5] + [f"The river flooded village number {i}." for i in range(10)]
    small.embed_claims(first)
    embeddings = small.embed_claims(second)  # 10 + 10 new would pass 16: the cache is cleared mid-call
    assert embeddings.shape == (15, 384)
    assert (abs(embeddings[:5] - small.embed_claims(first[:5])) < 1e-5).all()


def test_indexing_prints_nothing_where_the_program_logs_warnings(capsys):
    # bm25s sets its logger to DEBUG; with a root handler at WARNING (logging.basicConfig's default) that printed
    # "Building index from tokens" for every document indexed.
    import logging

    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        DocumentIndex(Document("The ferry terminal opened on Monday. It cost 84 million euros.", "doc"))
    finally:
        root.removeHandler(handler)
    assert "Building index" not in capsys.readouterr().err


def test_texts_encoded_side_by_side_keep_their_own_embeddings_and_the_thread_count(retriever):
    import numpy as np
    import torch

    embedder = retriever.embedder
    subjects = ["The river", "A senator", "The bakery", "Our satellite", "The orchestra", "A glacier", "The hospital"]
    actions = ["flooded", "resigned", "closed", "launched", "toured", "melted", "expanded"]
    texts = [
        f"{subjects[i % 7]} {actions[(i // 7) % 7]} {'quite unexpectedly ' * (i % 4)}in {1900 + i}." for i in range(80)
    ]
    threads = torch.get_num_threads()
    together = embedder.encode(texts)
    assert torch.get_num_threads() == threads
    alone = np.stack([embedder.encode([text])[0] for text in texts])
    similarity = together @ alone.T
    # Each row is its own text's embedding, nearer to it than to any other text's (bfloat16 moves the third
    # decimal with the batch a text is padded in).
    assert list(similarity.argmax(axis=1)) == list(range(len(texts)))
    assert np.all(np.diag(similarity) > 0.99)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("breaks", ["\n\n", "\r\r", "\r\n\r\n", "\n \n", "\n\t\n", "\u2029"])
def test_windows_stay_inside_a_paragraph_whatever_line_breaks_end_it(breaks):
    text = f"The mayor spoke first. She thanked the crew.{breaks}The ferry left at noon. It carried 212 people."
    document = Document(text=text, id="d")
    passages = make_passages(document, split_sentences(document), window=2)
    # Four sentences, two windows (one a paragraph), never one across the break.
    assert len(passages) == 6
    assert not any(p.first_sentence == 1 and p.last_sentence == 2 for p in passages)
