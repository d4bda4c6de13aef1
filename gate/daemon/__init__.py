"""The lane daemon (``egate lane --config FILE``): devices, the lane core, the outbox, the local
API and the traveller screen. See :mod:`gate.daemon.app` and docs/lane-daemon.md."""

from gate.daemon.app import LaneDaemon
from gate.daemon.devices import Devices, build_devices

__all__ = ["Devices", "LaneDaemon", "build_devices"]
