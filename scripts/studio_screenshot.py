"""Take docs/img/studio.png: the studio on the embedded model, in a real browser.

    .venv/bin/python scripts/studio_screenshot.py [--out docs/img/studio.png]

Starts `neutrophil studio` on 127.0.0.1, sets joy to 4 and formality to -2, asks about
the weekend, waits for both answers and the concept meter, and saves the page. Needs Debian's chromium and the emoji font (`make` installs
both).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

PROMPT = "Tell me about your weekend in two sentences, with one emoji."
WAIT_MS = 600_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/img/studio.png")
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    # transformers, as when the picture was taken (a GGUF now decodes on llama.cpp by default)
    cmd = [sys.executable, "-m", "neutrophil.cli", "studio", "--engine", "hf"]
    cmd += ["--port", str(args.port)]
    proc = subprocess.Popen(cmd, env=dict(os.environ), stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/")
            page.wait_for_selector('input[data-concept="joy"]', timeout=WAIT_MS)
            page.fill("#prompt", PROMPT)
            page.fill("#max-tokens", "48")
            page.locator('input[data-concept="joy"]').fill("4")
            page.locator('input[data-concept="formality"]').fill("-2")
            page.click("#generate")
            page.wait_for_selector("body[data-traced]", timeout=WAIT_MS)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(60)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
