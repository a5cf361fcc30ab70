// The equalizer studio. Model output is only ever set as textContent: nothing the model
// writes is parsed as HTML or run. No inline script (the server's CSP forbids it).
"use strict";

const $ = (id) => document.getElementById(id);
const DEFENSE_LABELS = {
  "prefix": "PING prefix",
  "gated-prefix": "gated prefix",
  "gated-steer": "gated steering",
};
let LIMIT = 4;
let MODES = ["add", "ablate", "clamp"];

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function api(path, body) {
  const init = body === undefined ? { headers: headers() } :
    { method: "POST", headers: headers(), body: JSON.stringify(body) };
  const r = await fetch(path, init);
  if (!r.ok) {
    let message = r.status + " " + r.statusText;
    try { message = (await r.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return r;
}

function addSlider(name) {
  if (document.querySelector(`input[data-concept="${CSS.escape(name)}"]`)) return;
  const box = document.createElement("div");
  box.className = "slider";
  const value = document.createElement("output");
  value.textContent = "0";
  const input = document.createElement("input");
  input.type = "range";
  input.min = String(-LIMIT);
  input.max = String(LIMIT);
  input.step = "0.5";
  input.value = "0";
  input.dataset.concept = name;
  input.setAttribute("aria-label", name);
  input.addEventListener("input", () => { value.textContent = input.value; });
  const label = document.createElement("span");
  label.className = "name";
  label.textContent = name;
  const links = document.createElement("span");
  links.className = "files";
  for (const kind of ["safetensors", "gguf"]) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = kind === "gguf" ? "gguf" : "st";
    b.title = `download ${name}.${kind}`;
    b.addEventListener("click", () => download(name, kind));
    links.appendChild(b);
  }
  // The channel's mode: add the slider's strength, ablate the concept (the slider is
  // unused), or clamp its component at the slider's value.
  const mode = document.createElement("select");
  mode.dataset.mode = name;
  mode.setAttribute("aria-label", `${name} mode`);
  for (const m of MODES) {
    const option = document.createElement("option");
    option.value = m;
    option.textContent = m;
    mode.appendChild(option);
  }
  mode.addEventListener("change", () => {
    input.disabled = mode.value === "ablate";
    box.dataset.mode = mode.value;
  });
  // The concept meter: this concept's component at each answer token (steered in blue,
  // unsteered in grey), followed while the answers stream and redrawn when they end.
  const spark = document.createElement("canvas");
  spark.className = "spark";
  spark.width = 64;
  spark.height = 28;
  spark.dataset.spark = name;
  spark.dataset.points = "0";
  const fluent = document.createElement("small");
  fluent.className = "fluent";
  fluent.dataset.fluent = name;
  box.append(value, input, label, mode, spark, fluent, links);
  $("sliders").appendChild(box);
}

async function download(name, kind) {
  try {
    const r = await api(`/studio/api/concepts/${encodeURIComponent(name)}.${kind}`);
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = `${name}.${kind}`;
    a.click();
    URL.revokeObjectURL(url);
  } catch (e) {
    $("status").textContent = String(e.message);
  }
}

function modeOf(name) {
  const select = document.querySelector(`select[data-mode="${CSS.escape(name)}"]`);
  return select ? select.value : "add";
}

// The `neutrophil.steer` field: a number to add, or {mode, value}.
function mix() {
  const out = {};
  for (const input of document.querySelectorAll("input[data-concept]")) {
    const name = input.dataset.concept;
    const v = Number(input.value);
    const mode = modeOf(name);
    if (mode === "ablate") out[name] = { mode };
    else if (mode === "clamp") out[name] = { mode, value: v };
    else if (v !== 0) out[name] = v;
  }
  return out;
}

function setMix(m) {
  for (const input of document.querySelectorAll("input[data-concept]")) {
    const name = input.dataset.concept;
    const setting = m[name];
    const mode = typeof setting === "object" && setting ? setting.mode : "add";
    const value = typeof setting === "object" && setting ? setting.value : setting;
    input.value = String(value || 0);
    input.dispatchEvent(new Event("input"));
    const select = document.querySelector(`select[data-mode="${CSS.escape(name)}"]`);
    if (select) {
      select.value = mode;
      select.dispatchEvent(new Event("change"));
    }
  }
}

function defenses() {
  return [...document.querySelectorAll("input[data-defense]:checked")].map((i) => i.dataset.defense);
}

function messages() {
  const m = [];
  const system = $("system").value.trim();
  if (system) m.push({ role: "system", content: system });
  m.push({ role: "user", content: $("prompt").value });
  return m;
}

// One streamed chat completion into `pre` (textContent only).
async function stream(pre, steer) {
  pre.textContent = "";
  pre.dataset.done = "false";
  try {
    const r = await api("/v1/chat/completions", {
      messages: messages(),
      max_tokens: Number($("max-tokens").value) || 64,
      stream: true,
      neutrophil: { steer, defense: defenses() },
    });
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
        const chunk = JSON.parse(event.slice(6));
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) pre.textContent += delta.content;
      }
    }
  } catch (e) {
    pre.textContent += `\n[error: ${e.message}]`;
  } finally {
    pre.dataset.done = "true";
  }
}

