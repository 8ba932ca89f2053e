"""The domain services that belong to no other room: sources and their probes, groups, the
audit trail, finding ONVIF cameras, and the numbers monitoring reads about each source.

Like every service of the core (`app.recordings`, `app.site`, `app.dialects`), they are plain
synchronous classes that open a catalog session per unit of work, return the public shapes of
`app.schemas` and raise `app.errors` exceptions; the GUI and every API dialect call them.
"""
