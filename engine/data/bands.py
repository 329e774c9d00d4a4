"""Band registry: photometric band name -> central wavelength in Ångström.

Models consume wavelengths, never survey band indices, so a light curve from any survey can be
scored. Each band has one canonical name (``"<survey>_<filter>"``, e.g. ``"lsst_u"``) and
aliases. Multi-character names match case-insensitively with ``_``, ``-``, ``.``, ``:`` and
spaces ignored (``ZTF_g``, ``ztf-g`` and ``ztfg`` are the same band). Single characters are
case-sensitive because surveys use case to tell bands apart (``g`` vs Gaia ``G``).

Ambiguous single-letter names resolve to these documented defaults:

* ``u g r i z y`` -> LSST (the survey of the shipped PLAsTiCC models);
* ``R`` -> ZTF r (the ZTF/PTF habit of writing R for the r band);
* ``G`` -> Gaia G; ``U B V I`` -> Johnson-Cousins; ``c o`` -> ATLAS cyan/orange.

Use a survey prefix (``sdss_g``, ``ps1_r``, ``bessell_r``) or ``--band-map NAME=WAVELENGTH``
to choose otherwise. Wavelengths are effective wavelengths rounded to 1 Å, from the SVO Filter
Profile Service (LSST values as used by ATCAT); a few per cent of difference does not matter to
the models, which are trained with a random redshift of the wavelengths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.errors import InputError, UnknownBandError

#: canonical band name -> central wavelength (Å)
WAVELENGTHS: dict[str, float] = {
    # LSST (ATCAT/NOTES values)
    "lsst_u": 3671.0, "lsst_g": 4827.0, "lsst_r": 6223.0,
    "lsst_i": 7546.0, "lsst_z": 8691.0, "lsst_y": 9710.0,
    # ZTF
    "ztf_g": 4746.0, "ztf_r": 6366.0, "ztf_i": 7870.0,
    # SDSS
    "sdss_u": 3551.0, "sdss_g": 4686.0, "sdss_r": 6166.0, "sdss_i": 7480.0, "sdss_z": 8932.0,
    # Pan-STARRS1
    "ps1_g": 4811.0, "ps1_r": 6156.0, "ps1_i": 7504.0, "ps1_z": 8669.0, "ps1_y": 9613.0,
    # ATLAS
    "atlas_c": 5182.0, "atlas_o": 6629.0,
    # Gaia (DR3 passbands)
    "gaia_g": 6218.0, "gaia_bp": 5110.0, "gaia_rp": 7769.0,
    # Johnson-Cousins (Bessell 1990)
    "bessell_u": 3600.0, "bessell_b": 4380.0, "bessell_v": 5450.0,
    "bessell_r": 6410.0, "bessell_i": 7980.0,
}  # fmt: skip

_SURVEY_PREFIXES: dict[str, tuple[str, ...]] = {
    "lsst": ("lsst", "rubin", "plasticc", "elasticc"),
    "ztf": ("ztf",),
    "sdss": ("sdss",),
    "ps1": ("ps1", "panstarrs", "panstarrs1", "ps"),
    "atlas": ("atlas",),
    "gaia": ("gaia",),
    "bessell": ("bessell", "johnson", "cousins", "jc"),
}

#: case-sensitive single-character defaults (see module docstring)
_SINGLE_LETTER_DEFAULTS: dict[str, str] = {
    **{f: f"lsst_{f}" for f in "ugrizy"},
    "Y": "lsst_y",
    "R": "ztf_r",
    "G": "gaia_g",
    "U": "bessell_u",
    "B": "bessell_b",
    "V": "bessell_v",
    "I": "bessell_i",
    "c": "atlas_c",
    "o": "atlas_o",
}

_MULTI_LETTER_ALIASES: dict[str, str] = {"bp": "gaia_bp", "rp": "gaia_rp"}

_SEPARATORS = re.compile(r"[\s_\-.:]+")


def _squash(name: str) -> str:
    return _SEPARATORS.sub("", name).lower()


def _default_aliases() -> dict[str, str]:
    """Multi-character alias (squashed) -> canonical name."""
    aliases = {_squash(k): v for k, v in _MULTI_LETTER_ALIASES.items()}
    for canonical in WAVELENGTHS:
        survey, filt = canonical.split("_")
        for prefix in _SURVEY_PREFIXES[survey]:
            aliases[prefix + filt] = canonical
    return aliases


@dataclass(frozen=True)
class BandRegistry:
    """Resolve band names to canonical names and wavelengths.

    Parameters
    ----------
    extra
        User bands or overrides, ``name -> wavelength (Å)``. A name given here is kept as its
        own canonical name and wins over every built-in alias.
    """

    extra: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, wavelength in self.extra.items():
            if not (isinstance(wavelength, int | float) and 100.0 <= wavelength <= 1e6):
                msg = (
                    f"band map entry {name!r}={wavelength!r}: the wavelength must be a number "
                    "of Ångström between 100 and 1,000,000 (e.g. 'g=4770')"
                )
                raise InputError(msg)

    @property
    def known_names(self) -> list[str]:
        """Canonical names of every band, built-in and user-defined."""
        return sorted({*WAVELENGTHS, *self.extra})

    def canonical(self, name: str) -> str:
        """Canonical name of ``name``; raises :class:`UnknownBandError` if there is none."""
        name = str(name).strip()
        if name in self.extra:
            return name
        if name in _SINGLE_LETTER_DEFAULTS:
            return _SINGLE_LETTER_DEFAULTS[name]
        if name in WAVELENGTHS:
            return name
        squashed = _squash(name)
        aliases = _default_aliases()
        if squashed in aliases:
            return aliases[squashed]
        msg = (
            f"unknown band {name!r}. Known bands: {', '.join(self.known_names)} "
            "(single letters: u g r i z y = LSST, R = ZTF r, G = Gaia G, U B V I = "
            "Johnson-Cousins, c o = ATLAS). Map it with --band-map "
            f"'{name}=WAVELENGTH_IN_ANGSTROM' (or an alias, e.g. --band-map '{name}=ztf_g')."
        )
        raise UnknownBandError(msg)

    def wavelength(self, name: str) -> float:
        """Central wavelength (Å) of band ``name``."""
        canonical = self.canonical(name)
        return float(self.extra.get(canonical, WAVELENGTHS.get(canonical, 0.0)))

    def resolve(self, names: list[str]) -> dict[str, tuple[str, float]]:
        """Map each distinct name in ``names`` to ``(canonical name, wavelength)``."""
        return {n: (self.canonical(n), self.wavelength(n)) for n in dict.fromkeys(names)}


def parse_band_map(entries: list[str] | None) -> dict[str, float]:
    """Parse ``--band-map`` entries ``NAME=WAVELENGTH`` or ``NAME=KNOWN_BAND`` to a mapping."""
    mapping: dict[str, float] = {}
    base = BandRegistry()
    for entry in entries or []:
        name, sep, value = entry.partition("=")
        if not sep or not name.strip() or not value.strip():
            msg = f"--band-map entry {entry!r} is not of the form NAME=WAVELENGTH (e.g. 'w=6000')"
            raise InputError(msg)
        try:
            mapping[name.strip()] = float(value)
        except ValueError:
            mapping[name.strip()] = base.wavelength(value.strip())
    return mapping
