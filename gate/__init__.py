"""egate lane daemon: everything that runs on one e-Gate lane."""

__version__ = "0.1.0"
