from __future__ import annotations

import hashlib

import pytest

from gate.emrtd.crypto.kdf import ENC, MAC, derive_key
from gate.mrz import BacKey, check_digit


def test_icao_specimen_check_digits() -> None:
    # ICAO 9303 Part 3 worked example and the TD3 specimen L898902C3 / 740812 / 120415.
    assert check_digit("520727") == "3"
    assert check_digit("L898902C3") == "6"
    assert check_digit("740812") == "2"
    assert check_digit("120415") == "9"
    with pytest.raises(ValueError, match="not an MRZ character"):
        check_digit("AB-1")


def test_bac_key_seed_and_keys_match_icao_9303_11_appendix_d() -> None:
    # ICAO 9303 Part 11 Appendix D.2: MRZ information L898902C<369080619406236 and its keys.
    key = BacKey("L898902C", "690806", "940623")
    info = key.mrz_information()
    assert info == "L898902C<369080619406236"
    seed = hashlib.sha1(info.encode()).digest()[:16]
    assert seed.hex().upper() == "239AB9CB282DAF66231DC5A4DF6BFBAE"
    assert derive_key(seed, ENC, "3DES").hex().upper() == "AB94FDECF2674FDFB9B391F85D7F76F2"
    assert derive_key(seed, MAC, "3DES").hex().upper() == "7962D9ECE03D1ACD4C76089DCE131543"


def test_bac_key_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="YYMMDD"):
        BacKey("L898902C", "6908", "940623")
    with pytest.raises(ValueError, match="only 0-9"):
        BacKey("l898902c", "690806", "940623")


def test_bac_key_repr_does_not_reveal_the_access_secret() -> None:
    key = BacKey("L898902C3", "740812", "120415")
    text = repr(key) + str(key) + f"{[key]}"
    assert "L898902C3" not in text and "740812" not in text and "120415" not in text
    assert "L8" in text and "C3" in text  # still recognisable for an officer
