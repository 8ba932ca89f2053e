"""Pan, tilt and zoom over ONVIF (#27 item 5): `app.ptz.service.PtzService` (docs/ptz.md)."""
