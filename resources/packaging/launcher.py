"""The packaged executable's entry point: the same `main` as the `recording-station` console
script, so a bundle and a virtualenv start one and the same station."""

from app.main import main

if __name__ == "__main__":
    raise SystemExit(main())
