"""The monitor page in a real browser: headless Chromium driven by selenium loads the page of
a served SynthIOD run, sees the stream image change, the alarm banner turn red and an event
row with the alarm's picture appear, then the banner go back when the source ends; a
screenshot lands in the test's tmp dir.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make install-browser``). Without them
the test is skipped with the reason, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from cli_support import base_config
from iodvideo.monitor import monitor

pytestmark = pytest.mark.slow  # starts a browser


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser test: make install-browser)")
    pytest.skip(f"{reason}; make install-browser installs it")


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (the dev extra has it)")
    binary = next((shutil.which(n) for n in ("chromium", "chromium-browser")
                   if shutil.which(n)), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        _missing("chromium and/or chromedriver not found on PATH")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    # explicit paths: selenium's driver manager never looks anything up on the network
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_page_shows_stream_alarm_and_event(browser: Any, fixed_box_ckpt: Path,
                                           plume_video: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    stop, result, opened = threading.Event(), {}, threading.Event()

    def on_serving(url: str) -> None:  # the page is open before the first frame
        browser.get(url)
        opened.set()

    # 40 frames at 8 fps: 5 s of video, the alarm on from 0.5 s to the end
    cfg = base_config("monitor", tmp_path / "run", ckpt=str(fixed_box_ckpt),
                      source=str(plume_video), fps=8.0, max_boxes=1,
                      **{"alarm.on_seconds": 0.5, "serve.enabled": True, "serve.port": 0})

    def run() -> None:
        try:
            result["summary"] = monitor(cfg, stop=stop, on_serving=on_serving)
        except BaseException as err:  # noqa: BLE001 - reported below
            result["error"] = err
            opened.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert opened.wait(240) and "error" not in result, result
        wait = WebDriverWait(browser, 60, poll_frequency=0.05)
        stream = browser.find_element(By.ID, "stream")
        wait.until(lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", stream))
        first = stream.screenshot_as_png
        wait.until(lambda d: stream.screenshot_as_png != first)  # the stream moves

        banner = browser.find_element(By.ID, "banner")
        wait.until(lambda d: banner.get_attribute("class") == "alarm")
        assert "GAS ALARM" in banner.text and "#1" in banner.text
        row = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#events tr.alarm"))[0]
        assert row.find_elements(By.TAG_NAME, "td")[1].text == "alarm"
        picture = row.find_element(By.TAG_NAME, "img")
        wait.until(lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", picture))
        assert browser.find_element(By.ID, "model").text.startswith("tsm")
        browser.find_element(By.ID, "difference").click()  # the frame-difference panel
        diff = browser.find_element(By.ID, "diff")
        wait.until(lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", diff))
        shot = tmp_path / "monitor_page.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000

        # the source ends: the alarm clears ("end of stream") and the page says so
        WebDriverWait(browser, 120, poll_frequency=0.2).until(
            lambda d: banner.get_attribute("class") == "ok" and "ended" in banner.text)
        kinds = [r.find_elements(By.TAG_NAME, "td")[1].text
                 for r in browser.find_elements(By.CSS_SELECTOR, "#events tr")]
        assert kinds == ["cleared", "alarm"]  # newest first
        assert browser.find_element(By.ID, "state").text == "ended"
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive() and result.get("summary", {}).get("alarms") == 1, result
