"""Synchronised playback of several cameras (#25 item 2): one shared clock, a decoding worker
per tile, the tiles and their controls. See docs/playback.md."""
