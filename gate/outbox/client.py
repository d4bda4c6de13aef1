"""The lane side of the lane <-> central HTTP contract (COORDINATION.md, docs/lane-central-api.md).

Every call carries the lane credential as ``Authorization: Bearer <token>``. Errors are sorted
by what the caller should do:

- :class:`CentralUnavailable`: connection refused, timeout, 5xx; retry later with backoff.
- :class:`CentralBackpressure`: 429; retry after ``retry_after`` seconds.
- :class:`CentralAuthError`: 401/403; the credential or the lane id is wrong; retrying only helps
  once an operator fixed it (the daemon keeps retrying slowly and raises a fault).
- :class:`CentralProtocolError`: any other answer that does not follow the contract.
"""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import certifi
import httpx

from gate.errors import EgateError

API = "/api/v1"
MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 4 * 1024 * 1024
ListName = Literal["watchlist", "registry", "manifests"]
AckResult = Literal["done", "refused", "expired", "failed"]


class CentralError(EgateError):
    """A request to the central service failed; the message says which and why."""


class CentralUnavailable(CentralError):
    """Central cannot be reached or answered with a server error: retry later."""


class CentralBackpressure(CentralError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CentralAuthError(CentralError):
    """401/403: the lane credential is wrong or the event belongs to another lane."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class CentralProtocolError(CentralError):
    """The answer does not follow the lane <-> central contract (or is a 4xx refusal)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class IngestResult:
    accepted: list[str]
    duplicates: list[str]
    rejected: list[tuple[str | None, int, str]]
    """(event_id or None, index in the batch, reason)."""


@dataclass(frozen=True)
class Command:
    command_id: str
    action: str
    args: dict[str, Any] = field(default_factory=dict)
    issued_at: datetime | None = None
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise CentralProtocolError(f"central sent a time that is not ISO 8601: {value!r}") from None
    if parsed.tzinfo is None:
        raise CentralProtocolError(f"central sent a time without a timezone: {value!r}")
    return parsed


def _retry_after(response: httpx.Response, default: float = 5.0) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, min(float(value), 3600.0))
    except ValueError:
        return default


def tls_context(
    ca_file: str | os.PathLike[str] | None = None,
    client_cert: str | os.PathLike[str] | None = None,
    client_key: str | os.PathLike[str] | None = None,
) -> ssl.SSLContext:
    """The TLS context of the lane's link to central ([central] ca_file, client_cert,
    client_key): central's certificate checked against ``ca_file`` (else certifi's CAs, as
    httpx does by default), and the lane's client certificate presented for mutual TLS when
    ``client_cert`` is given."""
    context = ssl.create_default_context(cafile=os.fspath(ca_file) if ca_file else certifi.where())
    if client_cert is not None:
        context.load_cert_chain(
            os.fspath(client_cert), os.fspath(client_key) if client_key is not None else None
        )
    return context


