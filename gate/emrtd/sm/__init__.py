"""Secure messaging (ICAO 9303-11 section 9.8): protecting and unprotecting APDUs."""