async function meter() {
  $("meter-score").textContent = "…";
  $("meter-fires").textContent = "…";
  try {
    const m = await (await api("/studio/api/meter", { messages: messages() })).json();
    $("meter-score").textContent = m.score.toFixed(3);
    $("meter-fires").textContent = m.fires ? "fires" : "does not fire";
    $("meter").classList.toggle("fires", m.fires);
  } catch (e) {
    $("meter-score").textContent = "error";
    $("meter-fires").textContent = String(e.message);
  }
}

// Each concept's component, token by token, for both answers (the concept meter).
async function trace(steer) {
  const pre = steer === null ? $("unsteered") : $("steered");
  if (!pre.textContent) return null;
  const r = await api("/studio/api/trace", {
    messages: messages(), answer: pre.textContent, neutrophil: { steer: steer || {} },
  });
  return (await r.json()).concepts;
}

function drawSparks(steered, unsteered) {
  for (const canvas of document.querySelectorAll("canvas[data-spark]")) {
    const name = canvas.dataset.spark;
    const lines = [[unsteered && unsteered[name], "#9aa3b2"], [steered && steered[name], "#2f6fde"]];
    const values = lines.flatMap(([v]) => v || []);
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!values.length) { canvas.dataset.points = "0"; continue; }
    const lo = Math.min(0, ...values), hi = Math.max(0, ...values);
    const y = (v) => canvas.height - 2 - ((v - lo) / (hi - lo || 1)) * (canvas.height - 4);
    ctx.strokeStyle = "#d8dce3";
    ctx.beginPath(); ctx.moveTo(0, y(0)); ctx.lineTo(canvas.width, y(0)); ctx.stroke();
    for (const [v, color] of lines) {
      if (!v || !v.length) continue;
      ctx.strokeStyle = color;
      ctx.beginPath();
      v.forEach((value, i) => {
        const x = v.length === 1 ? canvas.width / 2 : (i / (v.length - 1)) * canvas.width;
        if (i === 0) ctx.moveTo(x, y(value)); else ctx.lineTo(x, y(value));
      });
      ctx.stroke();
    }
    const s = steered && steered[name];
    canvas.dataset.points = String(s ? s.length : 0);
    const mean = (v) => v && v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(2) : "–";
    canvas.title = `${name}: mean ${mean(s)} steered, ${mean(unsteered && unsteered[name])} unsteered`;
  }
}

