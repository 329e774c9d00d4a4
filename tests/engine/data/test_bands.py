import pytest

from engine.data.bands import WAVELENGTHS, BandRegistry, parse_band_map
from engine.errors import InputError, UnknownBandError


@pytest.mark.parametrize(
    ("name", "canonical", "wavelength"),
    [
        ("g", "lsst_g", 4827.0),
        ("u", "lsst_u", 3671.0),
        ("Y", "lsst_y", 9710.0),
        ("R", "ztf_r", 6366.0),
        ("G", "gaia_g", 6218.0),
        ("V", "bessell_v", 5450.0),
        ("o", "atlas_o", 6629.0),
        ("ZTF_g", "ztf_g", 4746.0),
        ("ztf-g", "ztf_g", 4746.0),
        ("ztfg", "ztf_g", 4746.0),
        ("SDSS r", "sdss_r", 6166.0),
        ("PanSTARRS1.z", "ps1_z", 8669.0),
        ("plasticc_i", "lsst_i", 7546.0),
        ("BP", "gaia_bp", 5110.0),
        (" lsst_z ", "lsst_z", 8691.0),
    ],
)
def test_names_resolve_to_canonical_band_and_wavelength(name, canonical, wavelength):
    registry = BandRegistry()
    assert registry.canonical(name) == canonical
    assert registry.wavelength(name) == wavelength


def test_single_letters_are_case_sensitive():
    registry = BandRegistry()
    assert registry.canonical("r") == "lsst_r"
    assert registry.canonical("R") == "ztf_r"
    assert registry.canonical("g") != registry.canonical("G")


def test_unknown_band_lists_known_bands_and_band_map():
    with pytest.raises(UnknownBandError) as info:
        BandRegistry().canonical("Ks")
    message = str(info.value)
    assert "unknown band 'Ks'" in message
    assert "lsst_g" in message and "ztf_r" in message
    assert "--band-map 'Ks=WAVELENGTH_IN_ANGSTROM'" in message


def test_extra_bands_win_over_aliases():
    registry = BandRegistry(extra={"g": 4770.0, "Ks": 21460.0})
    assert registry.canonical("g") == "g"
    assert registry.wavelength("g") == 4770.0
    assert registry.wavelength("Ks") == 21460.0
    assert "Ks" in registry.known_names
    assert registry.resolve(["Ks", "r", "Ks"]) == {"Ks": ("Ks", 21460.0), "r": ("lsst_r", 6223.0)}


@pytest.mark.parametrize("wavelength", [0.0, -5.0, 2e6, "6000"])
def test_extra_band_wavelength_must_be_in_range(wavelength):
    with pytest.raises(InputError, match="between 100 and 1,000,000"):
        BandRegistry(extra={"w": wavelength})


def test_parse_band_map_accepts_numbers_and_known_bands():
    assert parse_band_map(["w=6000", " x = ztf_g "]) == {"w": 6000.0, "x": WAVELENGTHS["ztf_g"]}
    assert parse_band_map(None) == {}


@pytest.mark.parametrize("entry", ["w", "=6000", "w="])
def test_parse_band_map_rejects_malformed_entries(entry):
    with pytest.raises(InputError, match="NAME=WAVELENGTH"):
        parse_band_map([entry])


def test_parse_band_map_rejects_unknown_alias():
    with pytest.raises(UnknownBandError, match="unknown band 'nonsense'"):
        parse_band_map(["w=nonsense"])
