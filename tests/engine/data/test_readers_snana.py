import gzip
import shutil

import numpy as np
import polars as pl
import pytest
from astropy.io import fits
from astropy.table import Table
from polars.testing import assert_frame_equal

from engine.data.readers import read_any
from engine.data.readers.snana import is_snana, partner
from engine.errors import InputError, InvalidValueError, MissingColumnError

POINT_COLUMNS = ["object_id", "time", "band", "wavelength", "flux", "flux_err", "detected"]


@pytest.fixture
def elasticc(fixtures) -> pl.DataFrame:
    """The ELAsTiCC-style Parquet fixture as its raw long table."""
    return pl.read_parquet(fixtures / "elasticc.parquet")


def test_parquet(fixtures, elasticc):
    table, report = read_any(fixtures / "elasticc.parquet")
    assert report.format == "snana"
    assert report.columns["detected"] == "PHOTFLAG"
    assert table["object_id"].to_list() == ["1001", "1002"]
    raw = elasticc.filter(pl.col("SNID") == "1002").sort("MJD")
    row = table.row(1, named=True)
    assert row["time"] == raw["MJD"].to_list()
    assert row["flux"] == pytest.approx(raw["FLUXCAL"].to_list(), rel=1e-6)
    assert row["flux_err"] == pytest.approx(raw["FLUXCALERR"].to_list(), rel=1e-6)
    assert row["detected"] == (raw["PHOTFLAG"] == 4096).to_list()
    assert row["band"] == ["lsst_u", "lsst_u", "lsst_g", "lsst_g", "lsst_r", "lsst_r",
                           "lsst_i", "lsst_i", "lsst_z", "lsst_z", "lsst_y", "lsst_y"]  # fmt: skip
    assert row["wavelength"][-1] == 9710.0  # 'Y' is LSST y


@pytest.mark.parametrize("name", ["elasticc_HEAD.FITS.gz", "elasticc_PHOT.FITS.gz"])
def test_head_phot_pair_from_either_file(fixtures, name):
    table, report = read_any(fixtures / name)
    parquet, _ = read_any(fixtures / "elasticc.parquet")
    assert report.source.endswith("elasticc_PHOT.FITS.gz")
    assert_frame_equal(table.select(POINT_COLUMNS), parquet)  # -777 end markers dropped
    assert table["mwebv"].to_list() == [0.021, 0.05]
    assert table["hostgal_photoz"].to_list() == [0.31, None]  # -9: no host
    assert table["dec"].to_list() == [-44.0, -9.5]  # negative, not a "no value"
    assert not [c for c in table.columns if c.upper().startswith("SIM_")]


def test_single_fits_table_with_bytes_bands(fixtures, tmp_path, elasticc):
    table = Table({name: elasticc[name].to_numpy() for name in elasticc.columns})
    table["SNID"] = table["SNID"].astype("S4")
    table["BAND"] = np.char.ljust(table["BAND"].astype("S2"), 2)  # b'u ' as SNANA pads them
    table.write(tmp_path / "lc.fits")
    from_fits, report = read_any(tmp_path / "lc.fits")
    parquet, _ = read_any(fixtures / "elasticc.parquet")
    assert report.format == "snana"
    assert_frame_equal(from_fits, parquet)


def test_phot_without_head_is_an_error(fixtures, tmp_path):
    shutil.copy(fixtures / "elasticc_PHOT.FITS.gz", tmp_path / "x_PHOT.FITS.gz")
    with pytest.raises(MissingColumnError, match="needs x_HEAD.FITS.gz next to it"):
        read_any(tmp_path / "x_PHOT.FITS.gz")


def test_head_pointing_outside_phot_is_an_error(fixtures, tmp_path):
    shutil.copy(fixtures / "elasticc_PHOT.FITS.gz", tmp_path / "y_PHOT.FITS.gz")
    head = Table.read(fixtures / "elasticc_HEAD.FITS.gz")
    head["PTROBS_MAX"][1] = 500
    head.write(tmp_path / "y_HEAD.FITS")
    with gzip.open(tmp_path / "y_HEAD.FITS.gz", "wb") as out:
        out.write((tmp_path / "y_HEAD.FITS").read_bytes())
    with pytest.raises(
        InvalidValueError, match=r"HEAD row 2 points at PHOT rows 20\.\.500, outside 1\.\.32"
    ):
        read_any(tmp_path / "y_HEAD.FITS.gz")


def test_fits_without_a_table(tmp_path):
    fits.PrimaryHDU(np.zeros((2, 2))).writeto(tmp_path / "image.fits")
    with pytest.raises(InputError, match="no table in this FITS file"):
        read_any(tmp_path / "image.fits")


def test_partner_names(tmp_path):
    assert partner(tmp_path / "A_HEAD.FITS.gz", "PHOT") == tmp_path / "A_PHOT.FITS.gz"
    assert partner(tmp_path / "a_phot.fits", "HEAD") == tmp_path / "a_head.fits"
    assert partner(tmp_path / "lc.fits", "HEAD") is None
    assert is_snana(["SNID", "MJD", "FLT", "FLUXCAL", "FLUXCALERR"])
    assert not is_snana(["id", "mjd", "band", "flux", "flux_err"])
