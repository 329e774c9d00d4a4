"""catscope engine: light-curve data, models, training, inference and catalogue indexes.

The engine never imports :mod:`app`; everything the web app shows is computed here.
"""

__version__ = "0.1.0"
