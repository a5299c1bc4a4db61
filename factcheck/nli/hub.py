"""Loading models: whether the Hugging Face hub can be reached, asked once, before a hub name is loaded.

huggingface_hub retries a request that fails to connect five times, 1 to 8 seconds apart: on a machine without
a network a mistyped or uncached model name printed ten retry lines and took 30 seconds to fail. A host name
that does not resolve will not resolve a second later, so where it does not, models load from the local cache
only (``local_files_only``): at once when cached, else an error that says why.
"""

from __future__ import annotations

import socket
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import urlparse

UNREACHABLE = "not a local folder, not in the local cache, and the Hugging Face hub cannot be reached from here"


@lru_cache(maxsize=1)
def hub_unreachable() -> bool:
    """True when the hub's host name does not resolve (or offline mode is set): load from the cache only."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    host = urlparse(constants.ENDPOINT).hostname  # HF_ENDPOINT, where set
    try:
        socket.getaddrinfo(host, 443)
    except (socket.gaierror, UnicodeError):
        return True
    return False


@contextmanager
def quiet_loading():
    """transformers' "Loading weights" bar off while a model loads from disk (a fraction of a second for ours, and
    a bar on every ``Checker()`` of a script or notebook); downloads keep huggingface_hub's own bars."""
    from transformers.utils import logging as transformers_logging

    shown = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            transformers_logging.enable_progress_bar()
