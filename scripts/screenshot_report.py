"""Write the HTML report of ``sample:wbc`` and screenshot it with headless Chromium.

    python scripts/screenshot_report.py [OUT_DIR] [--no-labels] [--height 2400]

Writes OUT_DIR/report.html and OUT_DIR/report.png (default OUT_DIR: ./report-screenshot).
Needs Chromium (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html: Path, png: Path, *, width: int = 1200, height: int = 2400) -> None:
    """Render ``html`` in a fresh headless Chromium profile and save ``png``."""
    browser = chromium()
    if browser is None:
        raise SystemExit("chromium not found (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="pynomaly-chromium-") as profile:
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={width},{height}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default="report-screenshot", type=Path)
    parser.add_argument("--no-labels", action="store_true", help="detect without ground truth")
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args(argv)

    import pynomaly

    args.out.mkdir(parents=True, exist_ok=True)
    html, png = args.out / "report.html", args.out / "report.png"
    if args.no_labels:
        result = pynomaly.detect("sample:wbc", random_state=0)
    else:
        result = pynomaly.detect(
            "sample:wbc",
            random_state=0,
            label_column="is_malignant",
            source_options={"labels": True},
        )
    from pynomaly.services.outputs import export_data

    start = time.perf_counter()
    export_data(pynomaly.default_manager(), result, str(html), "html", {"overwrite": True})
    print(f"wrote {html} in {time.perf_counter() - start:.2f} s")
    screenshot(html, png, height=args.height)
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
