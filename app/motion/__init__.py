"""Motion detection of the station's sources (#24): `MotionService` (service.py) and the
analyser thread per source (analyser.py); the detector itself is the `vision` package."""
