"""The native dialect, `/api/v1` (the video-recording-service API), plus `/test/*`."""
