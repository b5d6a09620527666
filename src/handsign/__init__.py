"""handsign: a reproducible pipeline that trains and serves hand-gesture recognisers."""

__version__ = "0.1.0"
