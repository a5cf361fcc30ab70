"""The studio page in a real browser (Debian's chromium driven by Playwright), against a
real `neutrophil studio --model tiny` process on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import httpx
import pytest
from servers import free_port, wait_ready

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT_MS = 300_000  # generous: the machine may be loaded; every wait is for a condition

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not os.path.exists(CHROMIUM):
    pytest.skip("no chromium binary (apt-get install chromium)", allow_module_level=True)

KEY = "studio-test-key"


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("studio") / "prefix.txt"
    prefix.write_text("PING: I check first. ", encoding="utf-8")
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NEUTROPHIL_SERVE_KEY": KEY}
    cmd = [sys.executable, "-m", "neutrophil.cli", "studio", "--model", "tiny"]
    cmd += ["--port", str(port), "--prefix-file", str(prefix), "--require-key"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, timeout=300)
        yield url
    finally:
        proc.terminate()
        proc.wait(60)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, url: str):
    page = browser.new_page()
    page.goto(url + "/")
    page.fill("#key", KEY)
    page.dispatch_event("#key", "change")
    page.wait_for_selector('input[data-concept="joy"]', timeout=WAIT_MS)
    return page


def test_key_guards_the_api_not_the_page(studio):
    assert httpx.get(studio + "/").status_code == 200
    assert httpx.get(studio + "/studio/studio.js").status_code == 200
    assert httpx.get(studio + "/studio/api/state").status_code == 401
    assert httpx.post(studio + "/v1/chat/completions", json={}).status_code == 401


def test_slider_steers_the_left_panel(studio, browser):
    page = open_page(browser, studio)
    page.fill("#max-tokens", "12")
    page.locator('input[data-concept="joy"]').fill("4")
    page.locator('input[data-concept="anger"]').fill("-3")
    page.check('input[data-defense="gated-steer"]')
    page.click("#generate")
    page.wait_for_selector('#steered[data-done="true"]', timeout=WAIT_MS)
    page.wait_for_selector('#unsteered[data-done="true"]', timeout=WAIT_MS)
    page.wait_for_function(
        "document.getElementById('meter-fires').textContent.includes('fire')", timeout=WAIT_MS
    )
    steered = page.text_content("#steered")
    unsteered = page.text_content("#unsteered")
    assert "[error" not in steered + unsteered
    assert steered and unsteered and steered != unsteered
    float(page.text_content("#meter-score"))  # the probe's score is a number
    # the concept meter: a sparkline per slider, one point per steered answer token
    page.wait_for_selector("body[data-traced]", timeout=WAIT_MS)
    points = page.eval_on_selector_all(
        "canvas[data-spark]", "cs => cs.map(c => [c.dataset.spark, Number(c.dataset.points)])"
    )
    assert {name for name, _ in points} >= {"joy", "anger", "refusal"}
    assert all(n > 0 for _, n in points), points
    assert "steered" in page.get_attribute('canvas[data-spark="joy"]', "title")
    page.close()


def test_new_concept_gets_a_slider(studio, browser):
    page = open_page(browser, studio)
    page.fill("#concept-name", "pirate")
    page.fill("#concept-pos", "Arr, matey, hoist the sails!\nShiver me timbers, ye scallywag.")
    page.fill("#concept-neg", "Good morning, colleagues.\nPlease find the report attached.")
    page.click("#concept-create")
    page.wait_for_selector('input[data-concept="pirate"]', timeout=WAIT_MS)
    assert "added pirate" in page.text_content("#concept-status")
    headers = {"Authorization": f"Bearer {KEY}"}
    gguf = httpx.get(studio + "/studio/api/concepts/pirate.gguf", headers=headers, timeout=60)
    assert gguf.status_code == 200 and gguf.content[:4] == b"GGUF"
    page.close()


def generate(page) -> tuple[str, str]:
    page.click("#generate")
    page.wait_for_selector('#steered[data-done="true"]', timeout=WAIT_MS)
    page.wait_for_selector('#unsteered[data-done="true"]', timeout=WAIT_MS)
    page.wait_for_selector("#generate:not([disabled])", timeout=WAIT_MS)
    steered, unsteered = page.text_content("#steered"), page.text_content("#unsteered")
    assert "[error" not in steered + unsteered, steered
    return steered, unsteered


def test_mode_control_ablates_a_channel(studio, browser):
    page = open_page(browser, studio)
    page.fill("#max-tokens", "12")
    page.locator('input[data-concept="joy"]').fill("4")
    added, plain = generate(page)
    assert added != plain
    # Every concept ablated: the page asks the API to ablate each one. (What ablation does
    # to the text is tested over the API; on the random tiny model it may change nothing
    # within 12 tokens.)
    for select in page.locator("select[data-mode]").all():
        select.select_option("ablate")
    assert page.locator('input[data-concept="joy"]').is_disabled()
    asks: list[dict] = []
    page.on(
        "request",
        lambda r: (
            asks.append(json.loads(r.post_data))
            if r.method == "POST" and r.url.endswith("/chat/completions")
            else None
        ),
    )
    ablated, plain_again = generate(page)
    assert plain_again == plain
    assert ablated != added
    steered = [a["neutrophil"]["steer"] for a in asks if a.get("neutrophil", {}).get("steer")]
    assert steered and all(v == {"mode": "ablate"} for mix in steered for v in mix.values())
    names = {el.get_attribute("data-mode") for el in page.locator("select[data-mode]").all()}
    assert set(steered[-1]) == names
    # back to add: the slider's strength is used again, and the text is what it was
    page.locator('select[data-mode="joy"]').select_option("add")
    for select in page.locator("select[data-mode]:not([data-mode=joy])").all():
        select.select_option("add")
    assert generate(page)[0] == added
    page.close()
