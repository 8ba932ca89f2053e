"""Accounts over the native API (#26): signing in and out, who am I, users (admin), and each
user's personal API tokens (the user or an admin).

`POST /api/v1/session` takes a name and a password (the guard lets it through without a
token) and answers a bearer token once; a failed sign-in is a 401 counted by the guard's
lockout like any failed credential, and audited. The rules (names, passwords, the last admin,
token lifetimes) are `app.accounts`; this module reads requests and answers them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.keys import STATION
from api.native.params import IsoDatetime, add_route, ok, path_int, read_model
from api.permissions import identity_of
from api.routing import call
from api.security import PRINCIPAL, refused
from app.accounts.service import AccountError, UserOut
from app.accounts.tokens import PERSONAL, IssuedToken, TokenOut
from app.errors import InvalidInput, NotFound

SESSION = "/api/v1/session"
USERS = "/api/v1/user"
ONE = USERS + "/{user_id}"
UID = {"user_id": int}


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    token: str = Field(description="the bearer token: `Authorization: Bearer <token>`; shown once")
    expires_utc: datetime | None
    user: UserOut


class WhoAmI(BaseModel):
    user: UserOut | None = Field(description="null: the site's service token or an open station")
    role: str = Field(description="what the caller may do: viewer, operator or admin")
    via: str = Field(description="`session`, `token <name>`, `station-token`, `open` ...")
    scope: list[int] | None = Field(description="the groups whose sources the caller sees; null: all")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: str = "viewer"
    display_name: str | None = Field(default=None, max_length=255)
    scope: list[int] | None = None
    expires_utc: IsoDatetime | None = None


class UserChange(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="ignore")
    display_name: str | None = Field(default=None, max_length=255)
    role: str | None = None
    scope: list[int] | None = None
    expires_utc: IsoDatetime | None = None
    enabled: bool | None = None


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    password: str = Field(min_length=8, max_length=1024)
    current_password: str | None = Field(default=None, max_length=1024, description=(
        "required when users change their own password"))


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    role: str | None = Field(default=None, description="at most the user's role (null: the user's)")
    expires_utc: IsoDatetime | None = None


def _refused(exc: AccountError) -> InvalidInput:
    return InvalidInput(str(exc))


async def sign_in(request: web.Request) -> web.Response:
    """Sign in with a name and a password: a session token (12 hours)."""
    data = await read_model(request, SessionIn)
    station = request.app[STATION]
    user = await call(station.accounts.verify, data.name, data.password)
    if user is None:
        refused(request, "native", "sign-in with a wrong name or password")
        return web.json_response({"detail": "Not authenticated: wrong name or password"},
                                 status=401, headers={"WWW-Authenticate": "Bearer"})
    issued = await call(station.tokens.issue, user.id)
    request[PRINCIPAL] = replace(request[PRINCIPAL], who=user.name)
    return web.json_response(SessionOut(token=issued.token, expires_utc=issued.expires_utc,
                                        user=user).model_dump(mode="json"), status=201)


async def who_am_i(request: web.Request) -> web.Response:
    """Who the credential of this request is, and what it may do."""
    identity = identity_of(request)
    if identity is None:
        return ok(WhoAmI(user=None, role="admin", via=request[PRINCIPAL].who, scope=None))
    user = await call(request.app[STATION].accounts.by_id, identity.user_id)
    return ok(WhoAmI(user=user, role=identity.role, via=identity.via,
                     scope=None if identity.groups is None else list(identity.groups)))


async def sign_out(request: web.Request) -> web.Response:
    """End this session (a personal token is revoked with its own DELETE)."""
    identity = identity_of(request)
    if identity is None or identity.via != "session" or identity.token_id is None:
        raise InvalidInput("only a session can sign out (this request carries no session token)")
    await call(request.app[STATION].tokens.revoke, identity.user_id, identity.token_id)
    return web.json_response({}, status=200)


async def list_users(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].accounts.list))


async def create_user(request: web.Request) -> web.Response:
    data = await read_model(request, UserIn)
    try:
        user = await call(request.app[STATION].accounts.create, data.name, data.password,
                          role=data.role, display_name=data.display_name, scope=data.scope,
                          expires_utc=data.expires_utc, who=None)
    except AccountError as exc:
        raise _refused(exc) from None
    return web.json_response(user.model_dump(mode="json"), status=201)


async def _user(request: web.Request) -> UserOut:
    """The user of the path, if the caller is that user or an admin (else 404: another
    user's account does not exist for a viewer or an operator)."""
    user_id = path_int(request, "user_id")
    identity = identity_of(request)
    if identity is not None and identity.role != "admin" and identity.user_id != user_id:
        raise NotFound("user", user_id, field="user_id")
    user = await call(request.app[STATION].accounts.by_id, user_id)
    if user is None:
        raise NotFound("user", user_id, field="user_id")
    return user


async def get_user(request: web.Request) -> web.Response:
    return ok(await _user(request))


async def change_user(request: web.Request) -> web.Response:
    user = await _user(request)
    data = await read_model(request, UserChange)
    accounts = request.app[STATION].accounts
    changes = {key: getattr(data, key) for key in data.model_fields_set if key != "enabled"}
    try:
        if changes:
            user = await call(lambda: accounts.update(user.name, who=None, **changes))
        if data.enabled is False and user.enabled:
            user = await call(accounts.disable, user.name, who=None)
        elif data.enabled is True and not user.enabled:
            user = await call(accounts.enable, user.name, who=None)
    except AccountError as exc:
        raise _refused(exc) from None
    return ok(user)


async def delete_user(request: web.Request) -> web.Response:
    user = await _user(request)
    try:
        return ok(await call(request.app[STATION].accounts.delete, user.name, who=None))
    except AccountError as exc:
        raise _refused(exc) from None


async def set_password(request: web.Request) -> web.Response:
    """An admin sets anyone's; users set their own with their current password. Every
    session of the account ends (its personal tokens stay)."""
    user = await _user(request)
    data = await read_model(request, PasswordIn)
    station = request.app[STATION]
    identity = identity_of(request)
    if identity is not None and identity.role != "admin":
        current = data.current_password or ""
        if await call(station.accounts.verify, user.name, current) is None:
            refused(request, "native", "a wrong current password")
            raise InvalidInput("the current password is not right", field="current_password")
    try:
        return ok(await call(station.accounts.set_password, user.name, data.password, who=None))
    except AccountError as exc:
        raise _refused(exc) from None


async def create_token(request: web.Request) -> web.Response:
    """A personal API token for scripts: shown once in this answer, never again."""
    user = await _user(request)
    data = await read_model(request, TokenIn)
    try:
        issued: IssuedToken = await call(request.app[STATION].tokens.issue, user.id, kind=PERSONAL,
                                         name=data.name, role=data.role,
                                         expires_utc=data.expires_utc)
    except AccountError as exc:
        raise _refused(exc) from None
    return web.json_response(issued.model_dump(mode="json"), status=201)


async def list_tokens(request: web.Request) -> web.Response:
    user = await _user(request)
    return ok(await call(request.app[STATION].tokens.list, user.id))


async def revoke_token(request: web.Request) -> web.Response:
    user = await _user(request)
    token_id = path_int(request, "token_id")
    revoked = await call(request.app[STATION].tokens.revoke, user.id, token_id)
    if revoked is None:
        raise NotFound("token", token_id, field="token_id")
    return ok(revoked)


def created(model: str, what: str) -> dict[int, dict]:
    """The OpenAPI answer of a route that answers 201 with `model`."""
    return {201: {"description": what, "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{model}"}}}}}


