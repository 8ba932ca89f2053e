"""The recording engine: one reader thread per source, stream copy into crash-safe MP4,
and a latest-frame slot for whoever wants to look at the picture.

This package is a leaf: it knows nothing of the catalog, the API or the GUI. The core hands
it plain `SourceSpec`s and gets plain results and status callbacks back.
"""

import av.logging

# FFmpeg's log callback into Python contends across threads: set the level once, up front.
av.logging.set_level(av.logging.ERROR)
