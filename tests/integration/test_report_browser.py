"""The report in a real browser: headless Chromium loads every plot, logs no error, nothing
overflows its box at desktop (1280 px) and phone (390 px) widths; screenshots of both.

Needs Debian's `chromium` and `chromium-driver` packages and `selenium` (dev extra);
`.ci/run` installs the packages. Without them the test is skipped locally and fails
in CI (CI is set), so CI can never pass by silently skipping it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import BASIC_CONFIG, make_table, write_config

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = {"desktop": 1280, "phone": 390}
MAX_HEIGHT = 16000
SECTIONS = ("summary", "data", "training", "metrics", "wrong", "plots", "config")
OVERFLOW = """
const boxes = document.querySelectorAll(
  'body, header, nav, section, table, pre, figure, img, .flag, .summary, .gallery, .card, footer');
const bad = [];
for (const el of boxes) {
  if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) {
    bad.push(`${el.tagName}#${el.id}.${el.className}: ${el.scrollWidth} > ${el.clientWidth}`);
  }
  const box = el.getBoundingClientRect();
  if (box.right > window.innerWidth + 1) {
    bad.push(`${el.tagName}#${el.id}.${el.className} ends at ${box.right} px`);
  }
}
return bad;
"""


def _browser() -> tuple[str, str]:
    """Paths of chromium and chromedriver; skips (locally) or fails (in CI) without them."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    missing = [p for p in (chromium, driver) if not Path(p).is_file()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        message = (
            f"the browser test needs {', '.join(missing)}: apt-get install -y chromium "
            'chromium-driver && python3 -m pip install -e ".[dev]"'
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must run this test, not skip it)")
        pytest.skip(message)
    return chromium, driver


def _viewport(driver, width: int, height: int, mobile: bool) -> None:
    """Emulates a screen of `width` x `height` CSS pixels (a phone's, with `mobile`)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory, cli):
    """A tiny finished binary run and its report.html."""
    root = tmp_path_factory.mktemp("browser")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("DLTRAIN_RUNS", str(root / "runs"))
    mp.setenv("DLTRAIN_CACHE", str(root / "data" / "processed"))
    make_table(n=90).to_csv(root / "table.csv", index=False)
    result = cli("train", write_config(root, BASIC_CONFIG))
    assert result.exit_code == 0, result.output
    result = cli("report", "demo-1")
    assert result.exit_code == 0, result.output
    yield root / "runs" / "demo-1" / "report.html"
    mp.undo()


@pytest.mark.parametrize("device", list(WIDTHS))
def test_report_renders_in_chromium(
    report, device, tmp_path, tmp_path_factory, capsys, record_property
):
    chromium, chromedriver = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    width = WIDTHS[device]
    options.add_argument(f"--window-size={width},4000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        driver.set_page_load_timeout(60)
        driver.get(report.resolve().as_uri())
        assert driver.execute_script("return document.readyState") == "complete"
        images = driver.execute_script(
            "return Array.from(document.images).map(i => ({"
            "src: i.getAttribute('src').slice(0, 22), complete: i.complete, "
            "width: i.naturalWidth, alt: i.alt}))"
        )
        assert len(images) == 8  # every plot of a binary run
        for image in images:
            assert image["src"] == "data:image/png;base64,", image["alt"]
            assert image["complete"] and image["width"] > 0, f"not loaded: {image['alt']}"
        # nothing was fetched: every resource is inline
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert [name for name in fetched if not name.startswith("data:")] == []
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == [], severe
        _viewport(driver, width, 900, mobile=device == "phone")  # Chromium's windows: >= 500 px
        assert driver.execute_script("return window.innerWidth") == width
        for key in SECTIONS:  # the new sections are there, and shown
            assert driver.execute_script(
                f"const s = document.getElementById('{key}'); return !!s && s.offsetHeight > 0"
            ), key
        assert driver.execute_script(OVERFLOW) == []  # nothing wider than its box or the page

        height = driver.execute_script("return document.documentElement.scrollHeight")
        _viewport(driver, width, min(int(height) + 40, MAX_HEIGHT), mobile=device == "phone")
        shot = tmp_path_factory.getbasetemp() / f"report-{device}.png"
        assert driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and shot.stat().st_size > 30_000
    record_property("screenshot", str(shot))
    with capsys.disabled():
        print(f"\nreport screenshot: {shot}")
