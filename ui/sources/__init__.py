"""Adding, editing and deleting a source: the source dialog (`source_dialog`), one page per
kind of input (`source_pages`, `source_kinds`), its live preview (`source_preview`), the
delete flow (`source_delete`) and finding ONVIF cameras on the network (`find_cameras`)."""
