"""`make dist`: the PyInstaller bundle, then the Debian package made from it, into `dist/`.

    python resources/packaging/build.py [--skip-bundle] [--out dist]

The bundle comes from `recording-station.spec` (one folder, one executable). The package puts
it in /opt/recording-station with, around it, what makes a desktop application of it:
`recording-station` on the PATH, a menu entry with its icon in the hicolor theme, a man page,
a systemd user unit for headless mode, and a postrm that keeps every user's footage. Its
Depends are the Qt runtime packages (`runtime-debs.txt`, shared with the Makefile) and the
packages owning the system libraries the bundle links to (the spec lists them).

Built with `dpkg-deb --root-owner-group`, so it needs neither root nor fakeroot.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from app import APP_NAME, __version__  # noqa: E402

BUILD = ROOT / "build" / "packaging"
MAINTAINER = "Recording Station developers <maintainers@users.noreply.b-seed-a9462696.example>"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
INSTALL_DIR = Path("opt") / APP_NAME
LIBC = "libc6 (>= 2.36)"  # what the bundled Python and bootloader were linked against here
DESCRIPTION = """\
desktop recording station for network cameras
 Recording Station shows live tiles of cameras (RTSP, RTMP, HLS, HTTP snapshot
 cameras, a built-in test pattern), organises them into groups, records them
 under tags into crash-safe MP4 files by stream copy, and serves a REST API
 (native /api/v1, Device Connect, Huawei Live and SparkRTC dialects) so that
 remote tools drive the same station.
 .
 It runs with its window from the application menu, or headless as a systemd
 user service: systemctl --user enable --now recording-station
 .
 Removing or purging the package never deletes recordings."""


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(str(part) for part in command), flush=True)
    return subprocess.run([str(part) for part in command], check=True, **kwargs)


def build_bundle() -> Path:
    """PyInstaller's one-folder bundle (build/packaging/bundle/recording-station)."""
    run(sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
        "--distpath", BUILD / "bundle", "--workpath", BUILD / "work",
        HERE / "recording-station.spec")
    bundle = BUILD / "bundle" / APP_NAME
    print(f"stripped {tidy_binaries(bundle) / 1e6:.1f} MB of symbols", flush=True)
    return bundle


# Libraries that must keep their symbol table: auditwheel laid this one out with patchelf, and
# binutils' strip rewrites it into a file the loader refuses ("ELF load command address/offset
# not page-aligned"). Every other binary is stripped when it has symbols to strip.
KEEP_SYMBOLS = ("libscipy_openblas",)


def elf_info(path: Path) -> tuple[bool, list[str]] | None:
    """(has a symbol table, its RPATH/RUNPATH folders), or None when `path` is not ELF."""
    with path.open("rb") as handle:
        if handle.read(4) != b"\x7fELF":
            return None
    sections = subprocess.run(["readelf", "-S", "-W", path], capture_output=True, text=True).stdout
    dynamic = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    paths = [part for line in dynamic.splitlines() if "PATH)" in line
             for part in line.split("[", 1)[1].rstrip("]").split(":")]
    return " .symtab " in sections, paths


def tidy_binaries(bundle: Path) -> int:
    """Strip the bundle's binaries that carry symbols, and drop search paths that point
    outside it (pyenv's CPython links its modules with RUNPATH=/root/.pyenv/...). PyAV's
    Cython modules shrink from 32 MB to 5 MB, cryptography's Rust module by 3 MB, a pyenv
    libpython from 23 MB to 6 MB. Not PyInstaller's `strip=True`, which strips everything,
    KEEP_SYMBOLS included. Returns the bytes saved."""
    saved = 0
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.name.startswith(KEEP_SYMBOLS):
            continue
        info = elf_info(path)
        if info is None:
            continue
        symbols, paths = info
        before = path.stat().st_size
        if symbols:
            subprocess.run(["strip", "--strip-unneeded", path], check=True)
        if any(not folder.startswith("$ORIGIN") for folder in paths):
            subprocess.run(["chrpath", "-d", path], check=True, capture_output=True)
        saved += before - path.stat().st_size
    return saved


def runtime_packages() -> list[str]:
    text = (HERE / "runtime-debs.txt").read_text()
    return [word for line in text.splitlines() if not line.startswith("#") for word in line.split()]


def owners_of_system_libraries() -> list[str]:
    """The Debian packages owning the system libraries the bundle was linked against."""
    listed = BUILD / "work" / APP_NAME / "system-libraries.txt"
    paths = [line for line in listed.read_text().splitlines() if line] if listed.exists() else []
    if not paths:
        return []
    owners = set()
    for path in paths:
        # dpkg knows a library by the path its package installed, /lib/... or /usr/lib/... (a
        # merged /usr makes both the same file): ask for its name under either folder
        found = subprocess.run(["dpkg-query", "-S", f"*/{Path(path).name}"],
                               capture_output=True, text=True).stdout
        names = {line.split(":", 1)[0] for line in found.splitlines() if ": " in line}
        if not names:
            raise SystemExit(f"no Debian package owns {path}, which the bundle links to")
        owners |= names
    return sorted(owners)


