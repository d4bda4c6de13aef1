"""Root of every domain exception hierarchy in egate.

Each domain (MRZ, chip, document, face, gate controller, configuration...) subclasses
:class:`EgateError`. Messages say what failed, on which input, and what to do about it.
"""


class EgateError(Exception):
    """Base class of all errors raised on purpose by egate."""
