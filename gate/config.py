"""Lane and central configuration: TOML files validated at start-up, overridable by environment.

A file is parsed, then environment variables are laid over it, then the result is validated
with pydantic. Overrides name the path of a field below the root, separated by double
underscores: ``EGATE_LANE__CAMERA__FPS=15`` sets ``[camera] fps`` of a lane configuration,
``EGATE_CENTRAL__DATABASE__URL=...`` the central database. Values are read as TOML literals
when they parse as one (``15``, ``true``, ``["de", "en"]``), otherwise as plain strings; a
text field keeps the text as given (``EGATE_LANE__LANE__ID=12`` is the id "12").

Any problem raises :class:`ConfigError` whose message names the file, the field, the value and
the reason, so an operator can fix it without reading code.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gate.errors import EgateError
from gate.files import InputFileError, read_text_bounded

log = logging.getLogger("egate.config")

LANE_ENV_PREFIX = "EGATE_LANE__"
CENTRAL_ENV_PREFIX = "EGATE_CENTRAL__"


class ConfigError(EgateError):
    """The configuration cannot be used; the message names the field and the reason."""


class ConfigFileError(ConfigError):
    """The configuration file itself cannot be read (missing, not a regular file, too large)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _scalar_types(cls, value: Any, info: ValidationInfo) -> Any:
        """Numbers must be numbers and switches booleans: pydantic alone would take
        ``retries = true`` as 1, ``fps = "15"`` as 15 and ``flip = 1`` as true."""
        kind = cls.model_fields[info.field_name or ""].annotation
        if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"must be {'an integer' if kind is int else 'a number'}")
        if kind is bool and not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value


# --------------------------------------------------------------------------- lane


class LaneIdentity(_Section):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] = "lane-1"
    """Stable lane identifier used in every event (letters, digits, '.', '_', '-')."""
    name: str = "Lane 1"
    site: str = "SIM"
    direction: Literal["arrival", "departure", "both"] = "arrival"
    mode: Literal["test", "production"] = "test"
    """production: settings that switch off a protection (see ``insecure_settings``) are
    refused unless ``allow_insecure`` is true; test (simulator, bench, integration)."""
    allow_insecure: bool = False
    """Accept settings below the documented security level (a face threshold under the
    FMR 1 % point; in production, CRL, chip-authentication, liveness or specimen checks off, or
    a plain-HTTP central): each is logged as a warning at every start."""
    languages: list[str] = Field(
        default_factory=lambda: ["zh-TW", "en", "ja", "ko", "vi", "id", "th", "tl"]
    )
    """Traveller-screen languages (gate/display/catalogues/LANG.po), the first is the default."""

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one language is needed")
        for code in value:
            if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?", code):
                raise ValueError(f"{code!r} is not a language tag such as 'en' or 'zh-TW'")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value


class CentralLink(_Section):
    url: str = "http://127.0.0.1:8600"
    token: str = ""
    outbox_path: Path = Path("var/lane-outbox.sqlite")
    lists_public_key: Path | None = None
    """Central's Ed25519 list-signing key (PEM, from GET /api/v1/lists/public-key): list
    answers not signed by it are dropped. Unset: lists are accepted unsigned."""
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    ca_file: Path | None = None
    """CA certificate(s) (PEM) that central's TLS certificate must chain to; unset: the
    system's trusted CAs. Only for an https:// url."""
    client_cert: Path | None = None
    """The lane's TLS client certificate (PEM) for mutual TLS; needs ``client_key``."""
    client_key: Path | None = None
    """Private key (PEM, unencrypted; mode 0600) of ``client_cert``."""

    @field_validator("ca_file", "client_cert", "client_key")
    @classmethod
    def _tls_file(cls, value: Path | None) -> Path | None:
        return _existing_file(value)

    @model_validator(mode="after")
    def _tls_pair(self) -> CentralLink:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together (mutual TLS needs both)")
        if (self.client_cert or self.ca_file) and not self.url.startswith("https://"):
            raise ValueError("ca_file, client_cert and client_key need an https:// url")
        return self

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = _HTTP_URL.fullmatch(value)
        if parts is None or not parts["host"]:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts["userinfo"] is not None:
            raise ValueError("must not carry credentials (the lane credential is [central] token)")
        if parts["port"] is not None and not (parts["port"] and 0 < int(parts["port"]) < 65536):
            raise ValueError("has an invalid port")
        return value


def _existing_file(value: Path | None) -> Path | None:
    if value is not None and not value.is_file():
        raise ValueError(f"{value} is not a readable file")
    return value


_HTTP_URL = re.compile(
    r"(?P<scheme>https?)://(?:(?P<userinfo>[^@/?#]*)@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(?::(?P<port>[0-9]{0,5}))?(?:[/?#]\S*)?"
)
"""RFC 3986 http(s) URL, enough to refuse typos (the gate.config layer imports no urllib)."""


