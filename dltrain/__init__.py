"""dltrain: a YAML experiment file in, a trained and honestly evaluated model out."""

__version__ = "0.1.0"
