"""The objective of every family a run can train (``family = ...`` in the training config)."""

from __future__ import annotations

from engine.errors import InputError
from engine.training.objectives.astraclr import AstraCLRObjective
from engine.training.objectives.astromer2 import Astromer2Objective
from engine.training.objectives.atcat import ATCATObjective
from engine.training.objectives.base import Objective
from engine.training.objectives.rtf import RTFObjective

OBJECTIVES: dict[str, Objective] = {
    objective.family: objective
    for objective in (ATCATObjective(), Astromer2Objective(), AstraCLRObjective(), RTFObjective())
}


def get_objective(family: str) -> Objective:
    """Return the objective that trains ``family``."""
    if family not in OBJECTIVES:
        msg = f"no training objective for family {family!r}; known: {sorted(OBJECTIVES)}"
        raise InputError(msg)
    return OBJECTIVES[family]