class DocReaderConfig(_Section):
    kind: Literal["simulator", "serial", "image"] = "simulator"
    port: str = "loop://"
    """Any pyserial URL: /dev/ttyUSB0, socket://host:port, rfc2217://host:port, loop://."""
    framing: Literal["desko", "3m"] = "desko"
    baudrate: Annotated[int, Field(gt=0)] = 9600


class ChipReaderConfig(_Section):
    kind: Literal["simulator", "pcsc"] = "simulator"
    reader_pattern: str = ""
    """Case-insensitive substring of the PC/SC reader name; empty takes the first reader."""
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0
    prefer_pace: bool = True


class CameraConfig(_Section):
    source: str = "simulator"
    """'simulator', a device index ('0'), a video file, or an RTSP/HTTP URL."""
    width: Annotated[int, Field(gt=0, le=8192)] = 640
    height: Annotated[int, Field(gt=0, le=8192)] = 480
    fps: Annotated[float, Field(gt=0, le=240)] = 15.0
    frame_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 5.0
    """No frame for this long (after reconnect attempts) is reported as an error."""
    reconnect_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    faces_dir: str = ""
    """Simulator only: directory of face images to composite; empty draws face-like figures."""


class GateControllerConfig(_Section):
    kind: Literal["simulator", "serial", "modbus"] = "simulator"
    port: str = "loop://"
    baudrate: Annotated[int, Field(gt=0)] = 115200
    heartbeat_seconds: Annotated[float, Field(gt=0, le=20)] = 1.0
    """The controller's heartbeat timeout is 3 periods, sent as u16 milliseconds (<= 65.5 s)."""
    safe_state: Literal["closed", "open"] = "closed"
    """What the controller does when the host goes silent (see docs/gate-protocol.md)."""
    response_timeout_seconds: Annotated[float, Field(gt=0, le=10)] = 0.1
    """Wait this long for an ACK/NAK before retransmitting a command."""
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    passage_timeout_seconds: Annotated[float, Field(ge=0.5, le=65)] = 10.0
    """CONFIGURE carries it as u16 milliseconds, at least 500 (docs/gate-protocol.md)."""
    reconnect_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    auth_key_file: Path | None = None
    """The gate's 32-byte key as 64 hex digits: frames are authenticated (HMAC, replay
    window; docs/gate-protocol.md §13) and a controller without that support is refused."""


class EmbeddingModel(_Section):
    model: Literal["sface", "dlib_resnet"] = "sface"
    """'sface' (SFace, Apache-2.0) or 'dlib_resnet' (dlib's ResNet, CC0); models/README.md."""
    weight: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    """Share of this model's cosine similarity in the fused score (weights are normalised)."""


FACE_FMR1_THRESHOLDS: dict[str, float] = {
    "dlib_resnet+sface": 0.5896,
    "sface": 0.301,
    "dlib_resnet": 0.9087,
}
"""Similarity threshold at a false match rate of 1 % per embedding pipeline (models with equal
weights, no flip) on lfw_dev, every impostor pair, measured by
``bench/face_operating_points.py`` (docs/face.md, "Security floor"). A ``[face] threshold``
below the one of its pipeline lets more than 1 impostor in 100 through and needs
``[lane] allow_insecure = true``; a pipeline not listed here (other weights) is held to the
lowest of them."""


def face_threshold_floor(face: FaceConfig) -> float:
    """The FMR 1 % threshold of ``face``'s pipeline (see ``FACE_FMR1_THRESHOLDS``)."""
    weights = {m.model: m.weight for m in face.embedding}
    key = "+".join(sorted(weights))
    if key in FACE_FMR1_THRESHOLDS and len(set(weights.values())) == 1:
        return FACE_FMR1_THRESHOLDS[key]
    return min(FACE_FMR1_THRESHOLDS.values())


