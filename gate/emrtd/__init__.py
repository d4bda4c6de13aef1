"""eMRTD (ICAO 9303) protocol cores: pure code, bytes in and bytes out, no I/O."""
