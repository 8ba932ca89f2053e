"""The composition root: settings → catalog → services → recorder → MQTT bus → API server →
GUI, and shutdown in reverse. Everything the station is made of is built here and nowhere else.

    recording-station [--headless] [--host H] [--port N] [--data-dir DIR] [--no-demo] [--version]
                      [--self-test]
    recording-station verify <evidence-package-folder-or-zip> [--key PUBLIC_KEY]
    recording-station user add|passwd|disable|enable|list ... [--data-dir DIR]  (app.accounts.cli)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from app import __version__

if TYPE_CHECKING:  # the station is imported when one is started (main): `verify` needs none
    from app.settings import Settings
    from app.station import Station

log = logging.getLogger("app")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="recording-station",
        description="Desktop recording station: live camera tiles, tagged recordings, REST APIs.")
    parser.add_argument("--headless", action="store_true", default=None,
                        help="run the API and the recorder only, without a window")
    parser.add_argument("--host", help="API bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="API port (default 4035; 0 picks a free one)")
    parser.add_argument("--data-dir", type=Path, help="folder for the catalog and the recordings")
    parser.add_argument("--no-demo", dest="demo", action="store_false", default=None,
                        help="do not create the test-pattern demo sources on an empty catalog")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="record 3 s of a test pattern on a throwaway station through the API, "
                             "download and decode it; exit 0 only if every step worked")
    return parser.parse_args(argv)


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                    or os.environ.get("QT_QPA_PLATFORM") == "offscreen")
    return True


def configure_logging(level: str) -> None:
    from app.redaction import OneLineFormatter

    handler = logging.StreamHandler(sys.stderr)  # one line per record, untrusted text escaped
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])


def start_api(station: Station):
    from api.server import ApiServer  # the API layer is only known to the composition root

    return ApiServer(station, station.settings.host, station.settings.port).start()


def mqtt_bus(station: Station):
    """The MQTT bus (when `mqtt_url` is set): a front end like the API, so only the composition
    root knows it; `start_station` starts it last and `stop_station` stops it."""
    from api.mqtt.bridge import MqttBridge

    return MqttBridge(station)


def run_headless(station: Station, api_url: str, first_admin: str | None = None) -> int:
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"API: {api_url}", flush=True)  # the first line: scripts and tests read it
    show_first_admin(first_admin)
    while not stop.wait(0.5):
        pass
    return 0


def run_gui(station: Station, api_url: str, first_admin: str | None = None) -> int:
    from ui.application import run_gui as run_qt  # Qt is loaded only when a window is wanted

    print(f"API: {api_url}", flush=True)
    show_first_admin(first_admin)
    return run_qt(station, api_url, first_admin)  # shown again in the first-run dialog


def show_first_admin(password: str | None) -> None:
    """The first start's `admin` password, printed once on the console (stdout, never the
    log): it is kept nowhere in clear, so this is the only time it can be read."""
    if password is not None:
        print("First start: created the account 'admin' (shown only now; change it with "
              f"`recording-station user passwd admin`) with the password: {password}",
              flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["verify"]:  # check an evidence package: no station is started
        from app.evidence.verify import run as verify

        return verify(argv[1:])
    if argv[:1] == ["user"]:  # accounts on the command line: only the catalog is opened
        from app.accounts.cli import run as user_command

        return user_command(argv[1:])
    args = parse_args(argv)
    from app.credentials import CredentialKeyError
    from app.settings import ensure_station_id, load_settings
    from app.station import build_station, start_station, stop_station

    if args.self_test:
        from app.self_test import run_self_test

        return run_self_test()
    try:
        settings: Settings = load_settings(host=args.host, port=args.port, data_dir=args.data_dir,
                                           headless=args.headless, demo=args.demo)
    except ValueError as exc:
        print(f"recording-station: invalid settings: {exc}", file=sys.stderr)
        return 2
    settings = ensure_station_id(settings)  # first start: made and kept in the config file
    configure_logging(settings.log_level)
    headless = settings.headless or not display_available()

    try:
        station = build_station(settings)
    except CredentialKeyError as exc:  # a wrong or missing key: say what to do, no traceback
        print(f"recording-station: {exc}", file=sys.stderr)
        return 2
    api = None
    try:
        start_station(station, mqtt=mqtt_bus)
        first_admin = station.accounts.ensure_first_admin()  # shown after the API line
        # the settings' Huawei pair, filed under admin (app.accounts.aksk; it keeps working)
        station.aksk.adopt_configured(settings.huawei_ak, settings.huawei_sk)
        try:
            api = start_api(station)
        except RuntimeError as exc:
            print(f"recording-station: {exc}", file=sys.stderr)
            return 1
        # How the other stations of a shared catalog reach this one.
        station.site.announce(settings.public_url or api.url.rstrip("/"))
        if headless:
            return run_headless(station, api.url, first_admin)
        return run_gui(station, api.url, first_admin)
    finally:
        if api is not None:
            api.stop()
        stop_station(station)
        log.info("stopped")
