"""A small headless-Chromium driver over the DevTools protocol, from the standard library only.

Chromium runs with ``--remote-debugging-pipe``: it reads protocol messages
(JSON, each ended by a NUL byte) on fd 3 and writes its answers on fd 4. A
tiny trampoline (``python -c``) puts our pipe ends on those descriptors and
``exec``s the browser, so no ``preexec_fn`` is needed. Measurements run in
the browser through ``Runtime.evaluate``: the page under test itself stays
script-free.

Every wait is bounded (:data:`TIMEOUT` seconds per answer: a hang guard, not
an assertion) and the browser is always closed, then killed if it lingers.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

TIMEOUT = 120.0
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--disable-extensions",
    "--remote-debugging-pipe",
)
_TRAMPOLINE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


def find_chromium() -> str | None:
    """``$HARNESS_CHROMIUM``, else Debian's ``chromium`` (or another Chromium/Chrome) on PATH."""
    configured = os.environ.get("HARNESS_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """The browser died, answered with an error, or did not answer in time."""


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, binary: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="harness-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # above 9, so the trampoline's dup2 onto 3 and 4 never overwrites one of them
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        try:
            self._process = subprocess.Popen(
                [*self._trampoline(binary, high_r, high_w), "about:blank"],
                pass_fds=(high_r, high_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
            )
        finally:
            os.close(high_r)
            os.close(high_w)
        self._buffer = b""
        self._events: list[str] = []  # names of the protocol events seen, oldest first
        self._next_id = 0
        self._session: str | None = None

    def _trampoline(self, binary: str, reads: int, writes: int) -> list[str]:
        """The argv that starts ``binary`` with ``reads`` on fd 3 and ``writes`` on fd 4."""
        command = [sys.executable, "-c", _TRAMPOLINE, str(reads), str(writes), binary]
        return [*command, *FLAGS, f"--user-data-dir={self._profile}"]

    # ---------------------------------------------------------- protocol
    def _send(self, method: str, params: dict[str, Any] | None = None, page: bool = True) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if page and self._session is not None:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer["method"])

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], TIMEOUT)
            if not ready:
                raise BrowserError(f"no answer from Chromium in {TIMEOUT:.0f} s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"Chromium exited: {self.stderr_tail()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(raw)
        return parsed

    def stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").splitlines()
        return " | ".join(line for line in lines[-5:] if "dbus" not in line)

    # -------------------------------------------------------------- page
    def open_page(self) -> None:
        target = self._send("Target.createTarget", {"url": "about:blank"}, page=False)
        attached = self._send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, page=False
        )
        self._session = attached["sessionId"]
        self._send("Page.enable")
        self._send("Runtime.enable")

    def set_width(self, width: int, height: int = 900) -> None:
        """Make the viewport ``width`` CSS pixels wide (device scale 1, not a mobile device)."""
        self._send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def load(self, path: Path) -> None:
        """Navigate to ``path`` and wait until it has loaded."""
        self._events.clear()
        self._send("Page.navigate", {"url": path.resolve().as_uri()})
        while "Page.loadEventFired" not in self._events:
            event = self._read()
            if "method" in event:
                self._events.append(event["method"])

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` evaluated in the page (exceptions raise)."""
        result = self._send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"script error: {text}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path, width: int) -> None:
        """A PNG of the whole page (not only the viewport) at ``width``."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        shot = self._send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))

    # --------------------------------------------------------- lifetime
    def __enter__(self) -> Chromium:
        try:
            self.open_page()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._process.poll() is None:
                self._session = None
                try:
                    os.write(self._to_browser, json.dumps(
                        {"id": 0, "method": "Browser.close", "params": {}}
                    ).encode() + b"\0")  # fmt: skip
                except OSError:
                    pass
                try:
                    self._process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=30)
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._stderr.close()
            shutil.rmtree(self._profile, ignore_errors=True)
