"""Training objectives, one per model family, behind one small interface used by the trainer.

Import :func:`engine.training.objectives.registry.get_objective` for the objective of a family;
:mod:`engine.training.objectives.settings` holds the ``[loss]`` config of each family and is
light enough for the training config to import (this package's ``__init__`` imports nothing,
so the config and the objectives never import each other in a cycle).
"""
