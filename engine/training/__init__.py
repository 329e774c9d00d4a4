"""Training of catscope models: config, augmentations, samplers, losses and the trainer.

``train(config_path)`` is what ``catscope train CONFIG.toml`` runs.
"""

from engine.training.config import TrainConfig, load_config
from engine.training.trainer import run, train

__all__ = ["TrainConfig", "load_config", "run", "train"]