class CentralClient:
    """Async client for one lane; ``transport`` lets tests plug in an in-process app."""

    def __init__(
        self,
        base_url: str,
        lane_id: str,
        token: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        client_cert: str | os.PathLike[str] | None = None,
        client_key: str | os.PathLike[str] | None = None,
    ) -> None:
        self.lane_id = lane_id
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "egate-lane"},
            timeout=timeout,
            transport=transport,
            verify=tls_context(ca_file, client_cert, client_key)
            if ca_file or client_cert
            else True,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | str | None = None,
        content_type: str = "application/json",
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        what = f"{method} {path}"
        try:
            response = await self._http.request(
                method,
                API + path,
                content=content,
                headers={"Content-Type": content_type} if content is not None else None,
                params=params,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException:
            raise CentralUnavailable(f"{what}: central did not answer in time") from None
        except httpx.HTTPError as exc:
            raise CentralUnavailable(f"{what}: cannot reach central: {exc}") from None
        status = response.status_code
        if status == 429:
            raise CentralBackpressure(f"{what}: central is busy (429)", _retry_after(response))
        if status in (401, 403):
            raise CentralAuthError(
                f"{what}: central refused the lane credential ({status}): check [central] "
                f"token and [lane] id ({self.lane_id})",
                status,
            )
        if status >= 500 or status in (408, 502, 503, 504):
            raise CentralUnavailable(f"{what}: central answered {status}")
        if status >= 400:
            raise CentralProtocolError(
                f"{what}: central answered {status}: {response.text[:200]}", status
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CentralProtocolError(f"{what}: central's answer is not JSON") from None

    # ------------------------------------------------------------------ ingest

    async def ingest(self, bodies: list[str]) -> IngestResult:
        """Send already-serialised events (JSON objects) as one batch."""
        if len(bodies) > MAX_BATCH_EVENTS:
            raise CentralError(f"a batch holds at most {MAX_BATCH_EVENTS} events")
        payload = '{"events":[' + ",".join(bodies) + "]}"
        if len(payload.encode()) > MAX_BATCH_BYTES:
            raise CentralError(f"a batch is at most {MAX_BATCH_BYTES} bytes: send fewer events")
        data = await self._request("POST", "/ingest/events", content=payload)
        if not isinstance(data, dict):
            raise CentralProtocolError("ingest answer is not a JSON object")
        try:
            accepted = [str(x) for x in data.get("accepted", [])]
            duplicates = [str(x) for x in data.get("duplicates", [])]
            rejected = [
                (
                    None if r.get("event_id") is None else str(r["event_id"]),
                    int(r.get("index", -1)),
                    str(r.get("reason", "")),
                )
                for r in data.get("rejected", [])
            ]
        except (AttributeError, TypeError, ValueError):
            raise CentralProtocolError(
                f"ingest answer does not follow the contract: {data!r}"
            ) from None
        return IngestResult(accepted, duplicates, rejected)

    # ------------------------------------------------------------------ lane link

    async def heartbeat(self, status: dict[str, Any]) -> float:
        """Report the lane's state; returns the heartbeat period central asks for."""
        data = await self._request(
            "POST", f"/lanes/{self.lane_id}/heartbeat", content=json.dumps(status, default=str)
        )
        period = data.get("period_seconds", 5) if isinstance(data, dict) else 5
        try:
            return max(1.0, min(float(period), 300.0))
        except (TypeError, ValueError):
            return 5.0

    async def poll_commands(self, wait: float) -> list[Command]:
        data = await self._request(
            "GET",
            f"/lanes/{self.lane_id}/commands",
            params={"wait": int(wait)},
            timeout=wait + 10.0,
        )
        raw = data.get("commands", []) if isinstance(data, dict) else None
        if not isinstance(raw, list):
            raise CentralProtocolError("commands answer has no 'commands' list")
        out = []
        for item in raw:
            if not isinstance(item, dict) or "command_id" not in item or "action" not in item:
                raise CentralProtocolError(f"command without command_id/action: {item!r}")
            args = item.get("args") or {}
            out.append(
                Command(
                    command_id=str(item["command_id"]),
                    action=str(item["action"]),
                    args=args if isinstance(args, dict) else {},
                    issued_at=_time(item.get("issued_at")),
                    expires_at=_time(item.get("expires_at")),
                )
            )
        return out

    async def ack(self, command_id: str, result: AckResult, detail: str = "") -> None:
        await self._request(
            "POST",
            f"/lanes/{self.lane_id}/commands/{command_id}/ack",
            content=json.dumps({"result": result, "detail": detail[:500]}),
        )

    async def put_portrait(self, transaction_id: str, kind: str, data: bytes) -> None:
        await self._request(
            "PUT", f"/portraits/{transaction_id}/{kind}", content=data, content_type="image/jpeg"
        )

    async def get_list(self, name: ListName, since: int | None) -> dict[str, Any]:
        params = {"since": since} if since is not None else None
        data = await self._request("GET", f"/lanes/{self.lane_id}/lists/{name}", params=params)
        if not isinstance(data, dict) or "version" not in data:
            raise CentralProtocolError(f"{name} list answer has no version")
        return data
