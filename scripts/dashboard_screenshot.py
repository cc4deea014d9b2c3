#!/usr/bin/env python3
"""Saves a screenshot of the dashboard as a person sees it, with Debian's headless Chromium.

  /usr/bin/python3 scripts/dashboard_screenshot.py URL TOKEN_FILE OUT.png [ROUTE]

Signs in with the token, waits until the page is live and, when ROUTE is given, until that
route's rollout shows a current step and its charts have data, then saves OUT.png. The
demo runs it during its first canary (DEMO_SCREENSHOT=docs/dashboard.png).
"""
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def main():
    url, token_file, out = sys.argv[1:4]
    route = sys.argv[4] if len(sys.argv) > 4 else None
    with open(token_file) as f:
        token = f.read().strip()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="dashboard-shot-")
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1400,1700",
                "--hide-scrollbars", "--user-data-dir=" + profile]:
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        browser.get(url)
        for _ in range(100):  # the script shows the sign-in once it has run
            if browser.find_element(By.ID, "token").is_displayed():
                break
            time.sleep(0.05)
        browser.find_element(By.ID, "token").send_keys(token)
        browser.find_element(By.ID, "signin").click()
        deadline = time.time() + 60
        selector = ('.rollout[data-route="%s"] li.step.current' % route) if route else "section.route"
        while time.time() < deadline:
            if browser.find_elements(By.CSS_SELECTOR, selector) and \
                    "no data" not in browser.find_element(By.ID, "routes").text:
                break
            time.sleep(0.2)
        else:
            print("dashboard_screenshot: %s never showed on the page" % selector, file=sys.stderr)
            return 1
        time.sleep(1)
        browser.save_screenshot(out)
        print("dashboard_screenshot: saved " + out)
        return 0
    finally:
        browser.quit()


if __name__ == "__main__":
    sys.exit(main())