def depends() -> str:
    names = sorted((set(runtime_packages()) | set(owners_of_system_libraries())) - {"libc6"})
    return ", ".join([LIBC, *names])


def render_icons(svg: Path, icons: Path) -> None:
    """The hicolor theme: the SVG as scalable, and PNGs rendered from it for menus that want
    pixels (rendered with the Qt the station itself uses, offscreen)."""
    scalable = icons / "scalable" / "apps"
    scalable.mkdir(parents=True)
    shutil.copyfile(svg, scalable / f"{APP_NAME}.svg")
    code = f"""
import sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
app = QGuiApplication([])
renderer = QSvgRenderer({str(svg)!r})
for size in {ICON_SIZES!r}:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    image.save(f"{icons}/{{size}}x{{size}}/apps/{APP_NAME}.png")
"""
    for size in ICON_SIZES:
        (icons / f"{size}x{size}" / "apps").mkdir(parents=True)
    run(sys.executable, "-c", code, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def gzipped(source: bytes, target: Path) -> None:
    """gzip -9n: no name or time in the header, as Debian wants (reproducible)."""
    with target.open("wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb",
                                                 compresslevel=9, mtime=0) as out:
        out.write(source)


def changelog(version: str) -> bytes:
    when = format_datetime(datetime.now(timezone.utc).replace(microsecond=0))
    return (f"{APP_NAME} ({version}) unstable; urgency=medium\n\n"
            f"  * Packaged release {version}; see README.md for what it does.\n\n"
            f" -- {MAINTAINER}  {when}\n").encode()


def assemble(bundle: Path, tree: Path, version: str, arch: str) -> int:
    """The package's tree, control files included; returns its Installed-Size (KiB)."""
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(bundle, tree / INSTALL_DIR, symlinks=True)
    (tree / "usr" / "bin").mkdir(parents=True)
    (tree / "usr" / "bin" / APP_NAME).symlink_to(f"/{INSTALL_DIR}/{APP_NAME}")

    share = tree / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    shutil.copyfile(HERE / f"{APP_NAME}.desktop", share / "applications" / f"{APP_NAME}.desktop")
    render_icons(ROOT / "resources" / "icons" / "app.svg", share / "icons" / "hicolor")
    (share / "man" / "man1").mkdir(parents=True)
    gzipped((HERE / f"{APP_NAME}.1").read_bytes(), share / "man" / "man1" / f"{APP_NAME}.1.gz")
    docs = share / "doc" / APP_NAME
    docs.mkdir(parents=True)
    shutil.copyfile(HERE / "copyright", docs / "copyright")
    shutil.copyfile(ROOT / "README.md", docs / "README.md")
    gzipped(changelog(version), docs / "changelog.gz")
    (share / "lintian" / "overrides").mkdir(parents=True)
    shutil.copyfile(HERE / "lintian-overrides", share / "lintian" / "overrides" / APP_NAME)
    units = tree / "usr" / "lib" / "systemd" / "user"
    units.mkdir(parents=True)
    shutil.copyfile(HERE / f"{APP_NAME}.service", units / f"{APP_NAME}.service")

    normalise_modes(tree)
    control = tree / "DEBIAN"
    control.mkdir()
    installed_kib = sum(-(-path.stat().st_size // 1024) for path in tree.rglob("*")
                        if path.is_file() and not path.is_symlink())
    (control / "control").write_text(
        f"Package: {APP_NAME}\nVersion: {version}\nArchitecture: {arch}\n"
        f"Maintainer: {MAINTAINER}\nInstalled-Size: {installed_kib}\n"
        f"Depends: {depends()}\nSection: video\nPriority: optional\n"
        f"Description: {DESCRIPTION}\n")
    shutil.copyfile(HERE / "postrm", control / "postrm")
    (control / "postrm").chmod(0o755)
    (control / "md5sums").write_text("".join(
        f"{hashlib.md5(path.read_bytes()).hexdigest()}  {path.relative_to(tree)}\n"
        for path in sorted(tree.rglob("*"))
        if path.is_file() and not path.is_symlink() and control not in path.parents))
    return installed_kib


def normalise_modes(tree: Path) -> None:
    """0755 for folders and the executable, 0644 for everything else (shared objects too:
    loading one needs no execute bit, and Debian wants none)."""
    for path in tree.rglob("*"):
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        elif path.name == APP_NAME and path.parent.name == APP_NAME:
            path.chmod(0o755)
        else:
            path.chmod(0o644)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--skip-bundle", action="store_true",
                        help="package the bundle already in build/packaging/bundle")
    args = parser.parse_args(argv)
    bundle = BUILD / "bundle" / APP_NAME if args.skip_bundle else build_bundle()
    version = __version__
    arch = run("dpkg", "--print-architecture", capture_output=True, text=True).stdout.strip()
    tree = BUILD / "deb" / f"{APP_NAME}_{version}_{arch}"
    size = assemble(bundle, tree, version, arch)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{APP_NAME}_{version}_{arch}.deb"
    run("dpkg-deb", "--root-owner-group", "-Zxz", "--build", tree, target)
    print(f"built {target}: {target.stat().st_size / 1e6:.1f} MB to download, "
          f"{size * 1024 / 1e6:.1f} MB installed ({size / 1024:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