class FaceConfig(_Section):
    models_dir: Path = Path("models/cache")
    """Verified YuNet and SFace files (``egate models fetch``); relative to the working
    directory, or to the checkout when it does not exist there; an installed egate (no
    checkout) uses ``$EGATE_MODELS_DIR``, else ``$XDG_CACHE_HOME/egate/models``."""
    threshold: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.632
    """Similarity (cosine; with several models the weighted mean of their cosines) at or
    above which live face and chip portrait match. 0.632 is the threshold for a false match
    rate of 0.1% of the default models (SFace and dlib's ResNet, equal weights, no flip) on
    lfw_dev: 12.7 million impostor pairs (``bench/face_accuracy.py``, docs/face.md). It belongs
    to those models: change ``embedding`` or ``flip`` and re-measure it with
    ``egate face evaluate``, as on your own population before production."""
    threads: Annotated[int, Field(ge=1, le=64)] = 2
    """onnxruntime intra-op threads per model."""
    frames_to_fuse: Annotated[int, Field(ge=1, le=32)] = 3
    """Best live frames (by quality) whose embeddings are averaged."""
    embedding: list[EmbeddingModel] = Field(
        default_factory=lambda: [
            EmbeddingModel(model="sface", weight=0.5),
            EmbeddingModel(model="dlib_resnet", weight=0.5),
        ]
    )
    """Embedding models and their weights: with several, each model's cosine similarity is
    averaged with these weights (``[[face.embedding]]`` tables)."""
    flip: bool = False
    """Also embed the mirror image of each aligned face and add both embeddings."""

    @field_validator("embedding")
    @classmethod
    def _models(cls, value: list[EmbeddingModel]) -> list[EmbeddingModel]:
        if not value:
            raise ValueError("at least one [[face.embedding]] model is needed")
        names = [m.model for m in value]
        if len(set(names)) != len(names):
            raise ValueError(f"a model is listed twice: {names}")
        return value


Direction = Literal["arrival", "departure"]


def _both_directions() -> list[Direction]:
    return ["arrival", "departure"]


