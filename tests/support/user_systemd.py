"""A real systemd user manager (`systemd --user`) for tests of the station's systemd user unit
(resources/packaging/recording-station.service), in a container whose PID 1 is not systemd.

systemd refuses to run a user manager on a machine not booted with it (it looks for
`/run/systemd/system`), and `systemctl` says `offline` there. So the manager runs in a mount
namespace of its own (`unshare --mount`), where a tmpfs over `/run/systemd` holds that
directory: nothing outside the namespace sees it, so the machine's other programs (dpkg's
scripts, other tests) keep seeing a machine without systemd. Every `systemctl --user` of the
test runs inside the same namespace (`nsenter`).

The manager also gets a cgroup of its own in the `name=systemd` hierarchy (cgroup v1 here)
before it starts: a user manager whose cgroup is the root would move every process of the
machine into its `init.scope`, and two managers would share `app.slice`. Its units, its
configuration (`$XDG_CONFIG_HOME/systemd/user`) and its runtime folder (`$XDG_RUNTIME_DIR`)
are the test's, so a stop of the manager is the end of a boot (every service gets its
KillSignal), and a new manager on the same folders is the next boot (what `default.target`
wants starts by itself, as under `loginctl enable-linger`).

    with UserManager(tmp_path) as manager:
        manager.install_unit("recording-station.service", UNIT_TEXT, dropin=DROPIN)
        manager.boot()
        manager.systemctl("enable", "--now", "recording-station")
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

SYSTEMD = Path("/lib/systemd/systemd")
CGROUP_ROOT = Path("/sys/fs/cgroup/systemd")  # cgroup v1's name=systemd hierarchy

# Run in the new mount namespace: the tmpfs that makes systemd believe it booted the
# machine, the manager's own cgroup, then the manager itself (exec: the pid stays).
NAMESPACE_SCRIPT = """
set -e
mount -t tmpfs rs-test-systemd /run/systemd
mkdir -p /run/systemd/system
if [ -n "$RS_TEST_CGROUP" ]; then
    mkdir -p "$RS_TEST_CGROUP"
    echo $$ > "$RS_TEST_CGROUP/cgroup.procs"
fi
exec "$RS_TEST_SYSTEMD" --user --log-target=console --log-level=notice
"""


def skip_reason() -> str | None:
    """Why a user manager cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "a user manager in a private mount namespace needs root here"
    for tool in ("unshare", "nsenter", "systemctl"):
        if shutil.which(tool) is None:
            return f"no {tool}"
    if not SYSTEMD.is_file():
        return f"no {SYSTEMD}"
    if not Path("/run/systemd").is_dir():
        return "no /run/systemd to mount over"
    return None


class UserManager:
    """One `systemd --user` of the test's own; `boot()` starts it, `shutdown()` stops it
    (its services get their KillSignal), `boot()` again is the next boot."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.runtime = folder / "runtime"
        self.config = folder / "config"
        self.unit_dir = self.config / "systemd" / "user"
        self.log_path = folder / "systemd-user.log"
        self.cgroup = (CGROUP_ROOT / f"rs-test-user-manager-{uuid.uuid4().hex[:12]}"
                       if (CGROUP_ROOT / "cgroup.procs").is_file() else None)
        self.proc: subprocess.Popen | None = None
        self.unit_dir.mkdir(parents=True, exist_ok=True)
        self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)

    # --- the manager -------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.folder),
                "XDG_RUNTIME_DIR": str(self.runtime), "XDG_CONFIG_HOME": str(self.config),
                "LANG": "C.UTF-8"}

    def boot(self, timeout: float = 30.0) -> None:
        """Start the manager and wait until it has reached default.target (what it wants
        started: the enabled units)."""
        assert self.proc is None or self.proc.poll() is not None, "the manager runs already"
        env = {**self.env(), "RS_TEST_SYSTEMD": str(SYSTEMD),
               "RS_TEST_CGROUP": str(self.cgroup or "")}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", NAMESPACE_SCRIPT],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"systemd --user exited {self.proc.returncode}:\n"
                                   + self.log_path.read_text(errors="replace")[-3000:])
            done = self.systemctl("is-system-running", check=False)
            if done.stdout.strip() in ("running", "degraded"):
                return
            time.sleep(0.1)
        raise RuntimeError("systemd --user did not come up:\n"
                           + self.log_path.read_text(errors="replace")[-3000:])

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`systemctl --user …` inside the manager's namespace."""
        assert self.proc is not None
        done = subprocess.run(
            ["nsenter", f"--target={self.proc.pid}", "--mount", "systemctl", "--user",
             "--no-pager", *args], env=self.env(), capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"systemctl --user {' '.join(args)}: {done.returncode}\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def show(self, unit: str, prop: str) -> str:
        return self.systemctl("show", "--property", prop, "--value", unit).stdout.strip()

    def shutdown(self, timeout: float = 90.0) -> None:
        """The end of a boot: the manager stops every unit (each gets its KillSignal and its
        TimeoutStopSec) and exits."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # a user manager exits on SIGTERM
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    # --- units -------------------------------------------------------------------------
    def install_unit(self, name: str, text: str | None, dropin: str | None = None) -> None:
        """The unit under `$XDG_CONFIG_HOME/systemd/user` (an operator's own units; None: the
        one a package installed in /usr/lib/systemd/user is used), with a drop-in
        (`<name>.d/test.conf`: what an operator overrides with `systemctl --user edit`)
        when given."""
        if text is not None:
            (self.unit_dir / name).write_text(text)
        if dropin is not None:
            folder = self.unit_dir / f"{name}.d"
            folder.mkdir(exist_ok=True)
            (folder / "test.conf").write_text(dropin)

    def close(self) -> None:
        self.shutdown()
        if self.cgroup is not None and self.cgroup.is_dir():
            self._remove_cgroup(self.cgroup)

    @staticmethod
    def _remove_cgroup(folder: Path) -> None:
        """The manager's cgroups, deepest first, once empty (a process left behind: killed)."""
        for child in sorted((p for p in folder.rglob("*") if p.is_dir()),
                            key=lambda p: len(p.parts), reverse=True) + [folder]:
            procs = child / "cgroup.procs"
            pids = procs.read_text().split() if procs.is_file() else []
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5
            while True:
                try:
                    child.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.05)

    def __enter__(self) -> "UserManager":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
