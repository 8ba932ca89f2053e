"""Names vulture (`make lint`, `make test`; settings in pyproject.toml) cannot see used: a
framework calls or reads them by name. Vulture only parses this file, it never runs it; a
name here counts as used wherever it is defined, so keep the list to framework names and
say whose each is. Dead code is removed, never listed here."""

_ = object()

# logging: the LogRecord attribute a formatter caches the traceback in (api/connections.py)
_.exc_text

# SQLAlchemy TypeDecorator: the encrypted columns (app/credentials.py)
_.impl
_.cache_ok
_.process_bind_param
_.process_result_value

# Alembic: what a revision script must define (app/migrations/versions/)
revision
down_revision
branch_labels
depends_on
downgrade

# pydantic: an enum member only JSON names (PictureAuth.basic); a field only serialising
# reads (StorageOut.floor_mb)
_.basic
_.floor_mb

# pydantic-settings: the hook and the keyword arguments it is called with (app/settings.py)
_.settings_customise_sources
dotenv_settings
file_secret_settings

# urllib: the redirect handler's override (app/dialects/huawei/callbacks.py)
_.redirect_request

# PyAV: codec options set as attributes (recorder/, ui/media.py), and a frame's picture type
# the encoder reads (tests/support/motion_scene.py)
_.bit_rate
_.gop_size
_.pict_type
_.skip_frame
_.thread_count
_.thread_type

# Qt: virtual methods Qt calls, and the style option field a delegate sets (ui/)
_.headerData
_.mouseDoubleClickEvent
_.mouseMoveEvent
_.mouseReleaseEvent
_.wheelEvent
_.leaveEvent
_.contextMenuEvent
_.paintEvent
_.dragEnterEvent
_.eventFilter
_.textElideMode

# tests: http.server handlers, a keyring backend, the Huawei SDK's HTTP configuration
_.do_GET
_.do_POST
_.do_PUT
_.log_message
_.delete_password
_.retry_times
_.ssl_ca_cert

# paho-mqtt: the callbacks its network thread calls by attribute name (api/mqtt/bridge.py,
# tests/support/mosquitto.py)
_.on_connect
_.on_disconnect
_.on_message
_.on_subscribe
_.on_connect_fail

# GET /api/v1/station: fields of the answer (app/site/stations.py StationOut)
_.this
_.recordings_running
_.evidence_public_key

# http.client and urllib: the connection factory an HTTPConnection calls, the handlers'
# `<scheme>_open` an OpenerDirector calls (recorder/outgoing.py, app/site/sync_targets.py)
_._create_connection
_.http_open
_.https_open

# aiohttp: the hook FileResponse sends a body through (api/native/export.py WorkFile)
_._sendfile

# PyAV: the position a Python file object is asked for (ui/media.py RangeReader)
_.tell
