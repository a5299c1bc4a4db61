"""``factcheck batch --engine ray``: the jobs of a batch on a Ray cluster, through Ray Data.

The driver (the ``factcheck batch`` process) reads the jobs file and decides what
still has to run, exactly as the local engine does; the jobs then go through
``Dataset.map_batches`` on a pool of actors, each of which builds one checker
(models loaded once per actor, not per job) and runs jobs with the same
``run_task`` as the local engine. Ray Data is told to keep the input order, and
the driver writes each record as it arrives, so the output is the local
engine's, record for record, and a killed run resumes the same way.

Where Ray runs:

* no ``address``: a Ray instance on this machine, started for the batch and
  stopped after it (or the one this process has already started);
* ``address="auto"`` or ``"HOST:PORT"``: an existing cluster (``ray start --head``
  on one node, ``ray start --address HOST:PORT`` on the others). Every node needs
  factcheck installed the same way (``pip install 'factcheck[ray]'``, with the
  model), and the jobs file's folder (the directory the batch was started in,
  for relative paths) at the same path, e.g. on a shared file system, for jobs
  that name ``articles``; jobs with inline ``documents`` need nothing.

Each actor reserves ``threads`` CPUs and runs torch with that many threads; the
pool has as many actors as the cluster's CPUs allow. A pair's probabilities
depend in their last bits on the number of threads (small matrix products are
split between threads), so the output equals the local engine's when both run
with the same ``--threads`` on the same kind of CPU: the default per actor is the
number of threads torch uses here.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from factcheck.scale.batch import CheckerSettings, Task, run_task


class RayError(RuntimeError):
    """Ray is missing, or the cluster cannot be reached or cannot hold one actor."""


def _check_reachable(address: str | None) -> None:
    """Fail at once on a HOST:PORT nobody listens on: Ray itself retries for minutes, then aborts the process."""
    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayError(f"--address {address!r}: expected HOST:PORT of the cluster's head, or 'auto'")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as error:
        raise RayError(f"cannot start or reach Ray at {address}: {error.strerror or error}") from None


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Ray at ``address`` (or on this machine), started for the caller and stopped after it, unless this process
    has started Ray already."""
    try:
        import ray
    except ImportError:
        raise RayError("the ray engine needs Ray: pip install 'factcheck[ray]'") from None
    # Ray Data logs each dataset's plan and progress at INFO; our commands print their own progress and summary.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    started_here = not ray.is_initialized()
    if started_here:
        _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="error")
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise RayError(f"cannot start or reach Ray at {address or 'this machine'}: {error}") from None
    try:
        yield
    finally:
        if started_here:
            ray.shutdown()


class _JobRunner:
    """A Ray Data actor: one checker, built once, for every job it is given."""

    def __init__(self, settings: CheckerSettings, jobs_path: str, cwd: str):
        # Relative paths (the jobs file's, and through it the articles') mean what they mean to the driver.
        os.chdir(cwd)
        self.checker = settings.build()
        self.jobs_path = Path(jobs_path)

    def __call__(self, batch: dict) -> dict:
        outputs = [
            json.dumps(run_task(self.checker, self.jobs_path, Task(**json.loads(task))), ensure_ascii=False)
            for task in batch["task"]
        ]
        return {"output": outputs}


class RayEngine:
    def __init__(self, settings: CheckerSettings, *, address: str | None = None, actors: int | None = None):
        import torch

        try:
            import ray  # noqa: F401
        except ImportError:
            raise RayError("the ray engine needs Ray: pip install 'factcheck[ray]'") from None
        # The local engine's thread count unless told otherwise, so that both write the same numbers.
        threads = settings.threads or torch.get_num_threads()
        self.settings = CheckerSettings(settings.model, settings.thresholds, settings.batch_size, settings.backend, threads)
        self.address = address
        self.actors = actors

    def outputs(self, tasks: Iterable[Task], jobs_path: Path) -> Iterator[dict]:
        items = [{"task": json.dumps(asdict(task), ensure_ascii=False)} for task in tasks]
        if not items:
            return
        with ray_session(self.address):
            yield from self._run(items, jobs_path)

    def _run(self, items: list[dict], jobs_path: Path) -> Iterator[dict]:
        import ray

        threads = self.settings.threads
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < threads:
            raise RayError(f"the Ray cluster has {cpus} CPUs; an actor needs {threads} (--threads)")
        actors = self.actors or max(1, cpus // threads)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # records come back in job order, as the output needs
        context.enable_progress_bars = False  # the batch has its own
        dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 4 * actors)).map_batches(
            _JobRunner,
            fn_constructor_kwargs={"settings": self.settings, "jobs_path": str(jobs_path), "cwd": os.getcwd()},
            batch_size=1,  # a job is minutes of work for a big one: hand them out one at a time
            compute=ray.data.ActorPoolStrategy(size=min(actors, len(items))),
            num_cpus=threads,
        )
        for row in dataset.iter_rows():
            yield json.loads(row["output"])


class _Preparer:
    """A Ray Data actor of an archive build: the retriever's encoder, loaded once, for every batch of documents."""

    def __init__(self, embedder, window: int):
        self.embedder = embedder
        self.window = window

    def __call__(self, rows: dict) -> dict:
        from factcheck.pipeline.ingest import Document
        from factcheck.scale.archive import prepare

        (batch,) = rows["documents"]
        prepared = prepare([Document(**d) for d in json.loads(batch)], self.embedder, self.window)
        # Passages as offsets and embeddings as bytes: Arrow carries them as they are, and the driver rebuilds the
        # passages from the documents it holds.
        offsets = [[[p.start, p.end, p.first_sentence, p.last_sentence] for p in item.passages] for item in prepared]
        embeddings = np.concatenate([item.embeddings for item in prepared]) if prepared else np.zeros(0, np.float32)
        return {"passages": [json.dumps(offsets)], "embeddings": [embeddings.astype(np.float32).tobytes()]}


def prepare_on_ray(batches: list[list], embedder, window: int, address: str | None) -> Iterator:
    """``factcheck.scale.archive.prepare`` of every batch of documents on a pool of Ray actors (an encoder each),
    in the order given. A row is a whole batch, so the encoder sees the passages a local build gives it in one call."""
    from factcheck.pipeline.retrieve import EMBEDDING_SIZE, Embedder, Passage
    from factcheck.scale.archive import Prepared

    if not batches:
        return
    with ray_session(address):
        import ray

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # the driver writes documents in the order given
        context.enable_progress_bars = False
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        items = [{"documents": json.dumps([asdict(d) for d in batch], ensure_ascii=False)} for batch in batches]
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _Preparer,
            # A fresh encoder per actor, with this one's settings: a loaded model does not travel.
            fn_constructor_kwargs={"embedder": Embedder(embedder.model_name, embedder.device, embedder.backend), "window": window},
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=min(cpus, len(items))),
            num_cpus=1,
        )
        for batch, row in zip(batches, dataset.iter_rows()):
            vectors = np.frombuffer(row["embeddings"], dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
            start = 0
            for document, offsets in zip(batch, json.loads(row["passages"])):
                passages = [Passage(document.id, s, e, document.text[s:e], first, last) for s, e, first, last in offsets]
                yield Prepared(document, passages, vectors[start : start + len(passages)])
                start += len(passages)
