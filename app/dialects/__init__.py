"""The state machines of the API dialects that are more than a translation: each dialect's
own subpackage, used by that dialect alone (`api.device_connect`, `api.huawei`), built over
the station's recordings and sources.

A dialect's state never lives among the domain services (`app.services`), and the dialects
never import each other (an import-linter contract).
"""
