"""The monitor's one web page: live stream, alarm banner, event log, figures.

Plain HTML, CSS and JavaScript with no outside resources (the page works on an isolated
network). The script and style are inline and allowed by their hashes in the
Content-Security-Policy (:data:`CSP`), which forbids everything else; event data reaches the
page through ``textContent`` only. A ``?token=`` in the page's address is passed on to every
request the page makes (``<img>`` and ``EventSource`` cannot send headers).
"""

from __future__ import annotations

import base64
import hashlib

STYLE = """
body{font:14px system-ui,sans-serif;margin:0;background:#15181c;color:#e8e8e8}
header{display:flex;align-items:center;gap:1em;padding:.6em 1em;background:#0d0f12}
h1{font-size:1.1em;margin:0;font-weight:600}
#banner{flex:1;padding:.5em 1em;border-radius:6px;font-weight:700;font-size:1.2em}
#banner.idle{background:#4a4f57}
#banner.ok{background:#1f7a3a}
#banner.alarm{background:#c0392b}
#banner.calib{background:#2c5d8a}
main{display:grid;grid-template-columns:minmax(320px,3fr) minmax(300px,2fr);gap:1em;padding:1em}
.panel{background:#1d2126;border-radius:6px;padding:.6em}
.views{display:flex;gap:.5em;flex-wrap:wrap}
.views img{width:100%;max-width:640px;min-width:240px;image-rendering:pixelated;
 background:#000;flex:1}
#diff[hidden]{display:none}
dl{display:grid;grid-template-columns:auto 1fr;gap:.2em .8em;margin:.4em 0}
dt{color:#9aa3ad}dd{margin:0;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25em .4em;border-bottom:1px solid #2c3138;vertical-align:middle}
th{color:#9aa3ad;font-weight:500}
tr.alarm td:nth-child(2){color:#ff6b5b;font-weight:700}
tr.cleared td:nth-child(2){color:#5fd38a}
tr.gap td:nth-child(2){color:#f0c040}
tr.calibrated td:nth-child(2){color:#7fb2e5}
td img{height:56px;image-rendering:pixelated;display:block}
#log{max-height:70vh;overflow:auto}
label{cursor:pointer;user-select:none}
.note{color:#9aa3ad;font-size:.9em}
"""

