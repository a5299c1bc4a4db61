"""The ``Checker``: claims against documents, with verdicts and evidence spans.

    >>> from factcheck import Checker
    >>> checker = Checker()                                      # the shipped NLI model, on the CPU
    >>> report = checker.check(["The council met on May 3."], ["articles/"])   # doctest: +SKIP
    >>> report.results[0].verdict, report.results[0].evidence[0].text          # doctest: +SKIP

Flow: ingest -> segment -> claims -> retrieve -> infer -> aggregate -> report.
Every NLI call of a ``check`` goes through one batched, de-duplicated pass,
and results of (evidence, claim) pairs are remembered across calls; passages
that the "unrelated" rule rules out are not sent to the model at all.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np

from factcheck.nli.data import LABELS
from factcheck.nli.infer import NLIModel, as_pairs
from factcheck.nli.key_spans import KeySpanHead
from factcheck.pipeline.aggregate import (
    FINE_REGION,
    KeySpanSearch,
    Thresholds,
    VerdictModel,
    apply_rules,
    decide,
    span_of_evidence,
    unrelated,
    verdict_model_for,
)
from factcheck.pipeline.claims import Claim, as_claims, extract_claims
from factcheck.pipeline.ingest import Document, distinguishing_ends, load_documents
from factcheck.pipeline.retrieve import DocumentIndex, Embedder, Retriever
from factcheck.results import NOT_MENTIONED, SUPPORTED, ClaimResult, Comparison, Evidence, Report
from factcheck.scale.archive import Archive

DocumentLike = str | Path | Document
T = TypeVar("T")


def _usable_device(device: str) -> str:
    """The device, if torch can run there; a clear error now rather than deep in torch at the first check."""
    if device == "cpu":
        return device
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={device!r}: {error}") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: torch {torch.__version__} sees no CUDA GPU here; use device='cpu'")
    return device


def _unheld_name(document: Document, held: Callable[[str], bool]) -> str:
    """A name for ``document`` that ``held`` says no source has: its file's folder and name, or ``<id> (article)``
    (never more of the path: names go into reports, and a path of the machine must not)."""
    parts = Path(document.path).resolve().with_suffix("").parts if document.path else ()
    for candidate in ["/".join(parts[-2:])] * (len(parts) > 1) + [f"{document.id} (article)"]:
        if not held(candidate):
            return candidate
    raise ValueError(f"{document.id}: every name for it is a source's already")


def taken_from(claim: Claim, document: Document) -> bool:
    """Whether the claim was taken from this very document, which is not checked against itself: the claim's
    source has the document's id and, at the claim's offsets (anywhere, for a claim without them), its words.
    A document of that id with other text (another outlet's file of the same name, a later version) is checked."""
    if claim.document_id != document.id:
        return False
    if claim.start is None or claim.end is None:
        return claim.text in document.text
    return document.text[claim.start : claim.end] == claim.text


def _dated(results: list[ClaimResult], documents: list[Document]) -> list[ClaimResult]:
    """Each result with its source's date, where the source gives one."""
    dates = {d.id: d.date for d in documents}
    for result in results:
        result.document_date = dates.get(result.document_id)
    return results


# Text indexed together (see ``Checker._indexed_in_groups``): about 3,500 news sentences.
GROUP_CHARACTERS = 500_000


class Checker:
    def __init__(
        self,
        model: NLIModel | str | Path | None = None,
        device: str = "cpu",
        *,
        top_k: int = 6,
        window: int = 2,
        thresholds: Thresholds | None = None,
        key_spans: bool | str = True,
        batch_size: int = 32,
        show_progress: bool = False,
        backend: str = "auto",
        verdicts: VerdictModel | str | None = None,
    ):
        self._model_arg = model
        self.device = _usable_device(device)
        self.backend = backend
        # How a source's passages become a verdict: by the strongest passages (None, the default), or by the learned
        # decision ("learned": the one fitted for this NLI model, else the shipped model's; or a VerdictModel).
        if verdicts == "learned":
            folder = model.name_or_path if isinstance(model, NLIModel) else str(model) if model is not None else None
            verdicts = verdict_model_for(folder)
        elif isinstance(verdicts, str):
            raise ValueError(f"verdicts={verdicts!r}: use None (by the strongest passages), 'learned' or a VerdictModel")
        self.verdicts = verdicts
        if thresholds is not None and not isinstance(thresholds, Thresholds):
            raise TypeError(f"thresholds: a Thresholds, e.g. Thresholds(contradict=0.8), not {type(thresholds).__name__}")
        self.thresholds = thresholds or Thresholds()
        for name, value in (("top_k", top_k), ("window", window), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}: a whole number, 1 or more")
        if key_spans not in (True, False, "occlusion"):
            raise ValueError(f"key_spans={key_spans!r}: True (the model's key-span head, else occlusion), 'occlusion' or False")
        self.key_spans = key_spans
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.retriever = Retriever(Embedder(device=device, backend=backend), window=window, top_k=top_k)
        self._pair_cache: dict[tuple[str, str], np.ndarray] = {}

    @property
    def thresholds(self) -> Thresholds:
        return self._thresholds

    @thresholds.setter
    def thresholds(self, thresholds: Thresholds) -> None:
        # The operating points a user leaves unset are the decision's: filled in whenever thresholds are set.
        self._thresholds = thresholds.resolved(self.verdicts)

    @cached_property
    def nli(self) -> NLIModel:
        if isinstance(self._model_arg, NLIModel):
            return self._model_arg
        return NLIModel(self._model_arg, device=self.device, backend=self.backend)

    @cached_property
    def key_span_head(self) -> KeySpanHead | None:
        """The NLI model's key-span head, where its folder holds one; None for a model without (a hub model)."""
        folder = Path(self.nli.name_or_path)
        if not folder.is_dir():
            return None
        import torch

        dtype = torch.bfloat16 if self.nli.backend == "torch-bf16" else None
        return KeySpanHead.load(folder, dtype=dtype, tokenizer=self.nli.tokenizer)

    def clear_cache(self) -> None:
        """Forget remembered NLI results, claim embeddings and document indexes, e.g. between independent jobs of
        a batch.

        A pair's probabilities, a claim's embedding and a document's passage embeddings depend in their last bits
        on the batch they were padded with (a document's sentences are encoded with those of the documents indexed
        beside it), so a job that must come out the same whether or not other jobs ran before it starts from
        empty caches: with the indexes kept, a resumed batch picked other passages for a job than the
        uninterrupted run had. An archive's indexes are its stored embeddings, the same whoever reads them.
        """
        self._pair_cache.clear()
        self.retriever.clear()

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Calibrated NLI probabilities, each distinct pair computed once per checker."""
        pairs = as_pairs(pairs)
        missing = list(dict.fromkeys(p for p in pairs if p not in self._pair_cache))
        if missing:
            probs = self.nli.predict(missing, batch_size=self.batch_size, show_progress=self.show_progress)
            self._pair_cache.update(zip(missing, probs))
        return np.array([self._pair_cache[p] for p in pairs]).reshape(len(pairs), len(LABELS))

    def extract(self, document: DocumentLike) -> list[Claim]:
        """The check-worthy claims of one article, with spans and attribution."""
        (doc,) = load_documents([document])
        return extract_claims(doc)

    def _claims_of(self, document: Document) -> list[Claim]:
        # The retrieval index has split the document already; splitting a long one again would cost seconds.
        return extract_claims(document, self.retriever.index(document).sentences)

    def check(
        self,
        claims: Iterable[str | Claim] | str | Claim,
        documents: Iterable[DocumentLike] | DocumentLike | Archive,
        *,
        top_documents: int | None = 20,
    ) -> Report:
        """Every claim against every document; against an ``Archive``, against the documents that bear on it: the
        ``top_documents`` whose passages bear on it most, or all of them (``None``). An archive's documents without
        a passage that the "unrelated" rule lets through have no row (they could only be "not mentioned"); a
        claim that none bears on keeps its row in the summary. The checker's ``top_k`` is the passages judged in
        each document."""
        claim_list = as_claims(claims)
        if isinstance(documents, Archive):
            return self._check_archive(claim_list, documents, top_documents)
        docs = load_documents(documents)
        return Report(_dated(self._check(claim_list, docs), docs), claim_list)

    def check_claims_of(
        self,
        article: DocumentLike,
        sources: Iterable[DocumentLike] | DocumentLike | Archive,
        *,
        top_documents: int | None = 20,
    ) -> Report:
        """The check-worthy claims of ``article`` (``extract``) against ``sources``, never against the article itself:
        a source with the article's very text (the same file again, a copy under another name, also with one more
        line break at its end) is left out. Every other source is checked, also one that has the article's id (an
        older version of a file of the same name): the article is then named by more of its path (``nyt/article``)
        or, lacking one, ``<id> (article)``, and its claims with it."""
        document = self._one_document(article)
        if isinstance(sources, Archive):
            copies = set(sources.ids_of(document.text))
            held = sources.__contains__
        else:
            documents = load_documents(sources)
            copies = {d.id for d in documents if d.text.strip() == document.text.strip()}  # as Archive.ids_of
            others = [d for d in documents if d.id not in copies]
            held = {d.id for d in others}.__contains__
        if document.id not in copies and held(document.id):
            document = replace(document, id=_unheld_name(document, held))
        claims = self._claims_of(document)
        if isinstance(sources, Archive):
            return self._check_archive(claims, sources, top_documents, leave_out=copies)
        return Report(_dated(self._check(claims, others), others), claims)

    def _check_archive(
        self, claims: list[Claim], archive: Archive, top_documents: int | None, leave_out: set[str] = frozenset()
    ) -> Report:
        """Each claim against the archive's documents that bear on it (but those of ``leave_out``), through the
        per-document flow of ``_check``, with the archive's stored embeddings; results by claim, then by the
        documents' rank, and for each claim how many documents bearing on it were beyond ``top_documents``."""
        if top_documents is not None and (not isinstance(top_documents, int) or isinstance(top_documents, bool) or top_documents < 1):
            raise ValueError(f"top_documents={top_documents!r}: a number of documents (1 or more), or None for all")
        archive.check_retriever(self.retriever)
        texts = [c.text for c in claims]
        # The documents left out (the article's copies, a claim's own article) must not use up a claim's
        # ``top_documents``: they are taken out of the ranking first, and the claim's own article, which only its
        # text can tell, is read one beyond them. The whole ranking is asked for, so that the report can say how
        # many documents bearing on a claim were not checked.
        ranked = [
            [doc_id for doc_id in ids if doc_id not in leave_out]
            for ids in archive.related(texts, self.retriever.embed_claims(texts), None, self.thresholds)
        ]
        related = ranked
        if top_documents is not None:
            related = [
                ids[: top_documents + (claims[i].document_id in ids[:top_documents])] for i, ids in enumerate(ranked)
            ]
        rank = {(i, doc_id): r for i, ids in enumerate(related) for r, doc_id in enumerate(ids)}
        claims_of: dict[str, list[int]] = {}
        for i, ids in enumerate(related):
            for doc_id in ids:
                claims_of.setdefault(doc_id, []).append(i)
        jobs, documents = [], []
        ids = list(claims_of)
        for start in range(0, len(ids), self.retriever.cache_size):
            for document in archive.indexes(ids[start : start + self.retriever.cache_size], self.retriever):
                documents.append(document)
                members = [i for i in claims_of[document.id] if not taken_from(claims[i], document)]
                found = self.retriever.search([texts[i] for i in members], document)
                jobs.extend((i, claims[i], document, candidates) for i, candidates in zip(members, found))
        jobs.sort(key=lambda job: (job[0], rank[job[0], job[2].id]))
        not_checked = Counter({i: len(ids) - len(related[i]) for i, ids in enumerate(ranked)})
        if top_documents is not None:  # the one read beyond them, where the claim's own article was not among them
            per_claim: Counter = Counter()
            kept = []
            for job in jobs:
                per_claim[job[0]] += 1
                if per_claim[job[0]] <= top_documents:
                    kept.append(job)
                else:
                    not_checked[job[0]] += 1
            jobs = kept
        unchecked = {claims[i].id: n for i, n in not_checked.items() if n}
        return Report(_dated(self._judge([job[1:] for job in jobs]), documents), claims, not_checked=unchecked)

    @classmethod
    def comparison_pair(cls, a: DocumentLike, b: DocumentLike, *, encoding: str | None = None) -> tuple[Document, Document]:
        """The two documents of a comparison, one from each argument, with ids that tell them apart. The same file
        twice is a fair question (the answer: everything agrees): the second copy is "<id> (again)". ``encoding``
        is the files', as ``load_documents`` takes it."""
        doc_a, doc_b = cls._one_document(a, encoding), cls._one_document(b, encoding)
        if doc_b.id != doc_a.id:
            return doc_a, doc_b
        paths = [Path(d.path).resolve().with_suffix("") if d.path else None for d in (doc_a, doc_b)]
        if None not in paths and paths[0] != paths[1]:  # two files of the same name: nyt/article, wapo/article
            end_a, end_b = distinguishing_ends(paths)
            return replace(doc_a, id=end_a), replace(doc_b, id=end_b)
        # The same text twice is one article again; two texts under one id (Documents, records) are A and B.
        return doc_a, replace(doc_b, id=f"{doc_b.id} ({'again' if doc_b.text == doc_a.text else 'B'})")

    def compare(self, a: DocumentLike, b: DocumentLike) -> Comparison:
        """The claims of A checked against B, and those of B against A."""
        doc_a, doc_b = self.comparison_pair(a, b)
        claims_a, claims_b = self._claims_of(doc_a), self._claims_of(doc_b)
        results = self._check(claims_a, [doc_b]) + self._check(claims_b, [doc_a])
        return Comparison(results, claims_a + claims_b, document_a=doc_a.id, document_b=doc_b.id)

    def check_pairs(self, pairs: Iterable[tuple[str | Claim, DocumentLike]]) -> list[ClaimResult]:
        """Each claim against its own document (claim-evidence benchmarks, one source per claim), in one NLI pass.
        One claim may come in several pairs (a claim with several evidence documents); two different claims may not
        share an id."""
        pairs = list(pairs)
        for number, pair in enumerate(pairs, start=1):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise TypeError(f"pair {number}: a (claim, document) pair, not {pair!r:.80}")
        claim_list, first_pair = [], {}
        for number, (item, _) in enumerate(pairs, start=1):
            if not isinstance(item, (str, Claim)):
                raise TypeError(f"pair {number}: the claim must be a string or Claim, got {type(item).__name__}")
            claim = item if isinstance(item, Claim) else Claim(item.strip(), id=f"claim-{number}")
            if claim.id in first_pair and claim_list[first_pair[claim.id] - 1] != claim:
                raise ValueError(f"pairs {first_pair[claim.id]} and {number} give two different claims the id {claim.id!r}")
            first_pair.setdefault(claim.id, number)
            claim_list.append(claim)
        docs = [self._one_document(document) for _, document in pairs]
        # Claims that share a document are retrieved together: one index, one batch of claim embeddings.
        by_document: dict[tuple[str, str], list[int]] = {}
        for i, doc in enumerate(docs):
            by_document.setdefault((doc.id, doc.text), []).append(i)
        candidates: list[list] = [[] for _ in pairs]
        self.retriever.embed_claims([claim.text for claim in claim_list])  # in one call, not one per document
        for group in self._indexed_in_groups(list(by_document.values()), lambda members: docs[members[0]]):
            for members, index in group:
                found = self.retriever.search([claim_list[i].text for i in members], index)
                for i, cands in zip(members, found):
                    candidates[i] = cands
        return self._judge(list(zip(claim_list, docs, candidates)))

    def _indexed_in_groups(
        self, items: list[T], document_of: Callable[[T], Document] = lambda d: d
    ) -> Iterator[list[tuple[T, DocumentIndex]]]:
        """The items with their documents' indexes, a group at a time, each group's documents indexed in one pass.

        A group holds documents up to ``GROUP_CHARACTERS`` of text (at least one): the encoder batches the
        sentences of a whole group by length, and 1,000 five-sentence documents encode 15% faster in two groups
        than in eight of 128 (on an AMX Xeon, 1,270 against 1,100 texts/s), while the indexes held at once stay a
        few megabytes.
        """
        groups: list[list[T]] = [[]]
        size = 0
        for item in items:
            if size >= GROUP_CHARACTERS:
                groups.append([])
                size = 0
            groups[-1].append(item)
            size += len(document_of(item).text)
        for group in filter(None, groups):
            yield list(zip(group, self.retriever.indexes([document_of(item) for item in group])))

    @staticmethod
    def _one_document(document: DocumentLike, encoding: str | None = None) -> Document:
        found = load_documents(document, encoding=encoding)
        if len(found) != 1:
            raise ValueError(f"{document}: one document expected here, this gives {len(found)}")
        return found[0]

    def _check(self, claims: list[Claim], documents: list[Document]) -> list[ClaimResult]:
        jobs = []  # (claim, document, candidates)
        for group in self._indexed_in_groups(documents):
            for document, index in group:
                targets = [c for c in claims if not taken_from(c, document)]
                for claim, candidates in zip(targets, self.retriever.search([c.text for c in targets], index)):
                    jobs.append((claim, document, candidates))
        return self._judge(jobs)

    def _judge(self, jobs: list[tuple[Claim, Document, list]]) -> list[ClaimResult]:
        # Most (claim, source) checks of a large run are against sources about something else: their passages
        # are unrelated to the claim, count for nothing whatever the model says, and are not sent to it.
        related = [
            [not unrelated(claim.text, cand.passage.text, cand.similarity, self.thresholds) for cand in cands]
            for claim, _, cands in jobs
        ]
        probs = self.predict(
            [
                (cand.passage.text, claim.text)
                for (claim, _, cands), keep in zip(jobs, related)
                for cand, k in zip(cands, keep)
                if k
            ]
        )
        results, cursor = [], 0
        for (claim, document, candidates), keep in zip(jobs, related):
            passages = []
            for cand, k in zip(candidates, keep):
                judged = Evidence(
                    document.id,
                    cand.passage.start,
                    cand.passage.end,
                    cand.passage.text,
                    {label: round(float(x), 6) for label, x in zip(LABELS, probs[cursor])} if k else None,
                    round(cand.score, 6),
                    round(cand.similarity, 6),
                    rule=None if k else "unrelated",
                )
                cursor += k
                passages.append(apply_rules(claim.text, judged, self.thresholds) if k else judged)
            results.append(decide(claim, document.id, passages, self.thresholds, self.verdicts))
        for result, tokens in self._cut_to_fit(jobs, related, results):
            if tokens is None:
                result.warnings.append(
                    f"a passage of this source is, with the claim, longer than the {self.nli.max_length} tokens the NLI "
                    "model reads at once: only its beginning was judged"
                )
                continue
            result.warnings.append(
                f"the claim is {tokens} tokens: with its evidence it exceeds the "
                f"{self.nli.max_length} tokens the NLI model reads at once, so only its beginning was checked; "
                "split it into shorter claims"
            )
        if self.key_spans:
            self.explain(results)
        return results

    def _cut_to_fit(
        self, jobs: list, related: list[list[bool]], results: list[ClaimResult]
    ) -> list[tuple[ClaimResult, int | None]]:
        """The results of which a judged pair was too long to be read whole: with the claim's token count where the
        claim is long, None where a passage is (sentences are cut to fit, but odd text can hold many tokens a word)."""
        texts = list({claim.text for claim, _, _ in jobs})
        counts = self.nli.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"] if texts else []
        # Only a claim of a quarter of the model's length or more, or a pair of many characters (a token is at least
        # one), can be cut; the rest are not tokenised again with their passages.
        long_claims = {text: len(ids) for text, ids in zip(texts, counts) if len(ids) >= self.nli.max_length // 4}
        cut = []
        for (claim, _, candidates), keep, result in zip(jobs, related, results):
            long = claim.text in long_claims
            pairs = [
                (cand.passage.text, claim.text)
                for cand, k in zip(candidates, keep)
                if k and (long or len(cand.passage.text) + len(claim.text) > self.nli.max_length)
            ]
            if pairs and any(self.nli.overlong(pairs)):
                cut.append((result, long_claims.get(claim.text)))
        return cut

    def explain(self, results: list[ClaimResult], *, exhaustive: bool = False) -> None:
        """Give each deciding passage its key span, where no rule has already explained it.

        ``check`` does this itself unless the checker was made with ``key_spans=False``; a benchmark run
        leaves it off and explains only the results a reader will look at. Where the NLI model has a key-span head
        (the shipped one does, ``factcheck.nli.key_spans``), one forward pass a passage predicts the span;
        elsewhere, or with ``key_spans="occlusion"``, an occlusion search removes words and asks the model again
        (``KeySpanSearch``: the searches of all results side by side, one batched model call a round, a handful of
        rounds, about 12 model calls a news passage; its spans are shorter and closer to the exhaustive search's
        than the head's, see the model card). ``exhaustive=True`` removes every three-word window of each passage
        instead: the search the head was trained to predict, about 40 model calls a news passage.
        """
        # A rule's key span (the quotation, the rival value, the negation) stays; an occlusion span is searched
        # again when the exhaustive search is asked for.
        todo = [
            r
            for r in results
            if r.verdict != NOT_MENTIONED
            and r.evidence
            and r.evidence[0].probabilities
            and (r.evidence[0].key_span is None or exhaustive and r.evidence[0].rule is None)
        ]
        if not todo:
            return
        # The NLI probability that made each passage decide (a rule-decided one has its key span already).
        labels = [LABELS.index("entailment" if r.verdict == SUPPORTED else "contradiction") for r in todo]
        if self.key_spans != "occlusion" and not exhaustive and self.key_span_head is not None:
            spans = self.key_span_head.spans(
                [(r.evidence[0].text, r.claim.text, LABELS[i]) for r, i in zip(todo, labels)], batch_size=self.batch_size
            )
            for r, span in zip(todo, spans):
                r.evidence[0].key_span = span_of_evidence(r.evidence[0], span)
            return
        fine_region = math.inf if exhaustive else FINE_REGION
        searches = [
            KeySpanSearch(r.evidence[0].text, r.evidence[0].probabilities[LABELS[i]], fine_region=fine_region)
            for r, i in zip(todo, labels)
        ]
        while pending := [(r, i, search) for r, i, search in zip(todo, labels, searches) if not search.done]:
            variants = [search.variants() for _, _, search in pending]
            probs = self.predict([(v, r.claim.text) for (r, _, _), texts in zip(pending, variants) for v in texts])
            cursor = 0
            for (_, index, search), texts in zip(pending, variants):
                search.update(probs[cursor : cursor + len(texts), index])
                cursor += len(texts)
        for r, search in zip(todo, searches):
            r.evidence[0].key_span = search.key_span(r.evidence[0])
