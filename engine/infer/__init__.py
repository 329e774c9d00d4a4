"""Inference: load a shipped or trained model and apply it to any canonical light-curve table."""

from engine.infer.batches import InferenceSettings
from engine.infer.predictor import Continuation, PointProbabilities, Predictor, load_predictor

__all__ = ["Continuation", "InferenceSettings", "PointProbabilities", "Predictor", "load_predictor"]
