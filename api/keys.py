"""Typed application keys: how handlers find the station."""

from aiohttp import web

from app.station import Station

STATION = web.AppKey("station", Station)
REQUEST_ID = web.RequestKey("request_id", str)
# Set on a sub-application that authenticates its requests itself (the Huawei dialects):
# the root's token check steps aside for its paths.
OWN_AUTH = web.AppKey("own_auth", bool)
