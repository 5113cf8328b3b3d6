"""A headless Chromium (Debian's `chromium`) driven over the DevTools protocol with aiohttp's
websocket client: load a page, collect console errors, exceptions and network requests, run
JavaScript, ask which platform fonts drew a node, take a screenshot. Nothing is downloaded."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    """The browser to use: $CORPUS_CHROMIUM, else the first of CANDIDATES on PATH."""
    env = os.environ.get("CORPUS_CHROMIUM")
    if env:
        return env if Path(env).exists() or shutil.which(env) else None
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


class Page:
    """One page of a started Chromium; use through `load(...)`."""

    def __init__(self, ws, session: str):
        self.ws, self.session = ws, session
        self._id = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self):
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._waiting:
                self._waiting.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def send(self, method: str, params: dict | None = None, session: bool = True, timeout: float = 60):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        fut = asyncio.get_running_loop().create_future()
        self._waiting[self._id] = fut
        await self.ws.send_str(json.dumps(msg))
        data = await asyncio.wait_for(fut, timeout)
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return data.get("result", {})

    async def wait_event(self, method: str, timeout: float = 60) -> dict:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            for e in self.events:
                if e["method"] == method:
                    return e
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no {method} within {timeout}s")

    async def evaluate(self, expression: str):
        r = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def fonts_for(self, selector: str) -> list[dict]:
        """The platform fonts that drew the text of the first node matching `selector`:
        [{familyName, postScriptName, isCustomFont, glyphCount}] (CSS.getPlatformFontsForNode)."""
        root = (await self.send("DOM.getDocument", {"depth": -1}))["root"]["nodeId"]
        node = (await self.send("DOM.querySelector", {"nodeId": root, "selector": selector}))["nodeId"]
        if not node:
            raise LookupError(f"no node matches {selector!r}")
        return (await self.send("CSS.getPlatformFontsForNode", {"nodeId": node}))["fonts"]

    async def screenshot(self, path: Path, width: int, height: int, scale: float = 1.0) -> None:
        r = await self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": scale}})
        path.write_bytes(base64.b64decode(r["data"]))

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and error log entries so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(f"uncaught: {d.get('exception', {}).get('description') or d.get('text')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(f"log {p['entry']['level']}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]


async def _with_page(url: str, width: int, height: int, work, timeout: float = 120):
    import aiohttp

    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium found (Debian: apt-get install chromium; scripts/test.sh installs it)")
    profile = tempfile.mkdtemp(prefix="corpus-chromium-")
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update",
            "--remote-debugging-port=0", f"--user-data-dir={profile}", f"--window-size={width},{height}",
            "about:blank"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ws_url, seen = None, []
        loop = asyncio.get_running_loop()
        end = loop.time() + 60
        while ws_url is None:
            line = await loop.run_in_executor(None, proc.stderr.readline)
            if not line and proc.poll() is not None:
                raise RuntimeError(f"{exe} exited with {proc.returncode}: {''.join(seen[-20:])}")
            seen.append(line)
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws_url = m.group(1)
            elif loop.time() > end:
                raise TimeoutError(f"{exe} did not open DevTools: {''.join(seen[-20:])}")
        # keep draining stderr so that the browser never blocks on a full pipe
        loop.run_in_executor(None, proc.stderr.read)
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
            page = Page(ws, "")
            target = (await page.send("Target.createTarget", {"url": "about:blank"}, session=False))["targetId"]
            page.session = (await page.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                            session=False))["sessionId"]
            for domain in ("Runtime", "Log", "Page", "Network", "DOM", "CSS"):
                await page.send(f"{domain}.enable")
            await page.send("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
            await page.send("Page.navigate", {"url": url})
            await page.wait_event("Page.loadEventFired", timeout)
            result = await work(page)
            page._reader.cancel()
            return result
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def load(url: str, work, width: int = 1280, height: int = 900, timeout: float = 120):
    """Start Chromium, load `url` at width x height, and return `await work(page)`."""
    return asyncio.run(_with_page(url, width, height, work, timeout))
