"""Recording Station core: settings, catalog, services, events and the composition root.

Nothing in this package imports Qt or aiohttp: the GUI (`ui`) and the API (`api`) are two
front ends over the same services, wired together only in `app.main`.
"""

__version__ = "0.1.0"
APP_NAME = "recording-station"
