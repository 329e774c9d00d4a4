"""The one table of model families: each family's config class, model class and capabilities.

Everything that needs to know the families reads :data:`FAMILIES`: checkpoint I/O (which
classes rebuild a stored model), the model registry (what a model directory can do), and,
above this layer, training (one objective per family) and inference (one embedder per family),
whose own tables are keyed by these names and checked against this one by the tests.

Adding a family: a config dataclass (``to_dict``/``from_dict``) and a model module
(``family`` and ``config`` attributes, ``embed(batch)``) under ``engine/models/NAME/``, one
:class:`Family` entry here, an objective in ``engine/training/objectives/`` and, when
``embed`` is not all inference needs, an embedder in ``engine/infer/embedders.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from engine.models.astraclr import AstraCLR, AstraCLRConfig
from engine.models.astromer2 import Astromer2, Astromer2Config
from engine.models.atcat import ATCAT, ATCATConfig
from engine.models.rtf import RTF, RTFConfig

#: what a family can do through catscope; every family embeds
KNOWN_CAPABILITIES = frozenset({"embed", "classify", "generate", "attention", "reconstruct"})


@dataclass(frozen=True)
class Family:
    """One model family: how to rebuild its models and what they can do."""

    name: str
    config: type
    model: type[nn.Module]
    capabilities: frozenset[str]

    def __post_init__(self) -> None:
        unknown = self.capabilities - KNOWN_CAPABILITIES
        if "embed" not in self.capabilities or unknown:
            msg = f"family {self.name!r}: capabilities must include 'embed', unknown: {unknown}"
            raise ValueError(msg)


#: every family, by name (Astromer 2's per-band attention maps exist inside the model but no
#: view shows them yet, so it does not claim "attention")
FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "atcat",
            ATCATConfig,
            ATCAT,
            frozenset({"classify", "embed", "generate", "attention"}),
        ),
        Family("astromer2", Astromer2Config, Astromer2, frozenset({"embed", "reconstruct"})),
        Family("astraclr", AstraCLRConfig, AstraCLR, frozenset({"embed"})),
        Family("rtf", RTFConfig, RTF, frozenset({"embed", "reconstruct"})),
    )
}
