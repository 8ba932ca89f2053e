"""Footage: everything about what the station recorded, from the start of a recording to the
day retention deletes its file.

- `recordings.RecordingService`, a facade over parts that own their state: `record_store`
  (the lock, the save, and with `record_overlay` and `live_rows` what the catalog could not
  take yet and the running records in memory), `record_queries` (reads), `record_starts` and
  `record_stops`, `rollover` (a file every `segment_s`), `record_keeping` (protection,
  deletion), `recording_controls` (pause, mute), `record_forwarding` (other stations' part),
  and `record_results` (how a closed file becomes its record's state);
- `export` and `export_space`: any time range cut into an MP4, and the disk room it may take;
- `timeline` and `bookmarks`: a source's footage over time, and the moments marked in it;
- `storage`: the disk guard and retention.

A room of its own because these share one subject, the records and their files, and change
together; what another station does for a recording (`app.site.forwarding`) is asked of the
site room, which never imports this one.
"""
