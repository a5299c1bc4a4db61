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
from dataclasses import asdict
from pathlib import Path

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
        import ray

        items = [{"task": json.dumps(asdict(task), ensure_ascii=False)} for task in tasks]
        if not items:
            return
        # Ray Data logs each dataset's plan and progress at INFO; the batch prints its own progress and summary.
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        started_here = not ray.is_initialized()
        if started_here:
            _check_reachable(self.address)
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False, logging_level="error")
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise RayError(f"cannot start or reach Ray at {self.address or 'this machine'}: {error}") from None
        try:
            yield from self._run(items, jobs_path)
        finally:
            if started_here:
                ray.shutdown()

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