class PolicyConfig(_Section):
    """The rules of ``gate.policy.decide`` (docs/lane.md, "Decision policy")."""

    accepted_document_types: list[str] = Field(default_factory=lambda: ["P"])
    """MRZ document codes allowed; a code matches itself and longer codes it prefixes only when
    written with a trailing '*' ('P*' allows 'P', 'PD', 'PO'...)."""
    eligible_nationalities: list[str] = Field(default_factory=list)
    """ICAO codes allowed to use the gate; empty allows every nationality."""
    citizen_nationalities: list[str] = Field(default_factory=list)
    """The gate's own nationals: never need enrolment, never get a foreign-national record."""
    enrolment_required: Literal["none", "foreigners", "all"] = "none"
    """Who must be in the enrolled-traveller registry: nobody, every non-citizen, everybody."""
    minimum_age_years: Annotated[int, Field(ge=0, le=120)] = 12
    expiry_grace_days: Annotated[int, Field(ge=0, le=3650)] = 0
    """A document expired for at most this many days is accepted with POLICY_EXPIRY_GRACE."""
    departure_minimum_validity_days: Annotated[int, Field(ge=0, le=3650)] = 0
    """Departures: the document must stay valid this many days after today."""
    require_chip_authentication: bool = False
    """Refer documents whose chip proves no key (neither AA nor CA passed): anti-cloning."""
    bac_fallback: Literal["accept", "refer", "refuse"] = "refer"
    """What a chip that has EF.CardAccess (offers PACE) but was opened with BAC does
    (CHIP_PACE_FAILED): a downgrade is a known attack pattern."""
    crl_missing: Literal["accept", "refer"] = "accept"
    """What a missing CRL of the issuing CSCA does."""
    crl_stale: Literal["accept", "refer"] = "refer"
    """What a CRL past its nextUpdate does."""
    refuse_specimen: bool = True
    """Refuse ICAO specimen documents (issuing state or nationality 'UTO'); the simulator's
    lanes set it to false because synthetic passports are issued by UTO."""
    require_liveness: bool = True
    directions: list[Direction] = Field(default_factory=_both_directions)
    """Directions this gate serves; a lane of another direction refers every traveller."""
    apis_directions: list[Direction] = Field(default_factory=list)
    """Directions in which a traveller must be on a received manifest (APIS/APP)."""
    lists_max_age_hours: Annotated[float, Field(gt=0, le=720)] = 24.0
    """Cached watch list, registry and manifests older than this count as stale."""
    stale_lists: Literal["serve", "refer"] = "refer"
    """With stale lists: keep serving (with POLICY_LISTS_STALE as a warning) or refer everyone."""
    foreign_national_record: bool = False
    """Keep the live portrait of an accepted non-citizen as a record (citizens' never)."""
    record_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    watchlist_name_threshold: Annotated[float, Field(ge=0.5, le=1.0)] = 0.88
    """Name similarity (0..1, after transliteration folding) from which a watch-list entry with
    the same date of birth is a hit."""
    watchlist_path: Path | None = None

    @field_validator("eligible_nationalities", "citizen_nationalities")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not (1 <= len(code) <= 3 and code.replace("<", "").isalpha() and code.isupper()):
                raise ValueError(f"{code!r} is not an ICAO 9303 nationality code (e.g. 'DEU')")
        return value

    @field_validator("accepted_document_types")
    @classmethod
    def _doc_codes(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one document code is needed")
        for code in value:
            if not re.fullmatch(r"[ACIPV][A-Z]?\*?", code):
                raise ValueError(
                    f"{code!r} is not an MRZ document code: ICAO 9303 codes start with A, C, I, "
                    "P or V and have at most two letters (e.g. 'P', 'ID', 'P*')"
                )
        return value


class TailgatingConfig(_Section):
    """Anti-tailgating rules (docs/lane.md, "Anti-tailgating")."""

    beams_per_person: Annotated[int, Field(ge=1, le=8)] = 2
    """Adjacent mantrap beams one traveller (with luggage) may interrupt at once; more is two
    people. Separate interrupted runs with a clear beam between them are always two people."""
    beam_persistence_seconds: Annotated[float, Field(ge=0, le=10)] = 0.3
    """A beam pattern must hold this long to count (a swinging bag flickers)."""
    camera: bool = True
    """Also count faces from the gate camera."""
    camera_region: tuple[float, float, float, float] = (0.15, 0.05, 0.85, 0.95)
    """x0, y0, x1, y1 (fractions of the frame): the mantrap as the camera sees it. Faces whose
    centre lies outside (glass panels, the next lane, posters on the wall) are not counted."""
    camera_min_face_height: Annotated[float, Field(gt=0, le=1)] = 0.10
    """Faces smaller than this fraction of the frame height are too far away to be inside the
    mantrap (the queue, reflections in the glass)."""
    camera_frames: Annotated[int, Field(ge=1, le=100)] = 5
    """Consecutive frames with two or more counted faces before the camera calls tailgating."""

    @field_validator("camera_region")
    @classmethod
    def _region(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = value
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise ValueError("must be x0, y0, x1, y1 with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
        return value


class PassageConfig(_Section):
    """The passage flow of ``gate.lane`` and the timeout of every waiting state (docs/lane.md)."""

    flow: Literal["two-step", "one-step"] = "two-step"
    """two-step: document at the entry, face inside the mantrap, two barriers; one-step:
    document and face at one barrier that opens only when every check passed."""
    barrier: Literal["doors", "turnstile"] = "doors"
    """doors (swing/sliding leaves) or turnstile (tripod/speed gate: one release per traveller
    and direction, a passage report back)."""
    mrz_seconds: Annotated[float, Field(gt=0, le=120)] = 8.0
    """Document placed, no MRZ: aborted (PASSAGE_TIMEOUT_MRZ), 'try again'."""
    chip_seconds: Annotated[float, Field(gt=0, le=120)] = 15.0
    """Chip not read and authenticated in time: referred (PASSAGE_TIMEOUT_CHIP)."""
    eligibility_seconds: Annotated[float, Field(gt=0, le=120)] = 5.0
    """Verdict or list screening late: referred (PASSAGE_TIMEOUT_ELIGIBILITY)."""
    entry_seconds: Annotated[float, Field(gt=0, le=65)] = 10.0
    """Two-step: entry released, nobody entered: aborted (PASSAGE_TIMEOUT_ENTRY)."""
    face_seconds: Annotated[float, Field(gt=0, le=120)] = 15.0
    """No face verification in time: referred (PASSAGE_TIMEOUT_FACE)."""
    exit_seconds: Annotated[float, Field(gt=0, le=65)] = 10.0
    """Exit released, traveller still inside: the exit is released again and an officer is
    called (PASSAGE_TIMEOUT_EXIT)."""
    leave_seconds: Annotated[float, Field(gt=0, le=65)] = 15.0
    """Referred, rejected or aborted traveller has not left: released again, officer called
    (PASSAGE_TIMEOUT_LEAVE)."""
    on_referral: Literal["release_back", "hold_for_officer"] = "release_back"
    """release_back: the way back out opens at once; hold_for_officer: the traveller waits for
    an officer's referral_decision, at most ``officer_wait_seconds``."""
    officer_wait_seconds: Annotated[float, Field(gt=0, le=600)] = 60.0
    """Hold for an officer at most this long, then release the way back
    (PASSAGE_TIMEOUT_OFFICER)."""
    confinement_seconds: Annotated[float, Field(gt=0, le=600)] = 75.0
    """Safety backstop: nobody stays with every barrier closed for longer; the way back is
    released and a person_trapped alarm raised. Must exceed the longest step."""
    tailgating: TailgatingConfig = TailgatingConfig()

    @model_validator(mode="after")
    def _backstop_last(self) -> PassageConfig:
        longest = max(self.face_seconds, self.exit_seconds, self.leave_seconds)
        if self.on_referral == "hold_for_officer":
            longest = max(longest, self.officer_wait_seconds)
        if self.confinement_seconds <= longest:
            raise ValueError(
                f"confinement_seconds ({self.confinement_seconds}) must exceed the longest step "
                f"a traveller spends inside ({longest} s), or it cuts that step short"
            )
        return self


class TrustConfig(_Section):
    store_path: Path = Path("var/trust")
    master_list_roots: list[Path] = Field(default_factory=list)
    """Certificates (DER/PEM) that may sign CSCA master lists; a list is refused otherwise."""
    validity_model: Literal["shell", "chain"] = "shell"
    """shell: DSC and CSCA valid at verification time; chain: DSC valid when the SOD was signed
    (signing-time attribute, else DSC not-before) and CSCA valid when the DSC was issued."""
    require_crl: bool = False
    """Fail passive authentication when no CRL of the issuing CSCA is in the store."""
    expiry_warning_days: Annotated[int, Field(ge=0, le=3650)] = 90
    strict_sod: bool = False
    """Reject EF.SOD with trailing bytes or the id-data eContent type (some states use it)."""
    index_key_file: Path | None = None
    """Key (hex) sealing the store's index.json with an HMAC: a store edited or replaced
    without it is refused on load. Created by the first 'egate trust import' when missing."""


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class ApiConfig(_Section):
    listen: Annotated[str, Field(pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):[0-9]{1,5}$")] = (
        "127.0.0.1:8701"
    )
    """HOST:PORT of the local API and traveller screen (/health, /status, /metrics, /screen)."""
    token: str = ""
    """Bearer token for POST /maintenance/ACTION; empty disables maintenance commands."""


class OutboxConfig(_Section):
    max_events: Annotated[int, Field(ge=100, le=100_000_000)] = 200_000
    """Undelivered events kept at most (about 2 KB each)."""
    alarm_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.8
    """Raise LANE_OUTBOX_HIGH_WATER at this share of max_events."""
    reserve_events: Annotated[int, Field(ge=10)] = 1_000
    """Kept for the lane's own state and fault events: travellers are refused (the lane goes
    out of service) once only this many places are left."""
    min_free_mb: Annotated[int, Field(ge=0)] = 64
    """Free space below this on the outbox disk also stops admitting travellers."""
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 200
    retry_base_seconds: Annotated[float, Field(gt=0, le=60)] = 0.5
    """First retry after a failed delivery; doubles per failure (with jitter) up to
    retry_max_seconds."""
    retry_max_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0

    @model_validator(mode="after")
    def _reserve(self) -> OutboxConfig:
        if self.reserve_events >= self.max_events:
            raise ValueError("reserve_events must be smaller than max_events")
        return self


class DaemonConfig(_Section):
    lists_dir: Path = Path("var/lists")
    """Cached watch list, registry and manifests (served from here while central is away)."""
    records_dir: Path | None = Path("var/records")
    """Every input of every transaction, for ``egate lane replay``; empty to disable."""
    lists_sync_seconds: Annotated[float, Field(ge=1, le=86400)] = 60.0
    credential_retry_seconds: Annotated[float, Field(ge=0.1, le=3600)] = 30.0
    """Central refused the lane credential (401/403): ask again this often (an operator must
    fix [central] token); events wait in the outbox meanwhile."""
    command_poll_seconds: Annotated[float, Field(ge=0, le=60)] = 20.0
    """Long-poll wait for officer commands from central."""
    watchdog_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0
    """Camera probe period while no face is being captured."""
    max_pending_jobs: Annotated[int, Field(ge=1, le=64)] = 8
    """Blocking jobs (chip, face, OCR) allowed to wait for a worker thread at once."""
    device_start_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    stop_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0
    """SIGTERM: wait at most this long for the current traveller to be safely out."""
    flush_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    """SIGTERM: then try this long to deliver the outbox before stopping."""


class LaneConfig(_Section):
    lane: LaneIdentity = LaneIdentity()
    central: CentralLink = CentralLink()
    docreader: DocReaderConfig = DocReaderConfig()
    chip: ChipReaderConfig = ChipReaderConfig()
    camera: CameraConfig = CameraConfig()
    gatectl: GateControllerConfig = GateControllerConfig()
    face: FaceConfig = FaceConfig()
    policy: PolicyConfig = PolicyConfig()
    passage: PassageConfig = PassageConfig()
    trust: TrustConfig = TrustConfig()
    api: ApiConfig = ApiConfig()
    outbox: OutboxConfig = OutboxConfig()
    daemon: DaemonConfig = DaemonConfig()
    logging: LoggingConfig = LoggingConfig()

    @model_validator(mode="after")
    def _insecure(self) -> LaneConfig:
        found = insecure_settings(self)
        if found and not self.lane.allow_insecure:
            raise ValueError(
                "settings below the documented security level need [lane] allow_insecure = "
                "true (then logged as a warning at every start): " + "; ".join(found)
            )
        return self


def insecure_settings(lane: LaneConfig) -> list[str]:
    """Each setting of ``lane`` that switches a protection off, as one sentence: the face
    threshold under its FMR 1 % point in every mode; in ``[lane] mode = "production"`` also
    revocation (CRL), anti-cloning (AA/CA), liveness and specimen checks off, and a central
    link in plain HTTP to another host."""
    found: list[str] = []
    floor = face_threshold_floor(lane.face)
    if lane.face.threshold < floor:
        found.append(
            f"[face] threshold {lane.face.threshold} is below {floor}, the false match rate 1 % "
            "point of its models (bench/face_operating_points.py)"
        )
    if lane.lane.mode != "production":
        return found
    policy, trust = lane.policy, lane.trust
    if not trust.require_crl and policy.crl_missing == "accept":
        found.append(
            '[trust] require_crl = false with [policy] crl_missing = "accept": revoked '
            "document signers pass when a CRL is missing"
        )
    if policy.crl_stale == "accept":
        found.append('[policy] crl_stale = "accept": an outdated CRL is trusted')
    if not policy.require_chip_authentication:
        found.append(
            "[policy] require_chip_authentication = false: a cloned chip (no AA/CA) is accepted"
        )
    if not policy.require_liveness:
        found.append("[policy] require_liveness = false: presentation attacks are not checked")
    if not policy.refuse_specimen:
        found.append("[policy] refuse_specimen = false: specimen (UTO) documents are accepted")
    url = _HTTP_URL.fullmatch(lane.central.url)
    if url and url["scheme"] == "http" and url["host"] not in ("127.0.0.1", "localhost", "[::1]"):
        found.append(f"[central] url uses plain HTTP to {url['host']}: the token travels in clear")
    return found


def warn_insecure(lane: LaneConfig) -> list[str]:
    """Log every :func:`insecure_settings` of ``lane`` as a warning; the lane daemon calls it
    at every start, so an allowed weakening never goes unnoticed in the logs."""
    found = insecure_settings(lane)
    for warning in found:
        log.warning("insecure configuration allowed by [lane] allow_insecure: %s", warning)
    return found


# --------------------------------------------------------------------------- central


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8600
    worker_threads: Annotated[int, Field(ge=1, le=256)] = 8
    """Threads doing database work per process; more mostly add lock contention."""
    tls_cert: Path | None = None
    """Serve HTTPS with this certificate (PEM, with its chain); needs ``tls_key``."""
    tls_key: Path | None = None
    """Private key (PEM, unencrypted; mode 0600) of ``tls_cert``."""
    tls_client_ca: Path | None = None
    """Mutual TLS: CA certificate(s) (PEM) that issue the lanes' client certificates; set, a
    client without a certificate of this CA is refused in the TLS handshake."""

    @field_validator("tls_cert", "tls_key", "tls_client_ca")
    @classmethod
    def _tls_file(cls, value: Path | None) -> Path | None:
        return _existing_file(value)

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("tls_client_ca (mutual TLS) needs tls_cert and tls_key")
        return self

    def uvicorn_tls(self) -> dict[str, Any]:
        """uvicorn's TLS keyword arguments for this section (empty: plain HTTP)."""
        if self.tls_cert is None:
            return {}
        options: dict[str, Any] = {
            "ssl_certfile": str(self.tls_cert),
            "ssl_keyfile": str(self.tls_key),
        }
        if self.tls_client_ca is not None:
            import ssl

            options["ssl_ca_certs"] = str(self.tls_client_ca)
            options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        return options


class DatabaseConfig(_Section):
    url: str = "sqlite:///var/central.sqlite"
    """SQLAlchemy URL: sqlite:///path (default) or postgresql+psycopg://user@host/db."""

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:// or postgresql(+psycopg)://")
        return value


class RetentionConfig(_Section):
    transaction_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Events, transactions, referrals and delivered commands older than this are purged."""
    portrait_hours: Annotated[int, Field(ge=0, le=720)] = 24
    """Portraits uploaded for referred transactions are deleted this long after upload."""
    purge_interval_minutes: Annotated[int, Field(ge=0, le=1440)] = 60
    """Run the purge job inside the service this often; 0 leaves it to ``egate central purge``."""


class SecurityConfig(_Section):
    cookie_secure: bool = True
    """Send the session cookie only over HTTPS; turn off only for a loopback test set-up."""
    session_idle_minutes: Annotated[int, Field(ge=1, le=720)] = 15
    """An officer session unused this long ends (idle timeout)."""
    session_max_hours: Annotated[int, Field(ge=1, le=72)] = 12
    """A session ends this long after login, used or not."""
    lockout_threshold: Annotated[int, Field(ge=1, le=100)] = 5
    """Failed logins in a row after which the account is locked."""
    lockout_base_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    """First lockout; each further failure doubles it (backoff)."""
    lockout_max_seconds: Annotated[int, Field(ge=1, le=86400)] = 3600
    credential_grace_hours: Annotated[int, Field(ge=0, le=720)] = 24
    """After a lane credential is rotated the old one keeps working this long."""
    argon2_time_cost: Annotated[int, Field(ge=1, le=20)] = 3
    argon2_memory_kib: Annotated[int, Field(ge=8 * 1024, le=4 * 1024 * 1024)] = 64 * 1024
    """argon2id cost of officer password hashes (defaults: RFC 9106 second recommendation)."""


class IngestConfig(_Section):
    max_batch_events: Annotated[int, Field(ge=1, le=10000)] = 1000
    max_batch_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 4 * 1024 * 1024
    max_concurrent_batches: Annotated[int, Field(ge=1, le=256)] = 8
    """Batches processed at once per process; more are refused with 429 and Retry-After."""
    retry_after_seconds: Annotated[int, Field(ge=1, le=300)] = 2
    max_portrait_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 2 * 1024 * 1024


class LanesConfig(_Section):
    heartbeat_period_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0
    """Period the lanes are told to heartbeat at."""
    offline_after_periods: Annotated[int, Field(ge=2, le=100)] = 3
    """A lane silent this many periods is shown offline and raises an alarm."""
    command_ttl_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    """A command not delivered within this time expires and is never executed."""
    long_poll_max_seconds: Annotated[int, Field(ge=0, le=120)] = 25


class DetectionConfig(_Section):
    document_reuse_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = 720
    """The same document accepted twice in one direction within this window raises an alarm;
    0 turns the check off."""


class ListsConfig(_Section):
    signing_key_path: Path = Path("var/central-lists-ed25519.pem")
    """Ed25519 private key signing list distributions; created on first start if missing."""


class OpenDataConfig(_Section):
    min_cell_count: Annotated[int, Field(ge=1, le=1000)] = 10
    """Cells of /open-data/crossings with fewer crossings than this are suppressed."""
    licence: str = "CC-BY-4.0"
    publisher: str = "egate central service"


class DashboardConfig(_Section):
    timezone: str = "Asia/Taipei"
    """IANA time zone of the dashboard's times for ports without their own entry below."""
    port_timezones: dict[str, str] = Field(default_factory=dict)
    """IANA time zone per port code, e.g. ``TPE = "Asia/Taipei"``: each lane's times are shown
    in the time zone of its port."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("port_timezones")
    @classmethod
    def _zones(cls, value: dict[str, str]) -> dict[str, str]:
        for port, zone in value.items():
            try:
                _check_zone(zone)
            except ValueError as exc:
                raise ValueError(f"port {port}: {exc}") from None
        return value


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Taipei, UTC)") from None
    return value


class CentralConfig(_Section):
    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    retention: RetentionConfig = RetentionConfig()
    security: SecurityConfig = SecurityConfig()
    ingest: IngestConfig = IngestConfig()
    lanes: LanesConfig = LanesConfig()
    detection: DetectionConfig = DetectionConfig()
    lists: ListsConfig = ListsConfig()
    open_data: OpenDataConfig = OpenDataConfig()
    dashboard: DashboardConfig = DashboardConfig()
    logging: LoggingConfig = LoggingConfig()


# --------------------------------------------------------------------------- loading

ConfigT = TypeVar("ConfigT", bound=BaseModel)

KINDS: dict[str, tuple[type[BaseModel], str]] = {
    "lane": (LaneConfig, LANE_ENV_PREFIX),
    "central": (CentralConfig, CENTRAL_ENV_PREFIX),
}


def _literal(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def env_overrides(env: Mapping[str, str], prefix: str) -> dict[tuple[str, ...], str]:
    """Field path (lower case) -> name of the environment variable that sets it."""
    return {
        tuple(part.lower() for part in name[len(prefix) :].split("__")): name
        for name in env
        if name.startswith(prefix)
    }


def apply_env(data: dict[str, Any], env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``PREFIX<A>__<B>=value`` laid over it."""
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for name in sorted(env):
        if not name.startswith(prefix):
            continue
        path = [part.lower() for part in name[len(prefix) :].split("__")]
        if not all(path):
            raise ConfigError(f"environment variable {name}: empty field name in the path")
        node = merged
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: {part!r} is not a section")
            node = child
        node[path[-1]] = _literal(env[name])
    return merged


# --------------------------------------------------------------------------- secrets

SECRET_FIELDS = frozenset({("central", "token"), ("api", "token")})
"""Fields never shown: ``egate config check`` prints them as ``<redacted>``, errors omit them."""
URL_FIELDS = frozenset(
    {
        ("camera", "source"),
        ("docreader", "port"),
        ("gatectl", "port"),
        ("central", "url"),
        ("database", "url"),
    }
)
"""Fields that may hold a URL with credentials (``rtsp://user:password@host``): the password
is shown as ``***``."""
REDACTED = "<redacted>"


def redact_url(text: str) -> str:
    """``scheme://user:password@host...`` with the password (or a lone user token) hidden."""

    def hide(match: re.Match[str]) -> str:
        user, _, password = match.group(2).partition(":")
        return match.group(1) + (f"{user}:***" if password else "***") + "@"

    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/@?#]*)@", hide, text)


def redact(data: Any, path: tuple[str, ...] = ()) -> Any:
    """A copy of a configuration dump (``model_dump(mode="json")``) without its secrets."""
    if isinstance(data, dict):
        return {k: redact(v, (*path, str(k))) for k, v in data.items()}
    if isinstance(data, list):
        return [redact(v, path) for v in data]
    return _redact_value(path, data)


def _redact_value(path: tuple[str, ...], value: Any) -> Any:
    tail = tuple(path[-2:])
    if tail in SECRET_FIELDS:
        return REDACTED if value not in ("", None) else value
    if tail in URL_FIELDS and isinstance(value, str):
        return redact_url(value)
    return value


# --------------------------------------------------------------------------- loading


def _describe(
    exc: ValidationError, source: str, env_names: Mapping[tuple[str, ...], str] | None = None
) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        field = ".".join(loc) or "(root)"
        if err["type"] == "extra_forbidden":
            reason = "unknown option (check the spelling against config/*.toml)"
        else:
            reason = err["msg"]
        origin = (env_names or {}).get(tuple(p.lower() for p in loc))
        if origin is None and err["type"] == "value_error":
            # a section-level (or whole-file) check: name every override inside its scope
            inside = sorted(n for p, n in (env_names or {}).items() if p[: len(loc)] == loc)
            origin = ", ".join(inside) or None
        where = f" (from environment variable {origin})" if origin else ""
        shown = _redact_value(loc, err.get("input"))
        if err["type"] == "extra_forbidden":
            # a mistyped option may hold a secret (``tokn = "..."``): never echo its value
            lines.append(f"  field {field}{where}: {reason}")
        elif loc[-2:] in SECRET_FIELDS or isinstance(shown, dict | list):
            lines.append(f"  field {field}{where}: {_redact_text(reason)}")
        else:
            lines.append(f"  field {field}{where} = {_short(shown)}: {_redact_text(reason)}")
    return "\n".join(lines)


def _redact_text(text: str) -> str:
    """A validator message may quote a URL: hide its credentials."""
    return re.sub(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]*", lambda m: redact_url(m.group(0)), text)


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = read_text_bounded(path, "config")
    except InputFileError as exc:
        raise ConfigFileError(str(exc)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None


def load(
    model: type[ConfigT],
    path: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    env_prefix: str = "",
) -> ConfigT:
    """Load ``path`` (or only defaults when None), apply overrides and validate."""
    data: dict[str, Any] = {}
    source = str(path) if path else "(defaults)"
    if path is not None:
        data = _parse(Path(path))
    names: dict[tuple[str, ...], str] = {}
    environ: Mapping[str, str] = {}
    if env_prefix:
        environ = os.environ if env is None else env
        names = env_overrides(environ, env_prefix)
        data = apply_env(data, environ, env_prefix)
    try:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # ``EGATE_LANE__LANE__ID=12`` read as the number 12 for a text field: the text
            if not _restore_env_strings(data, exc, names, environ):
                raise
            return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, names)) from None
    except RecursionError:
        raise ConfigError(f"{source}: values nested too deeply") from None


def _restore_env_strings(
    data: dict[str, Any],
    exc: ValidationError,
    names: Mapping[tuple[str, ...], str],
    environ: Mapping[str, str],
) -> bool:
    """Put back the raw text of environment overrides that were read as numbers or booleans
    where the field wants text; True when any was put back."""
    restored = False
    for err in exc.errors():
        path = tuple(str(p).lower() for p in err["loc"])
        name = names.get(path)
        if err["type"] != "string_type" or name is None or isinstance(err.get("input"), str):
            continue
        node: Any = data
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and path[-1] in node:
            node[path[-1]] = environ[name]
            restored = True
    return restored


def detect_kind(path: Path) -> str:
    """'lane' or 'central', from the sections a file has."""
    try:
        data = _parse(Path(path))
    except ConfigError:
        return "lane"  # load() reports the precise problem
    return "central" if {"server", "database"} & data.keys() else "lane"


def load_lane(path: Path | None, env: Mapping[str, str] | None = None) -> LaneConfig:
    return load(LaneConfig, path, env=env, env_prefix=LANE_ENV_PREFIX)


def load_central(path: Path | None, env: Mapping[str, str] | None = None) -> CentralConfig:
    return load(CentralConfig, path, env=env, env_prefix=CENTRAL_ENV_PREFIX)
