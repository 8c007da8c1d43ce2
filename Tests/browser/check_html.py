#!/usr/bin/env python3
"""Renders a Cocoon HTML report in headless Chromium and checks it from the DOM.

Usage: check_html.py REPORT.html SCREENSHOT.png

Drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages separated by NUL on file descriptors 3 and 4; standard library only) and checks:
  * every <svg class="chart"> has drawn data marks (.pt, .bar or .area elements with a
    non-empty bounding box);
  * the page requested nothing but itself: every network request is the page's own
    file:// URL or a data: URL, no element points to an external resource, and no
    Content-Security-Policy violation was reported.
Saves a full-page screenshot. Prints a JSON summary; exits 1 when a check fails, 2 when
Chromium cannot be started.
"""
import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    def __init__(self, binary, profile):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def wire():
            # Copy first: a pipe may already sit on fd 3 or 4, and dup2 onto itself would
            # keep its close-on-exec flag.
            r, w = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--mute-audio", "--hide-scrollbars",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        want = self.next_id
        while True:
            m = self.receive(timeout=60)
            if m.get("id") == want:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def receive(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            import select
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer")
            ready, _, _ = select.select([self.from_child], [], [], left)
            if ready:
                chunk = os.read(self.from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the pipe")
                self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def wait_event(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return e
        while time.monotonic() < deadline:
            m = self.receive(timeout=max(0.1, deadline - time.monotonic()))
            self.events.append(m)
            if m.get("method") == method:
                return m
        raise TimeoutError(f"no {method}")

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


CHECK_DOM = r"""
(() => {
  const charts = Array.from(document.querySelectorAll('svg.chart')).map(svg => {
    const marks = Array.from(svg.querySelectorAll('.pt, .bar, .area')).filter(e => {
      const b = e.getBBox(); return b.width > 0 || b.height > 0; });
    const box = svg.getBoundingClientRect();
    return {chart: svg.dataset.chart, marks: marks.length, width: box.width, height: box.height};
  });
  const external = [];
  for (const e of document.querySelectorAll('[src], link[href], image, use, [style*="url("]')) {
    const ref = e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('xlink:href') || e.getAttribute('style');
    if (ref && !ref.startsWith('data:') && !ref.startsWith('#')) external.push(e.tagName + ' ' + ref);
  }
  return JSON.stringify({charts, external, csp: window.__csp || [], title: document.title,
                         height: document.documentElement.scrollHeight});
})()
"""


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    page = pathlib.Path(sys.argv[1]).resolve()
    shot = pathlib.Path(sys.argv[2])
    binary = find_chromium()
    if not binary:
        print("check_html: Chromium is not installed (Debian: apt-get install chromium; scripts/test.sh installs it)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as profile:
        b = Browser(binary, profile)
        try:
            target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            b.send("Network.enable", session=session)
            b.send("Page.enable", session=session)
            b.send("Page.addScriptToEvaluateOnNewDocument", {"source":
                   "document.addEventListener('securitypolicyviolation', e => (window.__csp = window.__csp || []).push(e.blockedURI));"},
                   session=session)
            b.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                   session=session)
            url = page.as_uri()
            b.send("Page.navigate", {"url": url}, session=session)
            b.wait_event("Page.loadEventFired")
            result = b.send("Runtime.evaluate", {"expression": CHECK_DOM, "returnByValue": True}, session=session)
            dom = json.loads(result["result"]["value"])
            height = min(int(dom["height"]), 16000)
            b.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False},
                   session=session)
            png = b.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
            shot.parent.mkdir(parents=True, exist_ok=True)
            shot.write_bytes(base64.b64decode(png))
            requests = [e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"]
        except (RuntimeError, TimeoutError) as e:
            err = b.proc.stderr.read1(4000).decode(errors="replace") if b.proc.poll() is not None else ""
            print(f"check_html: Chromium failed: {e}\n{err}", file=sys.stderr)
            b.close()
            return 2
        b.close()
    foreign = [u for u in requests if not (u == url or u.startswith("data:"))]
    empty = [c["chart"] for c in dom["charts"] if c["marks"] == 0 or c["width"] == 0]
    summary = {"title": dom["title"], "charts": dom["charts"], "requests": requests, "foreign_requests": foreign,
               "external_references": dom["external"], "csp_violations": dom["csp"], "empty_charts": empty,
               "screenshot": str(shot)}
    print(json.dumps(summary, indent=1))
    ok = dom["charts"] and not empty and not foreign and not dom["external"] and not dom["csp"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
