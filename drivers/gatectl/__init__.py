"""Gate controller (doors, beams, pictograms): protocol codec, host session and drivers.

See docs/gate-protocol.md for the wire protocol."""
