"""micd: the major incident command daemon."""

__version__ = "0.1.0"
