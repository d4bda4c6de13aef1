"""Root of every domain exception hierarchy in egate.

Each domain (MRZ, chip, document, face, gate controller, configuration...) subclasses
:class:`EgateError`. Messages say what failed, on which input, and what to do about it; the
class says which reason code the failure means (``reason_code``).
"""


class EgateError(Exception):
    """Base class of all errors raised on purpose by egate.

    ``reason_code`` is the registered reason code (:mod:`gate.reasons`) that the error means
    when it reaches a traveller decision or a device status (``CHIP_ACCESS_DENIED``,
    ``CAMERA_NO_FRAMES``...). Errors that cannot reach one (configuration, command-line usage)
    leave it ``None``. A test checks that every code set here is registered.
    """

    reason_code: str | None = None
