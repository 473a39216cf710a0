"""The Python 2.7 virtualenv that runs `wstest`, made once and remade when a pin changes.

Python 2.7 comes from pyenv (`$PYENV_ROOT/versions/2.7.*`, newest first) or `python2.7` on PATH;
`CONFORMANCE_PYTHON27` names another interpreter. Its own pip installs the pinned virtualenv
(bootstrap-py27.txt) into a folder of var/conformance, that virtualenv makes the venv from the
wheels it bundles, and the venv's pip installs requirements-py27.txt with --no-deps, then
`pip check` proves the pinned set complete. A stamp holding the pins and the interpreter's path
lets the next run skip all of it. Every step is a subprocess with a timeout; its output goes to
var/conformance/setup.log.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

HERE = Path(__file__).resolve().parent
BOOTSTRAP_PINS = HERE / "bootstrap-py27.txt"
PINS = HERE / "requirements-py27.txt"
INSTALL_TIMEOUT_S = 900.0  # wsaccel builds from source; the rest are wheels
STEP_TIMEOUT_S = 120.0
# what the project's Python 3 venv sets that must not reach a Python 2 interpreter
_PY3_ONLY = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH")


class SetupError(RuntimeError):
    """The Python 2.7 environment could not be found or built; the message says which step."""


def find_python27(environ: Mapping[str, str]) -> Path:
    named = environ.get("CONFORMANCE_PYTHON27")
    if named:
        return Path(named)
    root = Path(environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(
        (p for p in (root / "versions").glob("2.7.*/bin/python2.7") if p.is_file()),
        key=lambda p: tuple(int(n) for n in p.parents[1].name.split(".") if n.isdigit()),
        reverse=True,
    )
    if candidates:
        return candidates[0]
    found = shutil.which("python2.7")
    if found is None:
        raise SetupError(
            "no Python 2.7: install it with `pyenv install 2.7.18` or set CONFORMANCE_PYTHON27"
        )
    return Path(found)


def py2_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for a Python 2 subprocess: this one without the Python 3 venv's vars."""
    return {key: value for key, value in environ.items() if key not in _PY3_ONLY}


def ensure_venv(var_dir: Path, environ: Mapping[str, str]) -> Path:
    """The venv's `wstest`, after building the venv if it is missing or its pins changed."""
    python27 = find_python27(environ)
    venv = var_dir / "py27-venv"
    wstest = venv / "bin" / "wstest"
    stamp = venv / ".installed"
    wanted = _fingerprint(python27)
    if wstest.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return wstest
    env = py2_environ(environ)
    bootstrap = var_dir / "bootstrap"
    var_dir.mkdir(parents=True, exist_ok=True)
    for stale in (venv, bootstrap):
        shutil.rmtree(stale, ignore_errors=True)
    print(f"conformance: building {venv} with {python27} (log: {var_dir / 'setup.log'})")
    with (var_dir / "setup.log").open("w") as log:
        pip = ("-m", "pip", "install", "--disable-pip-version-check", "--no-deps")
        _step(log, env, "bootstrap", python27, *pip, "--target", bootstrap, "-r", BOOTSTRAP_PINS)
        _step(
            log,
            {**env, "PYTHONPATH": str(bootstrap)},
            "virtualenv",
            python27,
            "-m",
            "virtualenv",
            "--no-download",
            venv,
        )
        venv_python = venv / "bin" / "python"
        _step(log, env, "install", venv_python, *pip, "-r", PINS, timeout_s=INSTALL_TIMEOUT_S)
        _step(log, env, "pip check", venv_python, "-m", "pip", "check")
    if not wstest.is_file():
        raise SetupError(f"{wstest} missing after the install (see {var_dir / 'setup.log'})")
    stamp.write_text(wanted)
    return wstest


def _fingerprint(python27: Path) -> str:
    digest = hashlib.sha256()
    for part in (str(python27).encode(), BOOTSTRAP_PINS.read_bytes(), PINS.read_bytes()):
        digest.update(part)
    return digest.hexdigest()


def _step(
    log: TextIO,
    env: Mapping[str, str],
    name: str,
    *argv: str | os.PathLike[str],
    timeout_s: float = STEP_TIMEOUT_S,
) -> None:
    print(f"conformance: setup step {name}", file=log, flush=True)
    try:
        done = subprocess.run(
            [os.fspath(arg) for arg in argv],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SetupError(f"setup step {name!r} took longer than {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        raise SetupError(f"setup step {name!r} exited {done.returncode} (see setup.log)")
