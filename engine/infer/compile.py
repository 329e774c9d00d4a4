"""Optional ``torch.compile`` of a model for inference, with a persistent kernel cache.

Compilation uses dynamic shapes: length-sorted batches change size and length from batch to
batch, and static shapes would recompile for nearly every one. A cold compile takes tens of
seconds; Inductor keeps its kernels in ``TORCHINDUCTOR_CACHE_DIR``, which is pointed at
``~/.cache/catscope/inductor`` unless the user set it, so later runs reuse them. Measured on a
2-core AVX-512 CPU the compiled ATCAT was slower than eager (its time is in the SDPA kernel,
which compilation does not change), so it is off by default and meant for CUDA.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from engine.infer.batches import InferenceSettings

#: where Inductor's kernel cache goes when TORCHINDUCTOR_CACHE_DIR is not set
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "catscope" / "inductor"


def compiled(function: nn.Module | Callable, settings: InferenceSettings) -> Callable:
    """Return ``function`` (a model or a model's method), compiled if ``settings.compile``.

    Compilation is ``torch.compile(dynamic=True)``; the compiled form shares the model's
    weights, and nothing is compiled until the first call.
    """
    if not settings.compile:
        return function
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(DEFAULT_CACHE_DIR))
    return torch.compile(function, dynamic=True)
