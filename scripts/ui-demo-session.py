#!/usr/bin/env python3
"""Drives headless Chromium through the demo's first five minutes, as a newcomer would click them.

Usage: scripts/ui-demo-session.py BASE_URL SIGN_IN_LINK SCREENSHOT_FOLDER

Talks to Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 carries commands to the browser,
fd 4 its answers, each message ending in NUL), so it needs nothing but the standard library. Checks, in order:
  1. Analytics at 1h shows at least 48 candles with RSI and MACD values; at 1d at least 2 candles; 5m and 15m show a
     full range (120 candles) with RSI and MACD.
  2. The printed sign-in link signs in and leaves the address bar without the token.
  3. The Scheduler and Settings controls are enabled once signed in.
  4. A job disabled and enabled again on the Scheduler page, and a symbol removed and added again on the Settings page,
     take effect (read back through the JSON API).
Prints one line per check; exits 1 if any failed.
"""

import base64
import fcntl
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

LOAD_TIMEOUT = 60.0


def high_duplicate(fd):
    """A copy of `fd` numbered 10 or higher; `fd` itself is closed."""
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return copy


class Browser:
    def __init__(self, profile):
        # The browser's ends are moved above 9 first, so putting them on 3 and 4 cannot overwrite one another.
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        to_browser_read, from_browser_write = (high_duplicate(to_browser_read), high_duplicate(from_browser_write))
        # The browser reads commands on fd 3 and writes answers on fd 4; bash puts the pipe ends there before exec.
        self._process = subprocess.Popen(
            [
                "bash", "-c", 'exec "$@" 3<&%d 4>&%d %d<&- %d>&-'
                % (to_browser_read, from_browser_write, to_browser_read, from_browser_write),
                "chromium", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--remote-debugging-pipe", f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank",
            ],
            pass_fds=(to_browser_read, from_browser_write), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Its own process group, so closing kills the renderers too.
            start_new_session=True,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self._events = []
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            self.call("Page.enable", session=True)
            self.call("Runtime.enable", session=True)
        except BaseException:
            self.close()
            raise

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=False):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + LOAD_TIMEOUT
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def wait_for_event(self, method):
        deadline = time.monotonic() + LOAD_TIMEOUT
        while True:
            for index, event in enumerate(self._events):
                if event.get("method") == method:
                    del self._events[: index + 1]
                    return event
            self._events.append(self._read_message(deadline))

    def open(self, url):
        self._events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for_event("Page.loadEventFired")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails'].get('text')}: {expression}")
        return result["result"].get("value")

    def submit(self, form_selector, fields=None):
        """Fills `fields` and clicks the form's submit button, as a visitor would, then waits for the next page."""
        self._events.clear()
        script = "(() => { const form = document.querySelector(%s); if (!form) return 'no form';" % json.dumps(form_selector)
        for name, value in (fields or {}).items():
            script += " form.elements[%s].value = %s;" % (json.dumps(name), json.dumps(value))
        script += " const button = form.querySelector('button[type=submit]'); if (button.disabled) return 'disabled';"
        script += " button.click(); return 'clicked'; })()"
        outcome = self.evaluate(script)
        if outcome != "clicked":
            raise RuntimeError(f"cannot submit {form_selector}: {outcome}")
        self.wait_for_event("Page.loadEventFired")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=True)["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass


def api(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return json.load(response)


def main():
    base, link, shots = sys.argv[1], sys.argv[2], sys.argv[3]
    failures = []

    def check(name, condition, detail=""):
        print(("ok   " if condition else "FAIL ") + name + (f" ({detail})" if detail else ""), flush=True)
        if not condition:
            failures.append(name)

    with tempfile.TemporaryDirectory() as profile:
        try:
            browser = Browser(profile)
        except (RuntimeError, TimeoutError, OSError) as error:
            print(f"FAIL the browser did not start ({type(error).__name__}: {error})", file=sys.stderr)
            sys.exit(1)
        try:
            # 1. History on the first page load.
            readout = "Array.from(document.querySelectorAll('p.muted')).map(p => p.textContent).join(' ')"
            for interval, minimum in (("1h", 48), ("1d", 2), ("5m", 120), ("15m", 120)):
                browser.open(f"{base}/analytics?symbol=BTCUSDT&interval={interval}&limit=120")
                candles = browser.evaluate("JSON.parse(document.getElementById('chart-data').textContent).candles.length")
                text = browser.evaluate(readout)
                check(f"Analytics {interval}: at least {minimum} candles", candles >= minimum, f"{candles} candles")
                if interval != "1d":
                    values = re.search(r"latest RSI (-?[0-9.]+), MACD (-?[0-9.]+) \(signal (-?[0-9.]+)\)", text or "")
                    check(f"Analytics {interval}: RSI and MACD values", values is not None, text.strip()[:160])
                browser.screenshot(os.path.join(shots, f"demo-analytics-{interval}.png"))

            # 2. The sign-in link.
            browser.open(f"{base}/scheduler")
            disabled = browser.evaluate("document.querySelectorAll('main button[disabled]').length")
            check("Scheduler before signing in: controls disabled", disabled > 0, f"{disabled} disabled buttons")
            browser.open(link)
            location = browser.evaluate("location.pathname + location.search")
            check("the sign-in link redirects without the token", "token" not in location, location)
            check("the sign-in link signs in", "signed in" in browser.evaluate("document.querySelector('header').textContent"))

            # 3. Controls enabled.
            browser.open(f"{base}/scheduler")
            disabled = browser.evaluate("document.querySelectorAll('main button[disabled], main input[disabled]').length")
            check("Scheduler signed in: controls enabled", disabled == 0, f"{disabled} disabled")
            browser.open(f"{base}/settings")
            disabled = browser.evaluate("document.querySelectorAll('main button[disabled], main input[disabled]').length")
            check("Settings signed in: controls enabled", disabled == 0, f"{disabled} disabled")

            # 4. Changes through the pages take effect.
            def job_enabled(name):
                jobs = api(base, "/api/scheduler")["jobs"]
                return next(job["enabled"] for job in jobs if job["name"] == name)

            browser.open(f"{base}/scheduler")
            browser.submit("form[action='/scheduler/gap-fill/disable']")
            check("Scheduler: disabling gap-fill takes effect", job_enabled("gap-fill") is False)
            browser.screenshot(os.path.join(shots, "demo-scheduler-signed-in.png"))
            browser.submit("form[action='/scheduler/gap-fill/enable']")
            check("Scheduler: enabling gap-fill takes effect", job_enabled("gap-fill") is True)

            def tracked():
                return api(base, "/api/config/symbols")["symbols"]

            browser.open(f"{base}/settings")
            browser.submit("form[action='/settings/symbols/ADAUSDT/remove']")
            check("Settings: removing ADAUSDT takes effect", "ADAUSDT" not in tracked(), ",".join(tracked()))
            browser.submit("form[action='/settings/symbols']", {"symbol": "ADAUSDT"})
            check("Settings: adding ADAUSDT takes effect", "ADAUSDT" in tracked(), ",".join(tracked()))
            browser.screenshot(os.path.join(shots, "demo-settings-signed-in.png"))
        except (RuntimeError, TimeoutError, OSError, KeyError, StopIteration, ValueError, TypeError, AttributeError) as error:
            check("the browser session ran to the end", False, f"{type(error).__name__}: {error}")
        finally:
            browser.close()

    if failures:
        print(f"{len(failures)} check(s) failed: {', '.join(failures)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
