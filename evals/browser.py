"""Debian's headless Chromium driven by Selenium through /usr/bin/chromedriver (both from
apt, `make` installs them; nothing downloads a browser or a driver): for the UI tests and
`devmesh bench ui`. The flags keep it from reaching the network (without the background
networking ones it hangs on refused connections on this kind of machine)."""
from __future__ import annotations

from pathlib import Path

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def chromium(profile: Path):
    """A new browser with a fresh profile in `profile`; the caller quits it. An alert() is
    left open (unhandledPromptBehavior: ignore) so a test can find it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            raise RuntimeError(f"{path} is missing: install Debian's chromium and chromium-driver "
                               "(`make install` does, or apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("unhandledPromptBehavior", "ignore")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver
