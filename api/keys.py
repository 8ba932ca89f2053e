"""Typed application keys: how handlers find the station."""

from aiohttp import web

from app.station import Station

STATION = web.AppKey("station", Station)
REQUEST_ID = web.RequestKey("request_id", str)