SCRIPT = """
"use strict";
const token = new URLSearchParams(window.location.search).get("token");
function api(path, extra) {
  const url = new URL(path, window.location.href);
  for (const [key, value] of Object.entries(extra || {})) url.searchParams.set(key, value);
  if (token) url.searchParams.set("token", token);
  return url.pathname + url.search;
}
const $ = (id) => document.getElementById(id);
function put(id, value) {
  $(id).textContent = value === null || value === undefined ? "\\u2013" : String(value);
}
function round(value, digits) {
  return value === null || value === undefined ? null : Number(value).toFixed(digits);
}
function setBanner(status) {
  const banner = $("banner");
  const alarmed = (status.tracks || []).filter((t) => t.alarmed).map((t) => "#" + t.track);
  let kind = "ok";
  let words = status.state === "ended" ? "source ended \\u00b7 no alarm" : "no gas detected";
  if (status.alarm) {
    kind = "alarm";
    words = "GAS ALARM" + (alarmed.length ? " \\u00b7 track " + alarmed.join(", ") : "");
  } else if (status.state === "calibrating") {
    kind = "calib";
    words = (status.calibration || {}).message || "calibrating";
  } else if (status.frame === null || status.state === "starting") {
    kind = "idle";
    words = "waiting for frames";
  } else if (status.state === "failed") {
    kind = "idle";
    words = "monitor stopped on an error";
  }
  banner.className = kind;
  banner.textContent = words;
}
function showTracks(tracks) {
  const body = $("tracks");
  body.replaceChildren();
  for (const t of tracks || []) {
    const row = body.insertRow();
    for (const value of ["#" + t.track, t.alarmed ? "alarm" : "pending",
      round(t.peak_score, 2), (t.box || []).map((v) => Math.round(v)).join(", "),
      round(t.start_time, 1) + " s"]) row.insertCell().textContent = value;
  }
}
function show(status) {
  setBanner(status);
  const model = status.model || {};
  put("model", [model.backbone, model.clip_len ? "K=" + model.clip_len : null, model.mode,
    model.checkpoint].filter(Boolean).join(" \\u00b7 "));
  put("source", status.source + (status.source_fps ? " (" + status.source_fps + " fps)" : ""));
  put("state", status.state);
  put("frame", status.frame === null ? null : status.frame + " (" + round(status.time, 2) + " s)");
  put("fps", round(status.fps, 1));
  put("latency", status.latency_ms === null ? null : round(status.latency_ms, 0) + " ms");
  put("lag", status.lag_frames);
  put("viewers", status.viewers);
  put("calibration", (status.calibration || {}).message);
  showTracks(status.tracks);
  $("conn").textContent = "";
}
async function refresh() {
  try {
    const response = await fetch(api("/api/status"), {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    show(await response.json());
  } catch (err) {
    $("conn").textContent = "server unreachable (" + err.message + ")";
  }
}
const seen = new Set();
function addEvent(event) {
  if (seen.has(event.id)) return;
  seen.add(event.id);
  const row = document.createElement("tr");
  row.className = event.event;
  row.dataset.id = event.id;
  const score = event.peak_score === undefined ? null : round(event.peak_score, 2);
  const clock = (event.wall_time || "").replace("T", " ").slice(0, 23);
  const values = [event.id, event.event, event.time === undefined ? null : round(event.time, 2),
    event.track === undefined ? null : "#" + event.track, score, event.frame, clock];
  for (const value of values) {
    row.insertCell().textContent = value === null || value === undefined ? "" : String(value);
  }
  const picture = row.insertCell();
  if (event.thumbnail) {
    const img = new Image();
    img.src = api(event.thumbnail);
    img.alt = "frame " + event.frame;
    picture.append(img);
  }
  const body = $("events");
  body.prepend(row);
  while (body.rows.length > 500) body.deleteRow(-1);
}
function start() {  // after "load": an endless stream would keep the page loading forever
  const feed = new EventSource(api("/api/events/stream", {after: 0}));
  for (const kind of ["alarm", "cleared", "gap", "calibrated"]) {
    feed.addEventListener(kind, (message) => {
      addEvent(JSON.parse(message.data));
      refresh();
    });
  }
  feed.addEventListener("state", (message) => show(JSON.parse(message.data)));
  $("stream").src = api("/stream.mjpg");
}
$("difference").addEventListener("change", (change) => {
  const diff = $("diff");
  diff.hidden = !change.target.checked;
  if (change.target.checked) diff.src = api("/stream.mjpg", {view: "diff"});
  else diff.removeAttribute("src");
});
if (document.readyState === "complete") start();
else window.addEventListener("load", start);
refresh();
setInterval(refresh, 1000);
"""

BODY = """
<header><h1>iodvideo monitor</h1><div id="banner" class="idle">connecting\u2026</div>
<span id="conn" class="note"></span></header>
<main>
<section class="panel">
<div class="views"><img id="stream" alt="live annotated stream">
<img id="diff" alt="frame difference" hidden></div>
<p><label><input type="checkbox" id="difference"> frame difference</label>
<span class="note">boxes: score and track number; ALARM frame while an alarm is on</span></p>
<dl>
<dt>model</dt><dd id="model">\u2013</dd><dt>source</dt><dd id="source">\u2013</dd>
<dt>state</dt><dd id="state">\u2013</dd><dt>frame</dt><dd id="frame">\u2013</dd>
<dt>detector fps</dt><dd id="fps">\u2013</dd><dt>latency</dt><dd id="latency">\u2013</dd>
<dt>lag (frames)</dt><dd id="lag">\u2013</dd><dt>viewers</dt><dd id="viewers">\u2013</dd>
<dt>calibration</dt><dd id="calibration">\u2013</dd>
</dl>
<h2>current tracks</h2>
<table><thead><tr><th>track</th><th>state</th><th>peak</th><th>box</th><th>since</th></tr>
</thead><tbody id="tracks"></tbody></table>
</section>
<section class="panel"><h2>events <span class="note">newest first</span></h2><div id="log">
<table><thead><tr><th>id</th><th>event</th><th>time s</th><th>track</th><th>score</th>
<th>frame</th><th>wall clock (UTC)</th><th>frame that raised it</th></tr></thead>
<tbody id="events"></tbody></table></div></section>
</main>
"""


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


PAGE = (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>iodvideo monitor</title><style>{STYLE}</style></head>\n<body>{BODY}"
        f"<script>{SCRIPT}</script></body></html>\n")

CSP = ("default-src 'none'; img-src 'self'; connect-src 'self'; "
       f"script-src '{_sha256(SCRIPT)}'; style-src '{_sha256(STYLE)}'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
