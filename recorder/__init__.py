"""The recording engine: one reader thread per source, stream copy into crash-safe MP4,
and a latest-frame slot for whoever wants to look at the picture.

This package is a leaf: it knows nothing of the catalog, the API or the GUI. The core hands
it plain `SourceSpec`s and gets plain results and status callbacks back.
"""

import av.logging

# FFmpeg's log callback into Python contends across threads: with a level set, a thread
# joining FFmpeg's decoder threads while holding the GIL can deadlock against one of them
# logging (PyAV issues #751, #909; it froze the GUI's player once in testing). A recorder
# that can freeze loses footage, so FFmpeg's logs stay off (None: no callback into Python)
# and errors are reported from their error codes. Set once, up front, for every thread.
av.logging.set_level(None)
