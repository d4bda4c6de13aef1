"""Officer accounts (admin): list, create, change role, disable, unlock, reset password."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from central import audit
from central.db import officers, sessions
from central.deps import OFFICER_AUTH, Central, get_central, require_admin
from central.errors import InvalidRequest, NotFound
from central.responses import BAD_REQUEST
from central.security import USERNAME_PATTERN, Officer, Role, create_officer, hash_password

router = APIRouter(prefix="/api/v1/officers", tags=["officers"])

AUTH = OFFICER_AUTH


def _officer_dict(row: Any) -> dict[str, Any]:
    return {
        "username": row.username,
        "display_name": row.display_name,
        "role": row.role,
        "disabled": bool(row.disabled),
        "failed_logins": row.failed_logins,
        "locked_until": row.locked_until,
        "created_at": row.created_at,
        "last_login_at": row.last_login_at,
    }


@router.get("", summary="Every officer account (admin)", responses=AUTH)
async def list_officers(
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_admin),
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        with central.db.read() as conn:
            rows = conn.execute(select(officers).order_by(officers.c.username)).all()
        return {"officers": [_officer_dict(r) for r in rows]}

    return await run_in_threadpool(work)


class NewOfficer(BaseModel):
    username: Annotated[str, Field(pattern=USERNAME_PATTERN)]
    password: Annotated[str, Field(min_length=12, max_length=1024)]
    role: Role = "officer"
    display_name: Annotated[str, Field(max_length=128)] = ""


@router.post(
    "",
    status_code=201,
    summary="Create an officer account (admin)",
    responses={**AUTH, **BAD_REQUEST, 409: {"description": "the user name is taken"}},
)
async def add_officer(
    body: NewOfficer,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_admin),
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        now = central.now()
        with central.db.write() as conn:
            create_officer(
                conn,
                central.config.security,
                username=body.username,
                password=body.password,
                role=body.role,
                display_name=body.display_name,
                at=now,
            )
            audit.append(
                conn,
                at=now,
                actor=officer.username,
                action="officer_created",
                target=f"officer:{body.username}",
                detail={"role": body.role},
            )
            row = conn.execute(select(officers).where(officers.c.username == body.username)).one()
        return _officer_dict(row)

    return await run_in_threadpool(work)


class OfficerChange(BaseModel):
    role: Role | None = None
    display_name: Annotated[str, Field(max_length=128)] | None = None
    disabled: bool | None = None
    unlock: bool = False
    password: Annotated[str, Field(min_length=12, max_length=1024)] | None = None


@router.patch(
    "/{username}",
    summary="Change an officer account (admin)",
    responses={**AUTH, **BAD_REQUEST, 404: {"description": "no such officer"}},
)
async def change_officer(
    username: Annotated[str, Path(max_length=64)],
    body: OfficerChange,
    central: Central = Depends(get_central),
    officer: Officer = Depends(require_admin),
) -> dict[str, Any]:
    """Disabling an account or changing its role or password ends its sessions."""

    def work() -> dict[str, Any]:
        now = central.now()
        values: dict[str, Any] = {}
        if body.role is not None:
            values["role"] = body.role
        if body.display_name is not None:
            values["display_name"] = body.display_name
        if body.disabled is not None:
            values["disabled"] = body.disabled
        if body.unlock:
            values.update(failed_logins=0, locked_until=None)
        if body.password is not None:
            values["password_hash"] = hash_password(central.config.security, body.password)
        if not values:
            raise InvalidRequest("nothing to change")
        if username == officer.username and (body.role not in (None, "admin") or body.disabled):
            raise InvalidRequest("an administrator cannot demote or disable themself")
        with central.db.write() as conn:
            done = conn.execute(
                update(officers).where(officers.c.username == username).values(**values)
            )
            if done.rowcount != 1:
                raise NotFound(f"no officer {username!r}")
            if {"role", "disabled", "password_hash"} & values.keys():
                conn.execute(sessions.delete().where(sessions.c.username == username))
            audit.append(
                conn,
                at=now,
                actor=officer.username,
                action="officer_changed",
                target=f"officer:{username}",
                detail={
                    k: v for k, v in body.model_dump(exclude_none=True).items() if k != "password"
                }
                | {"password_reset": body.password is not None},
            )
            row = conn.execute(select(officers).where(officers.c.username == username)).one()
        return _officer_dict(row)

    return await run_in_threadpool(work)
