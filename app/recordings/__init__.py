"""Footage: everything about what the station recorded, from the start of a recording to the
day retention deletes its file.

- `recordings.RecordingService`, assembled from its parts: `record_overlay` (what the catalog
  could not take yet), `record_queries` (reads), `recording_controls` (pause, mute),
  `record_keeping` (protection, deletion), `rollover` (a file every `segment_s`) and
  `live_rows` (the running records in memory);
- `export` and `export_space`: any time range cut into an MP4, and the disk room it may take;
- `timeline` and `bookmarks`: a source's footage over time, and the moments marked in it;
- `storage`: the disk guard and retention.

A room of its own because these share one subject, the records and their files, and change
together; what another station does for a recording (`app.site.forwarding`) is asked of the
site room, which never imports this one.
"""
