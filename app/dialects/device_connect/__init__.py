"""Device Connect's state machines: its authorization (`dc_auth`: clients, access tokens and
the operator's approval) and its media recorder per source (`dc_recorder`), over the
station's recordings. Used by `api.device_connect`, and by the native API for the media URIs
it hands out."""
