"""The HTML report in headless Chromium: loads cleanly, every section, the transcript filter, XSS.

Runs in CI (scripts/test.sh installs chromium and chromium-driver). Without them these tests fail
with a message saying what to install; they never skip silently.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SECTIONS = ("headline", "profiles", "paired", "user-effects", "language", "refusals", "self-perception",
            "transcripts", "method")


def make_driver(user_data_dir: str, width: int = 1280, height: int = 1800) -> Any:
    """Headless Chromium with browser console logging; fails with a clear message if it is missing."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("browser tests need chromium and chromedriver at /usr/bin: run "
                    "'sudo apt-get install -y chromium chromium-driver' (scripts/test.sh does this in CI)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={user_data_dir}", f"--window-size={width},{height}"):
        opts.add_argument(flag)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="twinstudy-chromium-")
    drv = make_driver(profile)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _errors(drv: Any) -> list[dict[str, Any]]:
    return [e for e in drv.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]


def _count(drv: Any) -> int:
    from selenium.webdriver.support.ui import WebDriverWait

    # compressed transcripts are unpacked asynchronously: wait until the viewer has rendered
    WebDriverWait(drv, 20).until(lambda d: d.find_element("id", "tx-count").get_attribute("data-count"))
    return int(drv.find_element("id", "tx-count").get_attribute("data-count"))


def _select(drv: Any, select_id: str, text: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(drv.find_element("id", select_id)).select_by_visible_text(text)


def test_report_loads_cleanly_with_every_section(driver: Any, report_study: tuple[Path, Path]) -> None:
    _, report = report_study
    driver.get(report.resolve().as_uri())
    errors = _errors(driver)
    assert not errors, f"console errors on load: {errors}"
    for sid in SECTIONS:
        sec = driver.find_element("id", sid)
        assert sec.is_displayed(), sid
        assert sec.find_element("tag name", "h2").text.strip(), sid
    # the figures are inline SVG, the headline has its four sentences
    assert len(driver.find_elements("css selector", "section .figure svg")) >= 6
    for key in ("models", "language", "framing", "identity"):
        assert driver.find_element("id", f"headline-{key}").text.strip()
    assert driver.execute_script("return document.querySelectorAll('#tx-body tr.tx-row').length") > 0
    shot = report.parent / "report-screenshot.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    target = os.environ.get("TWINSTUDY_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)
        driver.execute_script("document.getElementById('transcripts').scrollIntoView()")
        driver.save_screenshot(str(Path(target) / "report-transcripts.png"))


def test_transcript_filter(driver: Any, report_study: tuple[Path, Path]) -> None:
    _, report = report_study
    driver.get(report.resolve().as_uri())
    total = _count(driver)
    assert total > 25  # more than one page
    assert len(driver.find_elements("css selector", "#tx-body tr.tx-row")) == 25
    # next page
    driver.find_element("id", "tx-next").click()
    assert driver.find_element("id", "tx-page").text.startswith("page 2")
    # language
    _select(driver, "f-lang", "zh")
    zh = _count(driver)
    assert 0 < zh < total
    rows = driver.find_elements("css selector", "#tx-body tr.tx-row")
    assert rows and all(r.get_attribute("data-lang") == "zh" for r in rows)
    # framing and model: one model column next to the prompt column
    _select(driver, "f-framing", "pushback")
    _select(driver, "f-model", "cn-a")
    assert 0 < _count(driver) < zh
    assert len(driver.find_elements("css selector", "#tx-head th")) == 2
    rows = driver.find_elements("css selector", "#tx-body tr.tx-row")
    assert all(r.get_attribute("data-framing") == "pushback" for r in rows)
    # outcome: blocked rows only (cn-a is blocked on China-sensitive requests in Chinese)
    driver.find_element("id", "f-reset").click()
    assert _count(driver) == total
    _select(driver, "f-outcome", "blocked")
    blocked = _count(driver)
    assert blocked > 0
    for r in driver.find_elements("css selector", "#tx-body tr.tx-row"):
        assert r.find_elements("css selector", "td[data-outcome='blocked']")
    # item
    driver.find_element("id", "f-reset").click()
    _select(driver, "f-item", "self-maker")
    rows = driver.find_elements("css selector", "#tx-body tr.tx-row")
    assert rows and all(r.get_attribute("data-item") == "self-maker" for r in rows)
    # reasoning is folded away
    driver.find_element("id", "f-reset").click()
    _select(driver, "f-model", "cn-b")
    det = driver.find_elements("css selector", "#tx-body details.reasoning")
    assert det and not det[0].get_attribute("open")
    assert not _errors(driver)


def test_model_output_cannot_run_script(driver: Any, report_study: tuple[Path, Path]) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    _, report = report_study
    driver.get(report.resolve().as_uri())
    _select(driver, "f-item", "self-maker")
    _select(driver, "f-model", "us-b")
    answers = driver.find_elements("css selector", "#tx-body .answer")
    assert answers
    text = answers[0].text
    assert "<script>window.__pwned = 1; alert(1)</script>" in text
    assert '<img src=x onerror="window.__pwned = 2; alert(1)">' in text
    assert "[x](javascript:alert(1))" in text and '<a href="javascript:' in text
    assert answers[0].is_displayed()
    sp = driver.find_element("id", "self-perception")
    assert "<script>window.__pwned = 1; alert(1)</script>" in sp.text
    for scope in ("#tx-body", "#self-perception"):
        assert not driver.find_elements("css selector", f"{scope} img, {scope} a, {scope} script")
    assert not driver.find_elements("css selector", "a[href^='javascript']")
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    assert not _errors(driver)


@pytest.fixture(scope="module")
def compressed_report(report_study: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same study's report with its transcripts embedded gzip-compressed (as large studies are)."""
    import twinstudy.report.render as context
    from twinstudy.report.html import build_report
    from twinstudy.store import Store

    db, _ = report_study
    out = tmp_path_factory.mktemp("compressed") / "report.html"
    saved = context.PLAIN_LIMIT_BYTES
    context.PLAIN_LIMIT_BYTES = 0
    store = Store(db, create=False)
    try:
        build_report(store, out)
    finally:
        store.close()
        context.PLAIN_LIMIT_BYTES = saved
    assert 'data-encoding="gzip-base64"' in out.read_text(encoding="utf-8")
    return out


def test_compressed_transcripts_load_filter_and_stay_inert(driver: Any, compressed_report: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    driver.get(compressed_report.resolve().as_uri())
    total = _count(driver)
    assert total == 188 and len(driver.find_elements("css selector", "#tx-body tr.tx-row")) == 25
    _select(driver, "f-item", "self-maker")
    _select(driver, "f-model", "us-b")
    answers = driver.find_elements("css selector", "#tx-body .answer")
    assert answers and "<script>window.__pwned = 1; alert(1)</script>" in answers[0].text
    assert not driver.find_elements("css selector", "#tx-body img, #tx-body a, #tx-body script")
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    assert not _errors(driver)
