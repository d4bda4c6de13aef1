"""Every vector of icao9303_vectors.json (gmrtd, ICAO 9303-11 Appendix D and G.1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gate.emrtd.access.bac import BACCard, BACTerminal, document_basic_access_keys, key_seed
from gate.emrtd.access.pace import PACETerminal, mrz_password
from gate.emrtd.iso7816.apdu import CommandAPDU, decode_command, decode_response
from gate.emrtd.lds.securityinfos import PACEInfo, parse_card_access
from gate.emrtd.sm.sm import SecureMessaging
from gate.mrz.keys import BacKey


@pytest.fixture(scope="module")
def vectors(testdata_dir: Callable[..., Path]) -> dict[str, Any]:
    path = testdata_dir("icao_vectors", "gmrtd", "icao9303_vectors.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _hex(v: dict[str, Any], key: str) -> bytes:
    return bytes.fromhex(v[key]["value"])


def _mrz_info(m: dict[str, Any]) -> str:
    return BacKey(
        m["document_number"]["value"], m["date_of_birth"]["value"], m["date_of_expiry"]["value"]
    ).mrz_information()


def test_bac_appendix_d(vectors: dict[str, Any]) -> None:
    v = vectors["bac_icao9303_p11_appendix_D"]
    info = _mrz_info(v["mrz_info"])
    assert info == v["mrz_info"]["mrz_information_string_from_comment"]["value"]
    assert key_seed(info) == _hex(v, "kseed")
    assert document_basic_access_keys(info) == (_hex(v, "kenc"), _hex(v, "kmac"))
    bac = BACTerminal(info)
    (gc, ma) = v["apdus"]
    assert bac.get_challenge().encode() == bytes.fromhex(gc["cmd"]["value"])
    challenge = decode_response(bytes.fromhex(gc["rsp"]["value"]))
    assert challenge.data == _hex(v, "rnd_icc")
    cmd = bac.mutual_authenticate(challenge, _hex(v, "rnd_ifd"), _hex(v, "k_ifd"))
    assert cmd.data == _hex(v, "external_authenticate_cmd_data")
    assert cmd.encode() == bytes.fromhex(ma["cmd"]["value"])
    sm = bac.finish(decode_response(bytes.fromhex(ma["rsp"]["value"])))
    assert (sm.ks_enc, sm.ks_mac) == (_hex(v, "session_ks_enc"), _hex(v, "session_ks_mac"))
    assert sm.ssc == int(v["ssc_initial"]["value"], 16)


def test_bac_card_side_reproduces_the_chip_answer(vectors: dict[str, Any]) -> None:
    v = vectors["bac_icao9303_p11_appendix_D"]
    card = BACCard(_mrz_info(v["mrz_info"]))
    ma = v["apdus"][1]
    data = decode_command(bytes.fromhex(ma["cmd"]["value"])).data
    # K.ICC of the worked example is recoverable from the expected answer; use the same one
    rsp = decode_response(bytes.fromhex(ma["rsp"]["value"]))
    from gate.emrtd.sm.sm import des3_decrypt

    k_icc = des3_decrypt(card.k_enc, rsp.data[:32])[16:32]
    result = card.respond(_hex(v, "rnd_icc"), data, k_icc)
    assert result is not None
    assert result[0] == rsp.data
    assert result[1].ks_enc == _hex(v, "session_ks_enc")


@pytest.mark.parametrize(
    ("name", "cipher", "last_le"),
    [("secure_messaging_3des_icao9303_p11_D4", "3DES", 0x12),
     ("secure_messaging_aes256_ef_com", "AES-256", 0x16)],
)  # fmt: skip
def test_secure_messaging_byte_for_byte(
    vectors: dict[str, Any], name: str, cipher: str, last_le: int
) -> None:
    v = vectors[name]
    sm = SecureMessaging(
        cipher,  # type: ignore[arg-type]
        _hex(v, "ks_enc"),
        _hex(v, "ks_mac"),
        int(v["ssc_initial"]["value"], 16),
    )
    card = SecureMessaging(
        cipher,  # type: ignore[arg-type]
        _hex(v, "ks_enc"),
        _hex(v, "ks_mac"),
        int(v["ssc_initial"]["value"], 16),
    )
    plain = [
        CommandAPDU(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("011E")),
        CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4),
        CommandAPDU(0x00, 0xB0, 0x00, 0x04, le=last_le),
    ]
    data = b""
    for cmd, pair in zip(plain, v["apdus"], strict=True):
        protected = sm.protect(cmd)
        assert protected.encode() == bytes.fromhex(pair["cmd"]["value"])
        # the card side unwraps it back to the plain command
        unwrapped = card.card_unwrap(decode_command(protected.encode()))
        assert (unwrapped.ins, unwrapped.data, unwrapped.le) == (cmd.ins, cmd.data, cmd.le)
        resp = sm.unprotect(decode_response(bytes.fromhex(pair["rsp"]["value"])))
        assert resp.sw == 0x9000
        assert card.card_wrap(resp).encode() == bytes.fromhex(pair["rsp"]["value"])
        data += resp.data
    assert data == _hex(v, "expected_ef_com_plain")
    assert sm.ssc == int(v["ssc_final"]["value"], 16)


def test_pace_gm_brainpool_g1_step_by_step(vectors: dict[str, Any]) -> None:
    v = vectors["pace_gm_ecdh_brainpoolP256r1_icao9303_p11_appendix_G1"]
    (info,) = parse_card_access(_hex(v, "card_access"))
    assert isinstance(info, PACEInfo)
    keys = [_hex(v, "terminal_mapping_private_key"), _hex(v, "terminal_ephemeral_private_key")]
    pace = PACETerminal(info, mrz_password(_mrz_info(v["mrz_password"])), rng=lambda n: keys.pop(0))
    assert pace.k_pi == _hex(v, "k_pi_nonce_key")
    apdus = v["apdus"]

    def cmd(i: int) -> bytes:
        return bytes.fromhex(apdus[i]["cmd"]["value"])

    def rsp(i: int) -> Any:
        return decode_response(bytes.fromhex(apdus[i]["rsp"]["value"]))

    assert pace.mse_set_at().encode() == cmd(0)
    assert pace.get_nonce(rsp(0)).encode() == cmd(1)
    step = pace.map_nonce(rsp(1))
    assert pace.s.to_bytes(16, "big") == _hex(v, "decrypted_nonce_s")
    assert pace.pk_map == b"\x04" + _hex(v, "terminal_mapping_public_x") + _hex(
        v, "terminal_mapping_public_y"
    )
    assert step.encode() == cmd(2)
    step = pace.key_agreement(rsp(2))
    c = pace.group.domain
    h = c.mul(pace.sk_map, c.decode_point(rsp(2).data[4:]))  # type: ignore[union-attr]
    assert h == (int(v["shared_secret_H_x"]["value"], 16), int(v["shared_secret_H_y"]["value"], 16))
    assert pace.g_mapped == (
        int(v["mapped_generator_x"]["value"], 16),
        int(v["mapped_generator_y"]["value"], 16),
    )
    assert pace.pk_eph == b"\x04" + _hex(v, "terminal_ephemeral_public_x") + _hex(
        v, "terminal_ephemeral_public_y"
    )
    assert step.encode() == cmd(3)
    step = pace.mutual_authentication(rsp(3))
    assert pace.chip_eph == b"\x04" + _hex(v, "chip_ephemeral_public_x") + _hex(
        v, "chip_ephemeral_public_y"
    )
    assert step.encode() == cmd(4)
    sm = pace.finish(rsp(4))
    assert (sm.ks_enc, sm.ks_mac, sm.ssc) == (
        _hex(v, "session_ks_enc"),
        _hex(v, "session_ks_mac"),
        int(v["ssc_initial"]["value"], 16),
    )


def test_pace_wrong_token_is_rejected(vectors: dict[str, Any]) -> None:
    v = vectors["pace_gm_ecdh_brainpoolP256r1_icao9303_p11_appendix_G1"]
    (info,) = parse_card_access(_hex(v, "card_access"))
    assert isinstance(info, PACEInfo)
    keys = [_hex(v, "terminal_mapping_private_key"), _hex(v, "terminal_ephemeral_private_key")]
    pace = PACETerminal(info, mrz_password(_mrz_info(v["mrz_password"])), rng=lambda n: keys.pop(0))
    r = [decode_response(bytes.fromhex(a["rsp"]["value"])) for a in v["apdus"]]
    pace.get_nonce(r[0])
    pace.map_nonce(r[1])
    pace.key_agreement(r[2])
    pace.mutual_authentication(r[3])
    bad = decode_response(bytes.fromhex(v["apdus"][4]["rsp"]["value"].replace("3ABB", "3ABA")))
    from gate.emrtd.errors import PACEError

    with pytest.raises(PACEError, match="authentication token"):
        pace.finish(bad)


def test_active_authentication_rsa_session(vectors: dict[str, Any]) -> None:
    """The INTERNAL AUTHENTICATE exchange under 3DES SM: command byte for byte, signature
    unwrapped, SSC advanced by two."""
    v = vectors["active_authentication_rsa_real_passport_session"]
    sm = SecureMessaging(
        "3DES", _hex(v, "sm_ks_enc"), _hex(v, "sm_ks_mac"), int(v["sm_ssc_before"]["value"], 16)
    )
    cmd = CommandAPDU(0x00, 0x88, 0x00, 0x00, _hex(v, "rnd_ifd_challenge"), le=256)
    pair = v["apdus"][0]
    assert sm.protect(cmd).encode() == bytes.fromhex(pair["cmd"]["value"])
    resp = sm.unprotect(decode_response(bytes.fromhex(pair["rsp"]["value"])))
    assert resp.data == _hex(v, "expected_signature_unwrapped")
    assert sm.ssc == int(v["sm_ssc_after"]["value"], 16)
