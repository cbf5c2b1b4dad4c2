"""The demo's report.html in a real browser: every figure loads, with the network cut off.

Runs the whole ``sparseworks demo`` (about a minute), then opens its report in headless
Chromium (Debian package ``chromium``) twice: once with a script appended that records
in the page whether every ``<img>`` loaded, and once for a screenshot
(``report_screenshot.png`` in the test's temporary folder).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = next(
    (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
)

CHECK_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (image) { return !(image.complete && image.naturalWidth > 0); });
  var result = document.createElement("pre");
  result.id = "image-check";
  result.textContent = "IMAGES " + images.length + " BROKEN " + broken.length;
  document.body.appendChild(result);
});
</script>
"""


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with no network (every host unresolvable) and a throw-away profile."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=10000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.network  # the demo fetches its datasets on first use
@pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium (Debian: apt-get install chromium)")
def test_every_figure_of_the_demo_report_loads_in_a_browser(tmp_path):
    out = tmp_path / "demo"
    demo = subprocess.run(
        [sys.executable, "-m", "sparseworks", "demo", "--out", str(out), "--threads", "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    report = out / "report.html"
    assert f"open {report} in a browser" in demo.stdout
    text = report.read_text(encoding="utf-8")
    images = text.count("<img ")
    stages = len([p for p in out.iterdir() if p.is_dir()])
    assert images >= stages >= 1
    assert not re.search(r"https?://", text)

    checked = tmp_path / "report_checked.html"
    checked.write_text(text.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    dump = chromium(tmp_path / "profile", "--dump-dom", checked.as_uri())
    assert dump.returncode == 0, dump.stderr[-2000:]
    assert f"IMAGES {images} BROKEN 0" in dump.stdout, dump.stdout[-2000:]

    screenshot = tmp_path / "report_screenshot.png"
    shot = chromium(tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,4000", report.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 10_000
