"""Open every page of the built book in headless Chromium and check what a reader would see.

    python tests/browser_check.py [--html _build/html] [--screenshots _build/screenshots]

The pages are served by a local ``http.server`` on 127.0.0.1 and loaded in Debian's ``chromium`` (``apt-get install
chromium``; ``$CHROMIUM`` names another binary), driven through the DevTools protocol over a websocket
(``websocket-client`` from PyPI). For every page it checks:

* every ``<img>`` loaded (``complete`` and ``naturalWidth > 0``);
* math is rendered: pages with Sphinx math (``.math`` elements) have MathJax output (``mjx-container``) and no raw
  ``\\(``, ``\\[`` or ``$$`` is left in the visible text outside code;
* no notebook output shows a Python traceback (``.traceback`` output areas or "Traceback (most recent call last)");
* every chapter notebook page (``notebooks/...``) shows at least one image (a figure) in its content;
* every resource the page loads (scripts, styles, fonts, MathJax components) is found (no HTTP error, no failed
  load), and nothing is requested outside 127.0.0.1: the book works offline, MathJax and fonts are served with it.

It saves screenshots of the landing pages (every page under ``book/``: intro, chapter landing pages, report) to
the screenshot folder, and exits with status 1 and a list of the problems, or 0.
"""
from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
]
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html", "index.html"}

# Runs in the page; returns what the checks need. Waits for MathJax's first typeset and for every image.
PAGE_PROBE = r"""
(async () => {
  const sleep = (ms) => new Promise(r => setTimeout(r, ms));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await Promise.race([MathJax.startup.promise, sleep(20000)]);
  }
  const imgs = Array.from(document.images);
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.race([
    Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = r; i.onerror = r; }))),
    sleep(15000)]);
  const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'TEXTAREA', 'MJX-CONTAINER', 'NOSCRIPT']);
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    let p = n.parentElement, inside = false;
    for (; p; p = p.parentElement) { if (skip.has(p.tagName)) { inside = true; break; } }
    if (inside) continue;
    const t = n.textContent;
    if (t.includes('\\(') || t.includes('\\[') || t.includes('$$')) raw.push(t.trim().slice(0, 80));
  }
  const outputs = Array.from(document.querySelectorAll('.cell_output, .output'));
  const tracebacks = outputs.filter(o => o.classList.contains('traceback') || o.querySelector('.traceback')
      || (o.textContent || '').includes('Traceback (most recent call last)'))
    .map(o => (o.textContent || '').trim().slice(0, 120));
  const article = document.querySelector('article') || document.body;
  return {
    title: document.title,
    images: imgs.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    contentImages: article.querySelectorAll('img').length,
    mathElements: document.querySelectorAll('.math').length,
    mjx: document.querySelectorAll('mjx-container').length,
    rawMath: raw.slice(0, 5),
    tracebacks: Array.from(new Set(tracebacks)).slice(0, 5),
    height: Math.ceil(document.documentElement.scrollHeight),
  };
})()
"""


class DevTools:
    """A minimal DevTools-protocol client: one websocket to the browser, flat sessions for pages."""

    def __init__(self, ws_url: str, timeout: float):
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def close(self) -> None:
        self.ws.close()


