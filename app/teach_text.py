"""Plain-language descriptions of the PLAsTiCC classes for the Teach page."""

from __future__ import annotations

#: class name -> (full name, what it is and what its light curve shows)
CLASS_TEXT: dict[str, tuple[str, str]] = {
    "SNIa": (
        "Type Ia supernova",
        "A white dwarf in a binary system grows past the mass it can support and explodes. "
        "The light rises over two to three weeks, peaks bluest first, then fades, with a second "
        "bump in the red and infrared bands a month later. Because they all peak at nearly the "
        "same brightness, astronomers use them to measure distances across the Universe.",
    ),
    "SNIa-91bg": (
        "Type Ia supernova, 91bg-like",
        "A fainter, faster cousin of the normal Type Ia. It rises and fades more quickly and looks "
        "redder, without the clear second bump in the red bands. Telling it apart from a normal "
        "Type Ia matters, because mixing them up spoils distance measurements.",
    ),
    "SNIax": (
        "Type Iax supernova",
        "A weak white-dwarf explosion that may leave part of the star behind. It looks like a dim "
        "Type Ia with a slower decline in the red bands; many are close to their host galaxy's "
        "centre. It is one of the hardest classes to separate from normal Type Ia.",
    ),
    "SNII": (
        "Type II supernova",
        "The core of a massive star, still wrapped in hydrogen, collapses. After a quick rise the "
        "light often stays on a long plateau for about a hundred days while the hydrogen layer "
        "cools, and the blue bands fade faster than the red ones.",
    ),
    "SNIbc": (
        "Type Ib/c supernova",
        "A massive star that lost its outer hydrogen (and sometimes helium) layers collapses. The "
        "light curve is narrower than a Type II, with no plateau, and looks a lot like a Type Ia "
        "that is a little fainter and redder.",
    ),
    "SLSN-I": (
        "Superluminous supernova",
        "An explosion ten to a hundred times brighter than ordinary supernovae, perhaps powered "
        "by a newborn, fast-spinning magnetar. It rises and fades slowly over months and is "
        "usually far away, so time dilation stretches its light curve even more.",
    ),
    "TDE": (
        "Tidal disruption event",
        "A star passes too close to a supermassive black hole and is torn apart. The flare is very "
        "blue and stays blue while it fades slowly, in the centre of its galaxy. The steady colour "
        "is what sets it apart from supernovae, which redden as they cool.",
    ),
    "KN": (
        "Kilonova",
        "The glow after two neutron stars merge, where heavy elements like gold are made. It is "
        "very rare, faint and fast: the light fades within days and turns red quickly, so a survey "
        "catches only a few points. It is the class most worth finding early.",
    ),
    "AGN": (
        "Active galactic nucleus",
        "Gas falling into a supermassive black hole at the centre of a galaxy. The brightness "
        "wanders up and down at random over months and years in every band at once, with no single "
        "explosion: the light curve looks like a slow, noisy walk.",
    ),
    "M-dwarf": (
        "M-dwarf flare",
        "A small, cool star in our Galaxy that suddenly flares from magnetic activity. Most of the "
        "time it is flat; a flare is a sharp jump lasting minutes to hours, so it often shows up "
        "as one or two bright points, strongest in the blue bands.",
    ),
    "EB": (
        "Eclipsing binary",
        "Two stars orbiting each other, lined up so that one passes in front of the other. The "
        "light is steady with regular dips at the eclipses, repeating with the orbital period. "
        "The periodogram and phase folding reveal the repeating pattern.",
    ),
    "RRL": (
        "RR Lyrae star",
        "An old pulsating star in our Galaxy that swells and shrinks about every half day. Its "
        "light rises fast and falls slowly, again and again, with the same period in every band. "
        "Fold it at the best period to see one clean cycle.",
    ),
    "Mira": (
        "Mira variable",
        "A cool giant star pulsating slowly, with periods of hundreds of days and large swings in "
        "brightness, especially in the blue bands. Over a survey's few years you see only a few "
        "long, smooth cycles.",
    ),
    "μLens-Single": (
        "Single-lens microlensing",
        "A star or planet passes in front of a more distant star and its gravity bends the light "
        "like a lens. The background star brightens smoothly and symmetrically, by the same factor "
        "in every band, then returns to normal: the colour does not change.",
    ),
}

#: shown for a class without its own text
GENERIC_TEXT = (
    "A class of this catalogue without a description yet. Look at how fast the light rises and "
    "fades, whether it repeats (try the periodogram), and whether its colour changes with time."
)


def describe_class(name: str) -> tuple[str, str]:
    """(title, plain-language text) of class ``name``."""
    return CLASS_TEXT.get(name, (name, GENERIC_TEXT))


#: what the model does, in plain words, shown above the examples
MODEL_TEXT = (
    "The model reads a light curve one observation at a time, each with its time, band and "
    "brightness, and after every point it updates how likely each class is. It learns which shapes "
    "(how fast the light rises, how long it lasts, whether it repeats, how the colours change) "
    "belong to which class from thousands of labelled examples."
)
