"""Virtual environments nested in the one the tests run in, for installing plugin packages.

A nested venv made with ``system_site_packages=True`` sees the *base interpreter's*
site-packages, not the virtual environment the tests run in: in a user's ``python -m venv``
it would see neither pynomaly nor pytest. Instead, the nested venv gets a ``.pth`` file that
adds the running interpreter's site directories with :func:`site.addsitedir`, so their own
``.pth`` files (the editable install of this checkout among them) are processed too. Packages
installed into the nested venv go to its own site-packages, which comes first on ``sys.path``.
"""

from __future__ import annotations

import site
import subprocess
import sysconfig
import venv
from pathlib import Path

import pynomaly


def _site_dirs() -> list[str]:
    """The running interpreter's site directories, in ``sys.path`` order, that exist."""
    dirs = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir()]


def child_venv(env_dir: Path) -> Path:
    """Create a venv at ``env_dir`` that sees the running environment; returns its python.

    Asserts that the nested python imports this very pynomaly (the checkout's, never the
    unrelated distribution of the same name on the package index) and that pip sees it.
    """
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lines = [f"import site; site.addsitedir({d!r})" for d in _site_dirs()]
    Path(purelib, "_pynomaly_tests_parent_env.pth").write_text("\n".join(lines) + "\n")
    assert Path(purelib) != Path(sysconfig.get_path("purelib")), "venv not nested"

    where = subprocess.run(
        [str(python), "-c", "import pynomaly; print(pynomaly.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert where.returncode == 0, f"the nested venv cannot import pynomaly:\n{where.stderr}"
    assert Path(where.stdout.strip()) == Path(pynomaly.__file__), (
        f"the nested venv imports another pynomaly: {where.stdout.strip()}"
    )
    shown = subprocess.run(
        [str(python), "-m", "pip", "show", "pynomaly"], capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0, f"pip in the nested venv does not see pynomaly:\n{shown.stderr}"
    assert f"Version: {pynomaly.__version__}" in shown.stdout, shown.stdout
    return python


def pip_install(python: Path, *packages: Path | str) -> None:
    """Install local packages into the nested venv, offline, with the running setuptools."""
    proc = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "-q",
            *map(str, packages),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


__all__ = ["child_venv", "pip_install"]