def find_chromium(explicit: str | None = None) -> str:
    for cand in (explicit, os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if cand and shutil.which(cand):
            return shutil.which(cand)
    raise SystemExit("Chromium not found: install Debian's 'chromium' package (apt-get install -y chromium) "
                     "or set CHROMIUM=/path/to/chrome")


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the check's output readable
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def start_chromium(binary: str, profile: Path, timeout: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port_file = profile / "DevToolsActivePort"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if port_file.is_file():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return proc, f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise RuntimeError(f"chromium exited with status {proc.returncode}:\n{err}")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("chromium did not open its DevTools port in time")


def book_pages(html: Path) -> list[Path]:
    pages = []
    for p in sorted(html.rglob("*.html")):
        rel = p.relative_to(html)
        if rel.parts[0].startswith("_") or rel.as_posix() in SKIP_PAGES:
            continue
        pages.append(rel)
    return pages


def is_landing(rel: Path) -> bool:
    return rel.parts[0] == "book"


def is_chapter_notebook(rel: Path) -> bool:
    return rel.parts[0] == "notebooks"


def check_page(dt: DevTools, session: str, base: str, rel: Path, timeout: float) -> tuple[dict, list[str]]:
    url = f"{base}/{rel.as_posix()}"
    dt.events.clear()
    dt.send("Page.navigate", {"url": url}, session)
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = dt.send("Runtime.evaluate", {"expression": "document.readyState", "returnByValue": True}, session)
        if state.get("result", {}).get("value") == "complete":
            break
        time.sleep(0.1)
    else:
        return {}, [f"{rel}: did not finish loading in {timeout:.0f} s"]
    res = dt.send("Runtime.evaluate", {"expression": PAGE_PROBE, "awaitPromise": True, "returnByValue": True,
                                       "timeout": timeout * 1000}, session)
    if "exceptionDetails" in res:
        return {}, [f"{rel}: the page probe failed: {res['exceptionDetails'].get('text')}"]
    info = res["result"]["value"]
    problems = []
    for img in info["images"]:
        if not img["ok"]:
            problems.append(f"{rel}: image did not load: {img['src']}")
    if info["mathElements"] and not info["mjx"]:
        problems.append(f"{rel}: {info['mathElements']} math elements but no MathJax output (mjx-container)")
    for raw in info["rawMath"]:
        problems.append(f"{rel}: raw TeX left in the text: {raw!r}")
    for tb in info["tracebacks"]:
        problems.append(f"{rel}: an output shows a Python traceback: {tb!r}")
    if is_chapter_notebook(rel) and info["contentImages"] == 0:
        problems.append(f"{rel}: chapter notebook page shows no figure")
    requests = {}
    for ev in dt.events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Network.requestWillBeSent":
            req_url = params["request"]["url"]
            requests[params.get("requestId")] = req_url
            host = urlparse(req_url).hostname
            if urlparse(req_url).scheme in ("http", "https", "ws", "wss") and host not in ("127.0.0.1", "localhost"):
                problems.append(f"{rel}: requested an external resource (the book must work offline): {req_url}")
        elif method == "Network.responseReceived":
            resp = params.get("response", {})
            if resp.get("status", 200) >= 400 and not resp.get("url", "").endswith("/favicon.ico"):
                problems.append(f"{rel}: {resp.get('status')} for {resp.get('url')}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            req_url = requests.get(params.get("requestId"), "?")
            if urlparse(req_url).hostname in ("127.0.0.1", "localhost") and not req_url.endswith("/favicon.ico"):
                problems.append(f"{rel}: failed to load {req_url} ({params.get('errorText')})")
    return info, problems


def screenshot(dt: DevTools, session: str, height: int, out: Path) -> None:
    height = max(600, min(int(height or 900), 8000))
    dt.send("Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
    shot = dt.send("Page.captureScreenshot", {"format": "png"}, session)
    out.write_bytes(base64.b64decode(shot["data"]))
    dt.send("Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)


def check_book(html: Path, screenshots: Path, chromium: str | None = None, timeout: float = 60.0,
               verbose: bool = True) -> list[str]:
    """Check every page of the built book at ``html``; return the problems (empty when all is well)."""
    html = Path(html).resolve()
    if not (html / "index.html").is_file():
        return [f"no built book at {html} (run `python -m inpaintlib.reproduce` first)"]
    pages = book_pages(html)
    if not pages:
        return [f"no pages found under {html}"]
    screenshots = Path(screenshots)
    screenshots.mkdir(parents=True, exist_ok=True)
    binary = find_chromium(chromium)
    server, base = serve(html)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="inpaintlib-chromium-") as tmp:
        proc, ws_url = start_chromium(binary, Path(tmp), timeout)
        dt = None
        try:
            dt = DevTools(ws_url, timeout)
            target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Network"):
                dt.send(f"{domain}.enable", {}, session)
            dt.send("Emulation.setDeviceMetricsOverride",
                    {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)
            n_math = 0
            for rel in pages:
                info, page_problems = check_page(dt, session, base, rel, timeout)
                problems += page_problems
                n_math += bool(info.get("mjx"))
                if info and is_landing(rel):
                    name = "_".join(rel.with_suffix("").parts) + ".png"
                    screenshot(dt, session, info.get("height", 900), screenshots / name)
                if verbose:
                    status = "ok" if not page_problems else f"{len(page_problems)} problem(s)"
                    print(f"  {rel}: {len(info.get('images', []))} images, {info.get('mjx', 0)} formulas - {status}",
                          flush=True)
        finally:
            if dt is not None:
                try:
                    dt.send("Browser.close")
                except Exception:  # the browser may already be gone; it is killed below
                    pass
                dt.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            server.shutdown()
            server.server_close()
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--html", default=str(ROOT / "_build" / "html"), help="built book (default: _build/html)")
    ap.add_argument("--screenshots", default=str(ROOT / "_build" / "screenshots"),
                    help="where the landing-page screenshots go (default: _build/screenshots)")
    ap.add_argument("--chromium", default=None, help="Chromium binary (default: $CHROMIUM or chromium)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per page (default: 60)")
    args = ap.parse_args(argv)
    print(f"browser check of {args.html}")
    problems = check_book(Path(args.html), Path(args.screenshots), args.chromium, args.timeout)
    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"all pages ok; screenshots in {args.screenshots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