def setup(app: web.Application) -> None:
    tid = {**UID, "token_id": int}
    add_route(app, "POST", SESSION, sign_in, action="sign in", tag="session", body=SessionIn,
              response=SessionOut, errors=(401,),
              extra_responses=created("SessionOut", "signed in: the session token, once"),
              summary="Sign in with a name and a password",
              description="Extension (#26). No token needed. Answers a session token (once) "
              "valid 12 hours; send it as `Authorization: Bearer <token>`. A wrong name or "
              "password is a 401 counted by the lockout (10 a minute per address), and audited.")
    add_route(app, "GET", SESSION, who_am_i, role="viewer", tag="session", response=WhoAmI,
              summary="Who this request's credential is, and what it may do")
    add_route(app, "DELETE", SESSION, sign_out, action="sign out", tag="session",
              response=dict, summary="Sign out: this session's token stops working",
              description="`{}`; 422 for a credential that is not a session.")
    add_route(app, "GET", USERS, list_users, role="admin", tag="user", response=list[UserOut],
              summary="List the accounts (admin)")
    add_route(app, "POST", USERS, create_user, action="create user", tag="user", body=UserIn,
              response=UserOut, summary="Add an account (admin)",
              extra_responses=created("UserOut", "the account, made"),
              description="`role`: viewer, operator or admin; `scope`: the ids of the groups "
              "whose sources the user sees (null: every source). A name is 1-64 characters "
              "of a-z, 0-9, '.', '_' and '-' (taken lower-case); a password at least 8.")
    add_route(app, "GET", ONE, get_user, role="viewer", tag="user", path_types=UID,
              response=UserOut, summary="An account (admin, or the user)")
    add_route(app, "PUT", ONE, change_user, action="update user", tag="user", path_types=UID,
              body=UserChange, response=UserOut,
              summary="Change an account's role, scope, display name, expiry or enabled (admin)",
              description="Only the fields sent change. Disabling ends its sessions. The last "
              "enabled admin cannot be demoted or disabled (422).")
    add_route(app, "DELETE", ONE, delete_user, action="delete user", tag="user",
              path_types=UID, response=UserOut, summary="Remove an account (admin)",
              description="With its sessions and tokens; audit entries keep its name.")
    add_route(app, "PUT", ONE + "/password", set_password, action="change password",
              tag="user", path_types=UID, body=PasswordIn, response=UserOut,
              summary="Set a password (admin: anyone's; a user: their own, with the current one)")
    add_route(app, "POST", ONE + "/token", create_token, action="create token", tag="user",
              path_types=UID, body=TokenIn, response=IssuedToken,
              extra_responses=created("IssuedToken", "the token (its secret shown this once)"),
              summary="Make a personal API token (shown once)")
    add_route(app, "GET", ONE + "/token", list_tokens, role="viewer", tag="user",
              path_types=UID, response=list[TokenOut],
              summary="List a user's sessions and tokens, without their secrets")
    add_route(app, "DELETE", ONE + "/token/{token_id}", revoke_token, action="revoke token",
              tag="user", path_types=tid, response=TokenOut, summary="Revoke a session or token")
