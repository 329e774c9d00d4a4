import shutil
from pathlib import Path

import polars as pl
import pytest
import torch

from engine.data.plasticc import FOLDS_NAME, TABLE_NAME
from engine.data.readers.plasticc import CLASS_NAMES
from engine.data.schema import read_table
from engine.infer import load_predictor
from engine.infer.domain import DomainReference
from engine.models.astraclr import AstraCLR, AstraCLRConfig
from engine.models.astromer2 import Astromer2, Astromer2Config
from engine.models.atcat.config import ATCATConfig
from engine.models.atcat.model import ATCAT
from engine.models.checkpoint import save_model
from engine.models.rtf import RTF, RTFConfig

#: size of the tiny untrained models of the other families
SMALL = {"d_model": 16, "n_layers": 1, "n_heads": 2, "head_dim": 8}
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "plasticc_fold0_sample.parquet"


def as_plasticc_dir(table: pl.DataFrame, directory: Path) -> Path:
    """Write ``table`` and folds 0-4 (in turn) into ``directory`` as ``catscope data`` would."""
    table.write_parquet(directory / TABLE_NAME)
    folds = table.select("object_id", (pl.int_range(pl.len()) % 5).alias("fold"))
    folds.write_parquet(directory / FOLDS_NAME)
    return directory


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and the CPU is shared with other jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


@pytest.fixture(scope="session")
def domain_model_dir(tmp_path_factory, model_dir, predictor, sample_table):
    """A copy of the tiny ATCAT with a domain reference fitted on 300 sample objects."""
    path = shutil.copytree(model_dir, tmp_path_factory.mktemp("models") / "tiny-atcat-domain")
    embeddings = predictor.embed(sample_table.head(300))
    reference = DomainReference(k=5).fit(embeddings[:200], embeddings[200:], sample_table.head(200))
    return reference.save(path)


@pytest.fixture(scope="session")
def family_dirs(tmp_path_factory) -> dict[str, str]:
    """Tiny untrained models of the three new families, saved as model directories."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("family-models")
    rtf = RTF(RTFConfig(**SMALL, ffn_mult=2, decoder_layers=1, latent_dim=8, max_points=64))
    models = {
        "tiny-astromer2": Astromer2(Astromer2Config(**SMALL, window=50)),
        "tiny-astraclr": AstraCLR(AstraCLRConfig(**SMALL, max_points=64)),
        "tiny-rtf": rtf,
    }
    return {name: str(save_model(model, root / name)) for name, model in models.items()}


@pytest.fixture(scope="session")
def embedded_catalog(tmp_path_factory, model_dir, predictor, sample_table) -> Path:
    """A catalogue folder with the tiny ATCAT's embeddings of 60 sample objects (no map)."""
    import hashlib
    import json

    from engine.catalog import OBJECTS_FILE
    from engine.data.schema import write_table
    from engine.index.catalog_build import EMBEDDINGS_FILE, MANIFEST_FILE
    from engine.models.checkpoint import WEIGHTS_FILE

    folder = tmp_path_factory.mktemp("catalogues") / "embedded"
    table = sample_table.head(60)
    (folder / "tiny-atcat").mkdir(parents=True)
    write_table(table, folder / OBJECTS_FILE)
    pl.DataFrame(
        {"object_id": table["object_id"], "embedding": predictor.embed(table)}
    ).write_parquet(folder / "tiny-atcat" / EMBEDDINGS_FILE)
    sha256 = hashlib.sha256((model_dir / WEIGHTS_FILE).read_bytes()).hexdigest()
    entry = {"source": str(model_dir), "sha256": sha256, "n_reference": table.height}
    (folder / MANIFEST_FILE).write_text(json.dumps({"models": {"tiny-atcat": entry}}))
    return folder
