"""The service layer: the only code that reads or writes the catalog and drives the
recorder. The GUI and every API dialect call these plain synchronous methods; they return
public schemas and raise `app.errors` exceptions."""

from app.services.groups import GroupService
from app.services.recordings import RecordingService
from app.services.sources import SourceService
from app.services.sync import SyncService
from app.services.uploads import UploadService

__all__ = ["GroupService", "RecordingService", "SourceService", "SyncService", "UploadService"]
