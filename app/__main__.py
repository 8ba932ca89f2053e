"""`python -m app` runs the station exactly like the `recording-station` console script."""

from app.main import main

raise SystemExit(main())
