"""A user's Huawei AK/SK pairs over the native API (#26): the credentials the Huawei Live and
RTC dialects' SDKs sign with, each acting as its user (role, scope, name in the audit trail).

    POST   /api/v1/user/{user_id}/aksk        {name} -> 201 {access_key, secret_key, ...}
    GET    /api/v1/user/{user_id}/aksk        -> the pairs, without their secret keys
    DELETE /api/v1/user/{user_id}/aksk/{ak}   -> the pair revoked

The user or an admin: another user's account is a 404 for a viewer or an operator, as in
api.native.users. The secret key is in the POST's answer only; the catalog keeps it encrypted
(app.accounts.aksk), and no log line or audit entry carries it.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.keys import STATION
from api.native.params import add_route, ok, path_int, read_model
from api.permissions import identity_of
from api.routing import call
from app.accounts.aksk import AkSkOut, IssuedAkSk
from app.accounts.roles import ADMIN
from app.accounts.service import AccountError
from app.errors import InvalidInput, NotFound

KEYS = "/api/v1/user/{user_id}/aksk"
UID = {"user_id": int}


class AkSkIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64, description="what the pair is for")


async def _user_id(request: web.Request) -> int:
    """The user of the path, if the caller is that user or an admin (else 404: another
    user's account does not exist for a viewer or an operator)."""
    user_id = path_int(request, "user_id")
    identity = identity_of(request)
    if identity is not None and identity.role != ADMIN and identity.user_id != user_id:
        raise NotFound("user", user_id, field="user_id")
    if await call(request.app[STATION].accounts.by_id, user_id) is None:
        raise NotFound("user", user_id, field="user_id")
    return user_id


async def create_key(request: web.Request) -> web.Response:
    """Make a Huawei AK/SK pair (the secret key is shown this once)."""
    user_id = await _user_id(request)
    data = await read_model(request, AkSkIn)
    try:
        issued: IssuedAkSk = await call(request.app[STATION].aksk.create, user_id, data.name)
    except AccountError as exc:
        raise InvalidInput(str(exc)) from None
    return web.json_response(issued.model_dump(mode="json"), status=201)


async def list_keys(request: web.Request) -> web.Response:
    user_id = await _user_id(request)
    return ok(await call(request.app[STATION].aksk.list, user_id))


async def revoke_key(request: web.Request) -> web.Response:
    user_id = await _user_id(request)
    access_key = request.match_info["access_key"]
    revoked = await call(request.app[STATION].aksk.revoke, user_id, access_key)
    if revoked is None:
        raise NotFound("access key", access_key[:64], field="access_key")
    return ok(revoked)


def setup(app: web.Application) -> None:
    akid = {**UID, "access_key": str}
    add_route(app, "POST", KEYS, create_key, action="create access key", tag="user",
              path_types=UID, body=AkSkIn, response=IssuedAkSk,
              extra_responses={201: {"description": "the pair (its secret key shown this once)",
                                     "content": {"application/json": {"schema": {
                                         "$ref": "#/components/schemas/IssuedAkSk"}}}}},
              summary="Make a Huawei AK/SK pair (the user, or an admin)",
              description="Extension (#26). For the Huawei Live and RTC dialects: an SDK "
              "signing with the pair acts as the user (role, scope, audit name). The secret key "
              "is in this answer only. At most 10 pairs a user.")
    add_route(app, "GET", KEYS, list_keys, role="viewer", tag="user", path_types=UID,
              response=list[AkSkOut], summary="List a user's Huawei access keys, without secrets")
    add_route(app, "DELETE", KEYS + "/{access_key}", revoke_key, action="revoke access key",
              tag="user", path_types=akid, response=AkSkOut,
              summary="Revoke a Huawei AK/SK pair",
              description="Requests signed with it are refused (401) from then on. Revoking the "
              "`configured pair` row does not retire the settings' pair (huawei_ak/huawei_sk): "
              "clear those settings for that.")
