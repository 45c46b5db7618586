"""depinkit: an open stack for building and running a DePIN."""

__version__ = "0.1.0"
