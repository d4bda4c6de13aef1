"""``egate central``: run the central service and administer it.

- ``egate central [--config FILE]`` serves the API and dashboard (uvicorn);
- ``egate central create-admin --username NAME`` creates the first administrator (password
  from ``--password-stdin`` or asked twice on the terminal);
- ``egate central register-lane LANE_ID [--port P]`` registers a lane and prints its token once;
- ``egate central audit verify [--expect-head HASH]`` checks the audit hash chain (exit 1 if
  broken);
- ``egate central purge`` runs the retention purge once.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from gate import config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "central", help="run the central service (API, dashboard) and administer it"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="central TOML file (default: built-in defaults + environment)",
    )
    parser.add_argument("--host", default=None, help="override [server] host")
    parser.add_argument("--port", type=int, default=None, help="override [server] port")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes (use PostgreSQL for more than one)",
    )
    parser.set_defaults(func=_serve)
    sub = parser.add_subparsers(dest="central_command", metavar="ACTION")

    admin = sub.add_parser("create-admin", help="create an administrator account")
    admin.add_argument("--username", required=True)
    admin.add_argument("--display-name", default="")
    admin.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (one line)",
    )
    admin.set_defaults(func=_create_admin)

    lane = sub.add_parser("register-lane", help="register a lane and print its token once")
    lane.add_argument("lane_id")
    lane.add_argument("--name", default="")
    lane.add_argument("--port", dest="lane_port", default="", help="border crossing point code")
    lane.add_argument("--terminal", default="")
    lane.add_argument("--direction", choices=["arrival", "departure", "both"], default="arrival")
    lane.add_argument(
        "--rotate",
        action="store_true",
        help="issue a new token for a registered lane (old one: grace period)",
    )
    lane.set_defaults(func=_register_lane)

    audit_p = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit_p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser("verify", help="verify the hash chain of the audit log")
    verify.add_argument(
        "--expect-head",
        default=None,
        help="head hash recorded earlier: also detects removed last entries",
    )
    verify.set_defaults(func=_audit_verify)

    purge = sub.add_parser("purge", help="delete what is past its retention period, once")
    purge.set_defaults(func=_purge)

    for p in (admin, lane, verify, purge):
        p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="central TOML file")


def _config(args: argparse.Namespace) -> config.CentralConfig:
    return config.load_central(getattr(args, "config", None))


def _central(args: argparse.Namespace) -> Any:
    """The service state without HTTP (migrated database, clock, hub)."""
    from central.app import create_app

    app = create_app(_config(args), background=False)
    return app.state.central


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    cfg = _config(args)
    host = args.host or cfg.server.host
    port = args.port or cfg.server.port
    if args.workers > 1 and cfg.database.url.startswith("sqlite"):
        print("egate: error: several workers need PostgreSQL ([database] url)", file=sys.stderr)
        return 2
    if args.workers > 1:
        import os

        if args.config is not None:
            os.environ["EGATE_CENTRAL_CONFIG"] = str(args.config)
        uvicorn.run(
            "central.asgi:app",
            timeout_graceful_shutdown=5,
            host=host,
            port=port,
            workers=args.workers,
            log_level=cfg.logging.level.lower(),
            proxy_headers=True,
            **cfg.server.uvicorn_tls(),
        )
        return 0
    from central.app import create_app
    from central.logs import configure

    configure(cfg.logging)
    uvicorn.run(
        create_app(cfg),
        log_config=None,
        host=host,
        port=port,
        log_level=cfg.logging.level.lower(),
        proxy_headers=True,
        timeout_graceful_shutdown=5,
        **cfg.server.uvicorn_tls(),
    )
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    from central import audit
    from central.security import create_officer

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("egate: error: the passwords differ", file=sys.stderr)
            return 1
    central = _central(args)
    with central.db.write() as conn:
        create_officer(
            conn,
            central.config.security,
            username=args.username,
            password=password,
            role="admin",
            display_name=args.display_name,
            at=central.now(),
        )
        audit.append(
            conn,
            at=central.now(),
            actor="cli",
            action="officer_created",
            target=f"officer:{args.username}",
            detail={"role": "admin"},
        )
    print(f"administrator {args.username!r} created")
    return 0


def _register_lane(args: argparse.Namespace) -> int:
    from central.lanes import LaneRegistration, register_lane
    from central.security import issue_lane_credential

    central = _central(args)
    if args.rotate:
        from sqlalchemy import select

        from central import audit
        from central.db import lanes
        from central.errors import NotFound

        with central.db.write() as conn:
            if not conn.execute(
                select(lanes.c.lane_id).where(lanes.c.lane_id == args.lane_id)
            ).first():
                raise NotFound(f"lane {args.lane_id!r} is not registered; register it first")
            grace = central.config.security.credential_grace_hours * 3600.0
            token = issue_lane_credential(conn, args.lane_id, central.now(), grace_seconds=grace)
            audit.append(
                conn,
                at=central.now(),
                actor="cli",
                action="lane_credential_rotated",
                target=args.lane_id,
            )
    else:
        token = register_lane(
            central,
            LaneRegistration(
                lane_id=args.lane_id,
                name=args.name,
                port=args.lane_port,
                terminal=args.terminal,
                direction=args.direction,
            ),
            "cli",
        )
    print(
        json.dumps(
            {
                "lane_id": args.lane_id,
                "token": token,
                "note": "shown once: put it in the lane's [central] token",
            }
        )
    )
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from central import audit

    central = _central(args)
    with central.db.read() as conn:
        result = audit.verify(conn, expect_head=args.expect_head)
    print(json.dumps(result.as_dict(), indent=2))
    return 0 if result.ok else 1


def _purge(args: argparse.Namespace) -> int:
    from central.retention import purge

    print(json.dumps(purge(_central(args))))
    return 0
