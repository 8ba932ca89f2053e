"""The Recordings tab: the records table and its filters (`recordings`, `recordings_model`,
`record_filters`), the timeline of every source (`timeline`, `timeline_view`), bookmarks
(`bookmarks`, `bookmark_list`), the player (`player`; decoding is `ui.media`'s), another
station's files (`remote_records`), the export and sync dialogs (`export_dialog`,
`sync_panel`). A big window gets its own subpackage: the main window builds the tab, and asks
the bookmark dialog for `B` on a live tile; other panels borrow only the table's formatting
(`recordings_model.human_size`, `local_time`, `dot_icon`)."""
