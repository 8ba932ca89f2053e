"""The operator's desktop (PySide6). The only package that imports Qt; it talks to the core
through `app.station.Station` services and hears about changes through `EventBridge`."""
