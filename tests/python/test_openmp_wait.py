"""The OpenMP wait setting made when sapwood loads (see sapwood/__init__.py): short spins by
default, the user's own setting kept, and the environment left as it was. libgomp reports the
settings it started with when OMP_DISPLAY_ENV=VERBOSE, so the checks read its own report."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sapwood import _core

pytestmark = pytest.mark.skipif(not _core.openmp, reason="built without OpenMP")

PROBE = ("import os, sapwood; "
         "print('env', os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))")


def _run(**env: str) -> tuple[str, str]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_DISPLAY_ENV")}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env={**base, "OMP_DISPLAY_ENV": "VERBOSE", **env}, check=True, timeout=120)
    spin = [ln.split("=", 1)[1].strip().strip("'") for ln in out.stderr.splitlines()
            if ln.strip().startswith("GOMP_SPINCOUNT")]
    if not spin:  # a libgomp that does not report it (not GNU's)
        pytest.skip("libgomp did not report GOMP_SPINCOUNT")
    return spin[0], out.stdout.strip()


def test_short_spin_by_default_and_environment_restored():
    spin, env = _run()
    assert spin == "10000"
    assert env == "env None None"  # children and later libraries see the user's environment


@pytest.mark.parametrize("var,value,want", [("GOMP_SPINCOUNT", "5000", "5000"),
                                            ("OMP_WAIT_POLICY", "ACTIVE", None)])
def test_the_users_setting_wins(var, value, want):
    spin, env = _run(**{var: value})
    if want is not None:
        assert spin == want
    else:  # ACTIVE: libgomp's own (long) spin, not ours
        assert spin != "10000"
    assert value in env
