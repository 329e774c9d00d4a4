import gzip
import shutil

import pytest

from engine.data.readers import read_any, read_metadata
from engine.data.readers.files import sniff
from engine.errors import EmptyLightCurveError, FileTooLargeError, InputError

GOOD = "id,mjd,band,flux,flux_err\na,1.0,g,10,1\na,2.0,r,11,1\na,3.0,i,12,1\n"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: does not exist"):
        read_any(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a directory"):
        read_any(tmp_path)


def test_file_over_the_size_limit(write):
    path = write("lc.csv", GOOD)
    size = path.stat().st_size
    with pytest.raises(
        FileTooLargeError, match=rf"lc\.csv: {size} bytes is over the 10-byte limit"
    ):
        read_any(path, max_file_bytes=10)
    assert read_any(path, max_file_bytes=size)[0].height == 1


def test_metadata_file_over_the_size_limit(write):
    meta = write("meta.csv", "id,z\na," + "1" * 100 + "\n")
    with pytest.raises(FileTooLargeError, match="meta.csv"):
        read_any(write("lc.csv", GOOD), metadata_path=meta, max_file_bytes=100)


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", EmptyLightCurveError, "the file is empty"),
        ("id,mjd,band,flux,flux_err\n", EmptyLightCurveError, r"no data rows \(columns: id, mjd"),
        ("# only a comment\n", EmptyLightCurveError, "no header line"),
        (
            GOOD + "a,3.0,g,12,1,extra\n",
            InputError,
            "cannot parse as CSV: data row 4 has 6 fields, the header 5",
        ),
        (GOOD + 'a,3.0,g,"12,1\n', InputError, "cannot parse as CSV: .* is not properly escaped"),
    ],
)
def test_empty_and_malformed_csv(write, text, error, message):
    with pytest.raises(error, match=message):
        read_any(write("lc.csv", text))


def test_garbage_bytes(write):
    with pytest.raises(InputError, match=r"not a text file \(byte 1 is not UTF-8\)"):
        read_any(write("lc.csv", b"\x00\xff\xfe" * 100))
    with pytest.raises(InputError, match="binary content"):
        read_any(write("lc.csv", b"ab\x00cd" * 100))


@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")
def test_corrupt_parquet_and_fits(write):
    with pytest.raises(InputError, match=r"bad\.parquet: cannot be read as light curves"):
        read_any(write("bad.parquet", b"PAR1" + b"\x07" * 64))
    with pytest.raises(InputError, match=r"bad\.fits: cannot be read as light curves"):
        read_any(write("bad.fits", b"SIMPLE  =                    T" + b" " * 50))


def test_format_comes_from_content_not_extension(fixtures, tmp_path):
    shutil.copy(fixtures / "elasticc.parquet", tmp_path / "photometry.bin")
    assert sniff(tmp_path / "photometry.bin") == "parquet"
    assert read_any(tmp_path / "photometry.bin")[1].format == "snana"
    shutil.copy(fixtures / "elasticc_PHOT.FITS.gz", tmp_path / "z_PHOT.FITS.gz")
    assert sniff(tmp_path / "z_PHOT.FITS.gz") == "fits"


def test_gzipped_csv(tmp_path):
    with gzip.open(tmp_path / "lc.csv.gz", "wt") as handle:
        handle.write(GOOD)
    table, _ = read_any(tmp_path / "lc.csv.gz")
    assert table["flux"][0].to_list() == [10.0, 11.0, 12.0]


def test_generic_metadata_file_gives_labels_and_numbers(write):
    meta = write("meta.csv", "ID,type,z,survey,true_z\na,SNIa,0.1,x,0.11\nb,SNII,,y,0.2\n")
    frame = read_metadata(meta)
    assert frame.to_dict(as_series=False) == {
        "object_id": ["a", "b"],
        "label": ["SNIa", "SNII"],
        "z": [0.1, None],
        "survey": ["x", "y"],
    }
    table, _ = read_any(write("lc.csv", GOOD), metadata_path=meta)
    assert table["label"].to_list() == ["SNIa"] and table["z"].to_list() == [0.1]


def test_metadata_without_object_ids(write):
    with pytest.raises(InputError, match="meta.csv: no object_id column"):
        read_metadata(write("meta.csv", "z,label\n0.1,x\n"))
