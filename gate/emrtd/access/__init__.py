"""Chip access control (ICAO 9303-11 section 4): BAC and PACE, and the MRZ-derived access keys."""
