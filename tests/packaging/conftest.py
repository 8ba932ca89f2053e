"""The installed-package tests run only against a built package: `make dist-check` builds it
and passes its path as RS_DEB (CI's `.ci/run` does so after `make test`). They install it on
this machine with dpkg, so they need root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RS_DEB"):
        return
    skip = pytest.mark.skip(reason="needs a built package: run `make dist-check`")
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def deb() -> Path:
    path = Path(os.environ["RS_DEB"]).resolve()
    assert path.is_file(), f"RS_DEB={path} is not a file"
    assert os.geteuid() == 0, "installing the package needs root"
    return path
