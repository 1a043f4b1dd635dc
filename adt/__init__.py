"""adt: the Agile Deployment Toolkit in Python."""

__version__ = "0.1.0"
