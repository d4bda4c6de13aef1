"""Hardware simulator: the device side of every driver, synthetic passports, scenarios."""
