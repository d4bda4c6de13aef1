"""Machine readable zone: parse, validate and repair (ICAO 9303 Parts 3-7)."""

from gate.mrz.checkdigit import check_digit
from gate.mrz.keys import BacKey

__all__ = ["BacKey", "check_digit"]