// While the answers stream, the meter follows them: the text so far is read again
// whenever it has grown, one reading at a time. Each reading is a forward pass the server
// runs between two decoding steps, so following slows the streams a little.
async function follow(live, steer) {
  const read = { steered: null, unsteered: null };
  const seen = { steered: 0, unsteered: 0 };
  while (!live.done) {
    let grew = false;
    for (const [row, s] of [["steered", steer], ["unsteered", null]]) {
      const length = $(row).textContent.length;
      if (length > seen[row] && $(row).dataset.done !== "true") {
        seen[row] = length;
        grew = true;
        try { read[row] = await trace(s); } catch (e) { /* the final reading reports */ }
      }
    }
    if (grew && !live.done) {
      drawSparks(read.steered, read.unsteered);
      document.body.dataset.followed = String(Number(document.body.dataset.followed || 0) + 1);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

async function generate() {
  $("generate").disabled = true;
  $("status").textContent = "generating…";
  // Both rows go out together: the server decodes them in one batch, per-row strengths.
  const steer = mix();
  const live = { done: false };
  const following = follow(live, steer);
  await Promise.all([stream($("steered"), steer), stream($("unsteered"), {}), meter()]);
  live.done = true;
  await following;
  try {
    $("status").textContent = "reading concepts…";
    const [steered, unsteered] = await Promise.all([trace(steer), trace(null)]);
    drawSparks(steered, unsteered);
    document.body.dataset.traced = String(Number(document.body.dataset.traced || 0) + 1);
    $("status").textContent = "";
  } catch (e) {
    $("status").textContent = String(e.message);
  }
  $("generate").disabled = false;
}

async function createConcept() {
  const lines = (id) => $(id).value.split("\n").map((s) => s.trim()).filter(Boolean);
  const name = $("concept-name").value.trim();
  $("concept-status").textContent = "extracting…";
  try {
    await api("/studio/api/concepts", {
      name, positive: lines("concept-pos"), negative: lines("concept-neg"),
    });
    addSlider(name);
    $("concept-status").textContent = `added ${name}`;
  } catch (e) {
    $("concept-status").textContent = String(e.message);
  }
}

function presets() {
  try { return JSON.parse(localStorage.getItem("neutrophil-presets") || "{}"); } catch (_) { return {}; }
}

function showPresets() {
  const select = $("preset-select");
  select.replaceChildren();
  for (const name of Object.keys(presets()).sort()) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name;
    select.appendChild(option);
  }
}

async function start() {
  $("key").value = sessionStorage.getItem("neutrophil-key") || "";
  $("key").addEventListener("change", () => {
    sessionStorage.setItem("neutrophil-key", $("key").value);
    load();
  });
  $("generate").addEventListener("click", generate);
  $("reset").addEventListener("click", () => setMix({}));
  $("concept-create").addEventListener("click", createConcept);
  $("preset-save").addEventListener("click", () => {
    const name = $("preset-name").value.trim();
    if (!name) return;
    const all = presets();
    all[name] = mix();
    localStorage.setItem("neutrophil-presets", JSON.stringify(all));
    showPresets();
    $("preset-select").value = name;
  });
  $("preset-load").addEventListener("click", () => {
    const m = presets()[$("preset-select").value];
    if (m) setMix(m);
  });
  showPresets();
  await load();
}

async function load() {
  try {
    const state = await (await api("/studio/api/state")).json();
    LIMIT = state.limit;
    MODES = state.modes || MODES;
    $("model").textContent = state.model;
    state.concepts.forEach(addSlider);
    for (const [name, limit] of Object.entries(state.fluent_limits || {})) {
      const mark = document.querySelector(`small[data-fluent="${CSS.escape(name)}"]`);
      if (!mark) continue;
      mark.textContent = limit === null ? "uncalibrated" : `fluent to ±${LIMIT}`;
      mark.title = limit === null
        ? "not calibrated for fluency (a vector file, or a model whose own text is not fluent)"
        : `±${LIMIT} is the strongest setting at which 90% of answers stay fluent ` +
          `(raw strength ${limit}); past it the text falls apart`;
    }
    const box = $("defenses");
    box.replaceChildren();
    for (const d of state.defenses) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.dataset.defense = d;
      label.append(input, " " + (DEFENSE_LABELS[d] || d));
      box.appendChild(label);
    }
    $("status").textContent = "";
    document.body.dataset.ready = "true";
  } catch (e) {
    $("status").textContent = String(e.message);
  }
}

start();
