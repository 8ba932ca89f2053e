"""Motion detection in the GUI (issue #24): the zone editor and motion tuner of one source
(`motion_dialog`), and the wall's "update on motion" tiles (`resting`)."""
