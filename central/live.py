"""Live updates: an in-process hub of subscribers, bridged across processes by PostgreSQL.

Writers call :meth:`LiveHub.publish` inside their database transaction. On SQLite (one
process) the message goes to this process's subscribers after commit. On PostgreSQL it is sent
with ``pg_notify`` in the same transaction, so it is delivered at commit and only on commit,
to every central process: each one LISTENs on :data:`CHANNEL` and hands what it hears to its own
subscribers (officer SSE streams, command long polls).

A message is ``{"kind": ..., "data": {...}}``; the SSE stream sends ``kind`` as the event name.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection

from central.db import after_commit, before_commit

log = logging.getLogger(__name__)

_PENDING = "egate_live_pending"
CHANNEL = "egate_live"
NOTIFY_LIMIT = 7900  # PostgreSQL refuses payloads of 8000 bytes or more


@dataclass
class Message:
    id: int
    kind: str
    data: dict[str, Any]

    def sse(self) -> bytes:
        return (
            f"id: {self.id}\nevent: {self.kind}\ndata: ".encode()
            + _encode(self.data).encode()
            + b"\n\n"
        )


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[Message]
    loop: asyncio.AbstractEventLoop
    kinds: frozenset[str] | None
    predicate: Callable[[Message], bool] | None = None
    dropped: int = 0


@dataclass
class LiveHub:
    """Fan-out of live messages to the subscribers of this process."""

    use_notify: bool = False
    channel: str = CHANNEL
    max_queue: int = 10000
    _subs: set[_Subscriber] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    published: int = 0

    def __hash__(self) -> int:
        return id(self)

    # ----------------------------------------------------------------- writers

    def publish(self, conn: Connection, kind: str, data: dict[str, Any]) -> None:
        """Publish ``data`` when the transaction of ``conn`` commits.

        On PostgreSQL the messages of one transaction are sent with one statement at its end
        (``pg_notify`` over an array), not one round trip each."""
        if self.use_notify:
            payload = _fit(kind, data, _encode({"kind": kind, "data": data}))
            pending: list[str] = conn.info.setdefault(_PENDING, [])
            pending.append(payload)
            before_commit(conn, _PENDING, lambda: self._notify(conn))
            return
        after_commit(conn, lambda: self.deliver(kind, data))

    def _notify(self, conn: Connection) -> None:
        payloads = conn.info.pop(_PENDING, [])
        if len(payloads) == 1:
            conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": self.channel, "p": payloads[0]})
        elif payloads:
            conn.exec_driver_sql(
                "SELECT pg_notify(%s, p) FROM unnest(%b::text[]) WITH ORDINALITY AS t(p, n) "
                "ORDER BY n",
                (self.channel, payloads),
            )

    # ----------------------------------------------------------------- fan-out

    def deliver(self, kind: str, data: dict[str, Any]) -> None:
        """Hand a message to this process's subscribers (thread-safe)."""
        msg = Message(next(self._ids), kind, data)
        self.published += 1
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.kinds is not None and kind not in sub.kinds:
                continue
            if sub.predicate is not None and not sub.predicate(msg):
                continue
            with contextlib.suppress(RuntimeError):  # loop closed: subscriber is gone
                sub.loop.call_soon_threadsafe(self._put, sub, msg)

    @staticmethod
    def _put(sub: _Subscriber, msg: Message) -> None:
        if sub.queue.qsize() >= sub.queue.maxsize > 0:
            sub.dropped += 1  # a stalled browser must not grow memory without bound
            return
        sub.queue.put_nowait(msg)

    def subscribe(
        self,
        kinds: set[str] | None = None,
        predicate: Callable[[Message], bool] | None = None,
    ) -> _Subscriber:
        sub = _Subscriber(
            asyncio.Queue(maxsize=self.max_queue),
            asyncio.get_running_loop(),
            frozenset(kinds) if kinds else None,
            predicate,
        )
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: _Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)


class PostgresListener:
    """A thread that LISTENs on :data:`CHANNEL` and delivers what it hears to the hub."""

    def __init__(self, dsn: str, hub: LiveHub) -> None:
        self.dsn = dsn
        self.hub = hub
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="egate-listen", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {self.hub.channel}")
                    self._ready.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._handle(note.payload)
            except psycopg.Error as exc:
                log.warning("LISTEN connection lost (%s); reconnecting", exc)
                self._stop.wait(1.0)

    def _handle(self, payload: str) -> None:
        try:
            msg = orjson.loads(payload)
            self.hub.deliver(str(msg["kind"]), dict(msg["data"]))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring malformed live notification: %s", exc)


def _encode(value: Any) -> str:
    """Compact JSON (orjson; anything it does not know as ``str``)."""
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _fit(kind: str, data: dict[str, Any], payload: str) -> str:
    """Shorten a message's ``events`` list until it fits a NOTIFY payload (``truncated``)."""
    events = data.get("events")
    while len(payload.encode()) > NOTIFY_LIMIT and isinstance(events, list) and events:
        events = events[: len(events) // 2]
        payload = _encode({"kind": kind, "data": {**data, "events": events, "truncated": True}})
    if len(payload.encode()) > NOTIFY_LIMIT:
        log.warning("live message %s too large for NOTIFY (%d bytes)", kind, len(payload))
        payload = json.dumps({"kind": kind, "data": {"truncated": True}})
    return payload


def channel_for(sqlalchemy_url: str) -> str:
    """The NOTIFY channel of one deployment: processes sharing a database and schema
    (``?options=-csearch_path=...``) share it; other schemas of the same database do not."""
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url)
    options = str(url.query.get("options", ""))
    schema = options.split("search_path=", 1)[1].split()[0] if "search_path=" in options else ""
    suffix = "".join(ch for ch in schema.lower() if ch.isalnum() or ch == "_")[:30]
    return f"{CHANNEL}_{suffix}" if suffix else CHANNEL


def psycopg_dsn(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://u@h/db`` -> ``postgresql://u@h/db`` for psycopg itself."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
