"""A headless Chromium driven over the DevTools protocol, that never reaches the network.

Used by the book's browser test (``tests/test_book.py``: open every page, evaluate checks in it)
and by ``scripts/print_pdf.py`` (``make pdf``: print the one-page book to a PDF). Every request
outside ``file://`` (and ``data:``, ``blob:``, ``about:``) is refused and recorded in
:attr:`PageReport.blocked`, so a page that needs the network shows it. JavaScript exceptions are
recorded in :attr:`PageReport.exceptions`. Needs ``websocket-client``.

The binary: ``CHROME_BIN``, else the first of :data:`CHROMIUM_NAMES` on the ``PATH``
(Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The viewport the pages are opened at (width, height in CSS pixels): a laptop's.
DEFAULT_VIEWPORT = (1366, 768)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """The Chromium binary: ``CHROME_BIN``, else the first of :data:`CHROMIUM_NAMES` found."""
    if os.environ.get("CHROME_BIN"):
        return shutil.which(os.environ["CHROME_BIN"]) or (
            os.environ["CHROME_BIN"] if Path(os.environ["CHROME_BIN"]).is_file() else None
        )
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class DevToolsError(RuntimeError):
    """Chromium did not start, a DevTools call failed, or a page did not load."""


@dataclass
class PageReport:
    url: str
    blocked: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)


class Chromium:
    """A headless Chromium with one tab, driven over the DevTools protocol."""

    def __init__(self, binary: str, profile: Path, viewport: tuple[int, int] = DEFAULT_VIEWPORT):
        import websocket  # websocket-client

        self.profile = profile
        # noqa reason: the log lives as long as the browser and is closed in close()
        self.log = open(profile / "chromium.log", "w+b")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                binary,
                *CHROMIUM_FLAGS,
                f"--window-size={viewport[0]},{viewport[1]}",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile / 'user-data'}",
                "about:blank",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        port_file = profile / "user-data" / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and len(port_file.read_text().split()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                self.log.seek(0)
                raise DevToolsError(
                    "Chromium did not start: " + self.log.read().decode(errors="replace")[-2000:]
                )
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}{path}", timeout=120, suppress_origin=True
        )
        self.next_id = 0
        self.report = PageReport(url="about:blank")
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method, params in [
            ("Page.enable", {}),
            ("Runtime.enable", {}),
            ("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
            (
                "Emulation.setDeviceMetricsOverride",
                {"width": viewport[0], "height": viewport[1], "deviceScaleFactor": 1, "mobile": False},
            ),
        ]:
            self.call(method, params, session=self.session)

    # -- protocol ----------------------------------------------------------------------

    def _send(self, method, params=None, session=None) -> int:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        return self.next_id

    def call(self, method, params=None, session=None):
        wanted = self._send(method, params, session)
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == wanted:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._on_event(message)

    def _on_event(self, message):
        method, params = message["method"], message.get("params", {})
        if method == "Fetch.requestPaused":
            self._on_request(params)
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.report.exceptions.append(f"{text} ({details.get('url', '')})")

    def _on_request(self, params):
        request_id, url = params["requestId"], params["request"]["url"]
        if url.startswith(("file:", "data:", "blob:", "about:", "chrome:", "devtools:")):
            self._send("Fetch.continueRequest", {"requestId": request_id}, self.session)
        else:
            # The site must not need the network: refuse, and remember what was asked for.
            self.report.blocked.append(url)
            self._send(
                "Fetch.failRequest", {"requestId": request_id, "errorReason": "BlockedByClient"}, self.session
            )

    # -- pages -------------------------------------------------------------------------

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate",
            {
                "expression": expression,
                "awaitPromise": True,
                "returnByValue": True,
            },
            session=self.session,
        )
        if "exceptionDetails" in result:
            raise DevToolsError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> PageReport:
        self.report = PageReport(url=url)
        navigation = self.call("Page.navigate", {"url": url}, session=self.session)
        if navigation.get("errorText"):
            raise DevToolsError(f"could not open {url}: {navigation['errorText']}")
        loaded = self.evaluate(
            "new Promise(done => { if (document.readyState === 'complete') done(true);"
            " else { window.addEventListener('load', () => done(true), {once: true});"
            " setTimeout(() => done(false), 60000); } })"
        )
        if not loaded:
            raise DevToolsError(f"{url} did not finish loading within 60 s")
        return self.report

    def screenshot(self, path: Path):
        data = self.call(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=self.session
        )["data"]
        path.write_bytes(base64.b64decode(data))

    def print_pdf(self, path: Path, options: dict | None = None) -> int:
        """Print the open page to ``path`` (A4, backgrounds, no header or footer); its bytes."""
        params = {
            "printBackground": True,
            "displayHeaderFooter": False,
            "paperWidth": 8.27,
            "paperHeight": 11.69,
            "marginTop": 0.5,
            "marginBottom": 0.5,
            "marginLeft": 0.5,
            "marginRight": 0.5,
            "transferMode": "ReturnAsBase64",
        } | (options or {})
        data = base64.b64decode(self.call("Page.printToPDF", params, session=self.session)["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return len(data)

    def close(self):
        try:
            if getattr(self, "ws", None) is not None:
                with contextlib.suppress(Exception):
                    self._send("Browser.close")
                self.ws.close()
        finally:
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
            self.log.close()
