"""Fetching timm's ImageNet weights when a user asks for them (``backbone.pretrained=true``).

The paper starts from ImageNet weights, so a user with internet should get them with one
switch: the file timm would use is fetched through the Hugging Face Hub into its usual cache
(a later run, even offline, reads the cache) and then loaded like any local file, with the
key audit of :mod:`iodvideo.models.weights`. Where the weights cannot be had — offline by
setting (``HF_HUB_OFFLINE=1``, what tests and CI use) or by network — the run stops at once
with one line that says how to pass a local file, instead of the hub client's ~20 s of
retries and a traceback.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from iodvideo.errors import ConfigError

log = logging.getLogger(__name__)

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
HUB_FILES = ("model.safetensors", "pytorch_model.bin")  # what timm publishes, in its order
PROBE_TIMEOUT_S = 3.0
HINT = ("download the file elsewhere (timm/torchvision .pth or .safetensors) and pass "
        "backbone.weights_path=/path/to/file")


def offline_setting() -> str | None:
    """The environment variable that puts this process offline (``HF_HUB_OFFLINE=1``), if any."""
    for name in OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{name}={os.environ[name]}"
    return None


def unreachable(url: str) -> str | None:
    """Why ``url``'s host cannot be reached (None: it can, or a proxy decides). A direct TCP
    connect fails in milliseconds without DNS or route, where the hub client retries."""
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return None
    parsed = urlparse(url)
    host, port = parsed.hostname or url, parsed.port or 443
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as err:
        return f"cannot reach {host} ({err})"
    return None


def fetch_imagenet_weights(model_name: str) -> Path:
    """Path of timm's default ImageNet weights for ``model_name``, from the Hugging Face cache
    or downloaded into it; a :class:`ConfigError` with one line when they cannot be had."""
    from timm.models import get_pretrained_cfg

    what = f"backbone.pretrained=true: {model_name}'s ImageNet weights"
    cfg = get_pretrained_cfg(model_name)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise ConfigError(f"{what}: timm knows no download for this model; {HINT}")
    if cfg.hf_hub_id:
        cached = _from_hub(cfg.hf_hub_id, local_only=True)
        if cached is not None:
            return cached
    reason = offline_setting()
    if reason is None:
        reason = unreachable(_endpoint() if cfg.hf_hub_id else cfg.url)
    if reason is not None:
        raise ConfigError(f"{what} are not cached and this machine is offline ({reason}); {HINT}")
    try:
        path = _from_hub(cfg.hf_hub_id) if cfg.hf_hub_id else _from_url(cfg.url)
    except Exception as err:  # the hub/HTTP clients' many error types: one line, not a traceback
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ConfigError(f"{what}: download failed ({type(err).__name__}: {first}); {HINT}") \
            from None
    if path is None:
        raise ConfigError(f"{what}: {cfg.hf_hub_id} has none of {', '.join(HUB_FILES)}; {HINT}")
    log.info("ImageNet weights of %s: %s", model_name, path)
    return path


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def _from_hub(repo_id: str, local_only: bool = False) -> Path | None:
    """The first of HUB_FILES that ``repo_id`` has; None if it has none (``local_only``: if
    none is cached). A failed download raises — "not cached" and "cannot connect" are one
    error type to the hub client, and only a file the hub says it lacks is skipped."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        from huggingface_hub.errors import RemoteEntryNotFoundError
    except ImportError:  # older clients: one EntryNotFoundError for "the hub lacks the file"
        from huggingface_hub.errors import EntryNotFoundError as RemoteEntryNotFoundError

    absent = LocalEntryNotFoundError if local_only else RemoteEntryNotFoundError
    for filename in HUB_FILES:
        try:
            return Path(hf_hub_download(repo_id, filename, local_files_only=local_only))
        except absent:
            continue
    return None


def _from_url(url: str) -> Path:
    """A plain-URL checkpoint into torch hub's cache, as timm's URL path stores it."""
    import torch

    target = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(target), progress=True)
    return target
