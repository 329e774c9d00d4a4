import pytest
import torch

from engine.data.readers.plasticc import CLASS_NAMES
from engine.data.schema import read_table
from engine.infer import load_predictor
from engine.models.atcat.config import ATCATConfig
from engine.models.atcat.model import ATCAT
from engine.models.checkpoint import save_model
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "plasticc_fold0_sample.parquet"


@pytest.fixture(scope="session")
def sample_table():
    return read_table(SAMPLE)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A small untrained ATCAT with the PLAsTiCC classes and two metadata features."""
    torch.manual_seed(0)
    config = ATCATConfig(
        d_model=32,
        n_layers=3,
        class_names=tuple(sorted(CLASS_NAMES.values())),
        metadata_names=("hostgal_photoz", "mwebv"),
        max_points=64,
    )
    path = tmp_path_factory.mktemp("models") / "tiny-atcat"
    save_model(ATCAT(config), path, description="untrained test model")
    return path


@pytest.fixture(scope="session")
def predictor(model_dir):
    return load_predictor(model_dir)
