// soccerspot view: the page. Plain JavaScript, no build step, nothing fetched from elsewhere.
"use strict";

const PREROLL = 3.0;      // seconds shown before an event when it is clicked
const AFTER = 4.0;        // "play around" stops this long after the event
const LANE_COLORS = [
  "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c",
  "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#aaffc3", "#808000", "#ffd8b1", "#7f8cff",
];
const TEAM_COLORS = ["#4d8fff", "#ff9a3c"];  // the task's teams in order (payload `teams`): blue above, orange below
const TOKEN = new URLSearchParams(location.search).get("token");

const state = {
  games: [], key: null, game: null, half: 1, pps: null, items: new Map(), selected: null,
  threshold: 0.3, hiddenClasses: new Set(), showTruth: true, showScores: true, hideEmpty: true,
  stopAt: null, pendingSeek: null, saving: false, dirty: false, nextNew: 0,
};
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------------------------------- helpers

function api(path) {
  if (!TOKEN) return path;
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

function clock(seconds, decimals = 1) {
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  const rest = (s - 60 * m).toFixed(decimals).padStart(decimals ? 3 + decimals : 2, "0");
  return `${m}:${rest}`;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function colorOf(label) {
  const all = state.game ? state.game.all_classes : [];
  const i = all.indexOf(label);
  return LANE_COLORS[(i < 0 ? all.length : i) % LANE_COLORS.length];
}

function halfInfo(half) {
  return state.game.halves.find((h) => h.half === half) || { half, duration: null, fps: 25, video: null };
}

function fps() { return halfInfo(state.half).fps || 25; }

function duration(half) {
  const info = halfInfo(half);
  if (info.duration) return info.duration;
  let end = 60;
  for (const item of state.items.values()) if (item.half === half) end = Math.max(end, item.t + 30);
  return end;
}

// ------------------------------------------------------------------------------------------- items

function buildItems(game) {
  const items = new Map();
  for (const s of game.spots) {
    items.set(s.id, { id: s.id, kind: "spot", half: s.half, t: s.t, label: s.label, confidence: s.confidence,
      team: s.team || "", visibility: "visible", status: "open", orig: { half: s.half, t: s.t, label: s.label, visibility: "visible" } });
  }
  for (const e of game.truth) {
    items.set(e.id, { id: e.id, kind: "truth", half: e.half, t: e.t, label: e.label, confidence: null,
      team: e.team || "", visibility: e.visibility, status: "open", orig: { half: e.half, t: e.t, label: e.label, visibility: e.visibility } });
  }
  let nextNew = 0;
  for (const [id, d] of Object.entries(game.review.decisions || {})) {
    let item = items.get(id);
    if (!item && id.startsWith("n:")) {
      item = { id, kind: "new", confidence: null, orig: null, team: d.team || "" };
      items.set(id, item);
      nextNew = Math.max(nextNew, Number(id.slice(2)) + 1);
    }
    if (!item) continue;
    Object.assign(item, { status: d.status, half: d.half, t: d.position_ms / 1000, label: d.label,
      visibility: d.visibility || "visible" });
  }
  state.nextNew = nextNew;
  return items;
}

function edited(item) {
  const o = item.orig;
  return !!o && (o.half !== item.half || Math.round(o.t * 1000) !== Math.round(item.t * 1000) ||
    o.label !== item.label || o.visibility !== item.visibility);
}

function decisions() {
  const out = {};
  for (const item of state.items.values()) {
    if (item.status === "open" && !edited(item) && item.kind !== "new") continue;
    out[item.id] = { status: item.status, half: item.half, position_ms: Math.round(item.t * 1000),
      label: item.label, visibility: item.visibility };
    if (item.kind !== "truth" && teamIndex(item.team) >= 0) out[item.id].team = item.team;
  }
  return out;
}

// ------------------------------------------------------------------------------------------- teams and hits

function teams() { return (state.game && state.game.teams) || []; }

function teamIndex(team) { return team ? teams().indexOf(team) : -1; }

// the label a spot hits: same half and class (and team, where the task names teams), within the task's tolerance
function hitOf(item) {
  if (item.kind !== "spot") return null;
  const within = state.game.hit_seconds + 1e-6, byTeam = teams().length > 0;
  let best = null;
  for (const o of state.items.values()) {
    if (o.kind !== "truth" || o.status === "rejected" || o.half !== item.half || o.label !== item.label) continue;
    if (byTeam && o.team !== item.team) continue;
    const gap = Math.abs(o.t - item.t);
    if (gap <= within && (!best || gap < Math.abs(best.t - item.t))) best = o;
  }
  return best;
}

function visible(item) {
  if (state.hiddenClasses.has(item.label)) return false;
  if (item.kind === "truth") return state.showTruth;
  if (item.kind === "spot") return item.confidence >= state.threshold || item.status === "accepted";
  return true;
}

function ordered() {
  return [...state.items.values()].filter(visible).sort((a, b) => a.half - b.half || a.t - b.t || a.id.localeCompare(b.id));
}

// ------------------------------------------------------------------------------------------- saving

async function save() {
  if (state.saving) { state.dirty = true; return; }
  state.saving = true;
  state.dirty = false;
  const key = state.key;
  setSaveState("saving", "saving…");
  try {
    const response = await fetch(api("/api/review?key=" + encodeURIComponent(key)), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ decisions: decisions() }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    setSaveState("saved", `saved ${new Date().toLocaleTimeString()} · ${answer.events} events`);
    const row = state.games.find((g) => g.key === key);
    if (row) { row.progress = answer.progress; renderGames(); }
    renderProgress(answer.progress);
  } catch (error) {
    setSaveState("error", "not saved: " + error.message);
  } finally {
    state.saving = false;
    if (state.dirty) save();
  }
}

function setSaveState(cls, text) {
  const node = $("save-state");
  node.className = cls;
  node.textContent = text;
  document.body.dataset.saves = String(Number(document.body.dataset.saves || 0) + (cls === "saved" ? 1 : 0));
}

function renderProgress(progress) {
  if (!progress) {
    let decided = 0, total = 0;
    for (const item of state.items.values()) {
      if (item.kind === "new") continue;
      total += 1;
      if (item.status !== "open") decided += 1;
    }
    progress = { decided, total };
  }
  $("progress").textContent = `${progress.decided} / ${progress.total} reviewed`;
}

// ------------------------------------------------------------------------------------------- video

function videoUrl(half) {
  return api(`/api/video?key=${encodeURIComponent(state.key)}&half=${half}`);
}

function showHalf(half, seekTo = null, play = false) {
  const video = $("video");
  const info = halfInfo(half);
  const changed = state.half !== half || !video.dataset.src;
  state.half = half;
  $("video-problem").hidden = !info.problem;
  $("video-problem").textContent = info.problem || "";
  if (changed && info.video) {
    state.pendingSeek = { t: seekTo, play };
    video.dataset.src = videoUrl(half);
    video.src = video.dataset.src;
  } else if (changed) {  // no video for this half: never leave the other half playing under its timeline
    video.removeAttribute("src");
    video.dataset.src = "";
    video.load();
  } else if (seekTo !== null) {
    seek(seekTo, play);
  }
  if (changed) { state.pps = null; renderTimeline(); }
}

function seek(t, play) {
  const video = $("video");
  video.currentTime = Math.max(0, t);
  if (play) video.play().catch(() => {});
  else video.pause();
  updatePlayhead();
}

function onLoaded() {
  const pending = state.pendingSeek;
  state.pendingSeek = null;
  if (pending && pending.t !== null) seek(pending.t, pending.play);
}

function onTime() {
  const video = $("video");
  if (state.stopAt !== null && video.currentTime >= state.stopAt) {
    video.pause();
    state.stopAt = null;
  }
  updatePlayhead();
}

function updatePlayhead() {
  const t = $("video").currentTime || 0;
  $("clock").textContent = `${state.half} · ${clock(t)}`;
  const head = document.querySelector(".playhead");
  if (!head || !state.pps) return;
  const x = t * state.pps;
  head.style.left = x + "px";
  const scroller = $("track-scroll");
  if (!$("video").paused && (x < scroller.scrollLeft || x > scroller.scrollLeft + scroller.clientWidth - 40)) {
    scroller.scrollLeft = Math.max(0, x - scroller.clientWidth / 4);
  }
}

function scrollIntoTrack(t) {
  const scroller = $("track-scroll");
  const x = t * state.pps;
  if (x < scroller.scrollLeft + 20 || x > scroller.scrollLeft + scroller.clientWidth - 20) {
    scroller.scrollLeft = Math.max(0, x - scroller.clientWidth / 3);
  }
}

// ------------------------------------------------------------------------------------------- actions

function select(id, { seekMode = "preroll" } = {}) {
  const item = state.items.get(id);
  if (!item) return;
  state.selected = id;
  state.stopAt = null;
  const target = seekMode === "exact" ? item.t : item.t - PREROLL;
  if (item.half !== state.half) showHalf(item.half, target, seekMode === "preroll");
  else seek(target, seekMode === "preroll");
  renderTimeline();
  renderInspector();
  scrollIntoTrack(item.t);
}

function step(direction) {
  const list = ordered();
  if (!list.length) return;
  let index = list.findIndex((i) => i.id === state.selected);
  if (index < 0) {
    const now = $("video").currentTime || 0;
    index = direction > 0 ? list.findIndex((i) => i.half > state.half || (i.half === state.half && i.t >= now))
      : list.length - 1 - [...list].reverse().findIndex((i) => i.half < state.half || (i.half === state.half && i.t <= now));
    if (index < 0 || index >= list.length) index = direction > 0 ? 0 : list.length - 1;
  } else {
    index = Math.min(list.length - 1, Math.max(0, index + direction));
  }
  select(list[index].id);
}

function playAround() {
  const item = state.items.get(state.selected);
  if (!item) return;
  if (item.half !== state.half) showHalf(item.half, item.t - PREROLL, true);
  else seek(item.t - PREROLL, true);
  state.stopAt = item.t + AFTER;
}

function change(mutate) {
  const item = state.items.get(state.selected);
  if (!item) return;
  mutate(item);
  renderTimeline();
  renderInspector();
  renderProgress();
  save();
}

function nudge(seconds) {
  change((item) => {
    item.t = Math.max(0, Math.round((item.t + seconds) * 1000) / 1000);
    seek(item.t, false);
  });
}

function cycleClass(direction) {
  change((item) => {
    const all = state.game.all_classes;
    item.label = all[(all.indexOf(item.label) + direction + all.length) % all.length];
  });
}

function insertEvent() {
  if (!state.game) return;
  const t = Math.round(($("video").currentTime || 0) * 1000) / 1000;
  const current = state.items.get(state.selected);
  const lanes = shownLanes();
  const label = current ? current.label : (lanes[0] || state.game.all_classes[0]);
  const id = "n:" + state.nextNew++;
  state.items.set(id, { id, kind: "new", half: state.half, t, label, confidence: null, visibility: "visible",
    status: "accepted", orig: null });
  state.selected = id;
  renderTimeline();
  renderInspector();
  save();
}

function act(action) {
  const actions = {
    prev: () => step(-1), next: () => step(1), around: playAround,
    accept: () => change((i) => { i.status = "accepted"; }),
    reject: () => change((i) => { i.status = "rejected"; }),
    reopen: () => change((i) => { i.status = i.kind === "new" ? "accepted" : "open"; }),
    "back-half": () => nudge(-0.5), "fwd-half": () => nudge(0.5),
    "back-frame": () => nudge(-1 / fps()), "fwd-frame": () => nudge(1 / fps()),
    "class-next": () => cycleClass(1), "class-prev": () => cycleClass(-1),
    visibility: () => change((i) => { i.visibility = i.visibility === "visible" ? "not shown" : "visible"; }),
    insert: insertEvent,
    "zoom-in": () => zoom(2), "zoom-out": () => zoom(0.5), "zoom-fit": () => { state.pps = null; renderTimeline(); },
  };
  if (actions[action]) actions[action]();
}

const KEYS = {
  n: "next", j: "next", p: "prev", k: "prev", Enter: "around", a: "accept", x: "reject", Delete: "reject",
  u: "reopen", "[": "back-half", "]": "fwd-half", ",": "back-frame", ".": "fwd-frame", c: "class-next",
  C: "class-prev", v: "visibility", i: "insert", "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "0": "zoom-fit",
};

function onKey(event) {
  const tag = (event.target.tagName || "").toLowerCase();
  if (event.key === "Escape") { $("help").hidden = true; event.target.blur && event.target.blur(); return; }
  if (tag === "input" || tag === "select" || tag === "textarea" || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "?") { $("help").hidden = !$("help").hidden; return; }
  if (event.key === " ") {
    event.preventDefault();
    const video = $("video");
    state.stopAt = null;
    if (video.paused) video.play().catch(() => {}); else video.pause();
    return;
  }
  const action = KEYS[event.key];
  if (!action) return;
  event.preventDefault();
  act(action);
}

function zoom(factor) {
  const scroller = $("track-scroll");
  const item = state.items.get(state.selected);
  // keep the selected event (else the playhead) where the eye is
  const center = item && item.half === state.half ? item.t : ($("video").currentTime || 0);
  state.pps = Math.min(200, Math.max(fitPps() / 2, (state.pps || fitPps()) * factor));
  renderTimeline();
  scroller.scrollLeft = Math.max(0, center * state.pps - scroller.clientWidth / 2);
}

// ------------------------------------------------------------------------------------------- drawing

function fitPps() {
  const width = Math.max(200, $("track-scroll").clientWidth - 4);
  return width / duration(state.half);
}

function shownLanes() {
  const lanes = state.game.classes.filter((c) => !state.hiddenClasses.has(c));
  const extra = [...state.items.values()].map((i) => i.label).filter((l) => !state.game.classes.includes(l) && !state.hiddenClasses.has(l));
  const all = state.game.all_classes.filter((c) => lanes.includes(c) || extra.includes(c));
  if (!state.hideEmpty) return all;
  const busy = new Set([...state.items.values()].filter((i) => i.half === state.half && visible(i)).map((i) => i.label));
  return all.filter((c) => busy.has(c));
}

function tickStep(pps) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900];
  return steps.find((s) => s * pps >= 70) || 1800;
}

function renderTimeline() {
  const track = $("track"), labels = $("lane-labels");
  track.replaceChildren();
  labels.replaceChildren();
  if (!state.game) return;
  if (!state.pps) state.pps = fitPps();
  const pps = state.pps, half = state.half, end = duration(half), width = Math.ceil(end * pps) + 20;
  track.style.width = width + "px";

  const ruler = el("div", "ruler");
  const every = tickStep(pps);
  for (let t = 0; t <= end; t += every) {
    const tick = el("div", "tick", clock(t, 0));
    tick.style.left = t * pps + "px";
    ruler.appendChild(tick);
  }
  ruler.addEventListener("click", (e) => seek((e.offsetX + (e.target === ruler ? 0 : e.target.offsetLeft)) / pps, false));
  track.appendChild(ruler);
  labels.appendChild(el("div", "ruler-space"));

  const curves = (state.game.scores || {})[String(half)];
  const lanes = shownLanes();
  for (const label of lanes) {
    const color = colorOf(label);
    const lane = el("div", "lane");
    lane.dataset.label = label;
    lane.addEventListener("click", (e) => { if (e.target === lane) seek(e.offsetX / pps, false); });
    if (teams().length) lane.appendChild(el("div", "centre-line"));
    if (state.showScores && curves && curves.classes[label]) lane.appendChild(curve(curves.times, curves.classes[label], color, end, pps));
    const items = [...state.items.values()].filter((i) => i.half === half && i.label === label && visible(i));
    let spots = 0, truths = 0;
    for (const item of items) {
      lane.appendChild(marker(item, color, pps));
      if (item.kind === "spot") spots += 1; else truths += 1;
    }
    track.appendChild(lane);
    const name = el("div", "lane-label");
    const swatch = el("span", "swatch");
    swatch.style.background = color;
    name.append(swatch, el("span", "name", label), el("span", "n", `${spots} ▮` + (truths ? ` · ${truths} ◆` : "")));
    name.title = `${label}: ${spots} spots shown, ${truths} labels`;
    labels.appendChild(name);
  }
  const replays = (state.game.replays || []).filter((r) => r.half === half);
  if (replays.length) {
    const lane = el("div", "lane replays");
    for (const r of replays) lane.append(...replayMarks(r, pps));
    track.appendChild(lane);
    const name = el("div", "lane-label");
    name.append(el("span", "", "Replays → origin"), el("span", "n", String(replays.length)));
    labels.appendChild(name);
  }
  if (!lanes.length && !replays.length) {
    const empty = el("div", "lane-label", "nothing to show: lower the threshold or tick classes");
    labels.appendChild(empty);
  }
  track.appendChild(el("div", "playhead"));
  renderClassFilters();
  renderHalfTabs();
  updatePlayhead();
}

function curve(times, values, color, end, pps) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "curve");
  svg.setAttribute("viewBox", `0 0 ${end} 1`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.style.width = end * pps + "px";
  const line = document.createElementNS(ns, "polyline");
  let points = "";
  for (let i = 0; i < times.length; i++) points += `${times[i]},${(1 - values[i]).toFixed(3)} `;
  line.setAttribute("points", points);
  line.setAttribute("stroke", color);
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.appendChild(line);
  return svg;
}

function marker(item, color, pps) {
  let node;
  const side = teamIndex(item.team);
  if (side >= 0) color = TEAM_COLORS[side % TEAM_COLORS.length];
  if (item.kind === "spot") {
    node = el("div", "spot");
    const tallest = side >= 0 ? 17 : 24;  // with teams, a spot grows from the lane's centre line
    node.style.height = Math.max(4, Math.round(item.confidence * tallest)) + "px";
    node.style.background = color;
    node.style.color = color;
    node.style.opacity = String(0.45 + 0.55 * item.confidence);
    const hit = state.game.has_labels ? hitOf(item) : null;
    if (state.game.has_labels) node.classList.add(hit ? "hit" : "miss");
    node.title = `${item.label}${item.team ? " · " + item.team : ""} · ${item.half} - ${clock(item.t)} · confidence ` +
      `${item.confidence.toFixed(2)}${state.game.has_labels ? (hit ? " · hits a label" : " · hits no label") : ""}`;
  } else if (item.kind === "truth") {
    node = el("div", "truth" + (item.visibility === "not shown" ? " unshown" : ""));
    node.style.borderColor = color;
    node.style.background = color;
    node.title = `label: ${item.label}${item.team ? " · " + item.team : ""} · ${item.half} - ${clock(item.t)}` +
      `${item.visibility === "not shown" ? " · not shown" : ""}`;
  } else {
    node = el("div", "added");
    node.style.background = color;
    node.title = `added: ${item.label} · ${item.half} - ${clock(item.t)}`;
  }
  if (side >= 0) node.classList.add(side === 0 ? "team-a" : "team-b");
  node.classList.add(item.status);
  if (edited(item)) node.classList.add("edited");
  if (item.id === state.selected) node.classList.add("selected");
  node.dataset.id = item.id;
  node.dataset.kind = item.kind;
  node.dataset.label = item.label;
  node.style.left = item.t * pps + "px";
  node.addEventListener("click", (e) => { e.stopPropagation(); select(item.id); });
  return node;
}

function replayMarks(replay, pps) {
  const bar = el("div", "replay");
  bar.style.left = replay.start * pps + "px";
  bar.style.width = Math.max(3, (replay.end - replay.start) * pps) + "px";
  bar.title = `replay ${clock(replay.start)}–${clock(replay.end)}${replay.camera ? " · " + replay.camera : ""}`;
  bar.addEventListener("click", (e) => { e.stopPropagation(); seek(replay.start, true); });
  const marks = [bar];
  const o = replay.origin;
  if (o && o.half === replay.half) {
    const origin = el("div", "origin");
    origin.style.left = o.t * pps + "px";
    origin.title = `origin of the replay at ${clock(replay.start)}: ${o.label || "action"} ${clock(o.t)}` +
      (o.score !== undefined ? ` (score ${o.score.toFixed(2)})` : "");
    origin.addEventListener("click", (e) => { e.stopPropagation(); seek(o.t - PREROLL, true); });
    const line = el("div", "link-line");
    const a = Math.min(o.t, replay.start) * pps, b = Math.max(o.t, replay.start) * pps;
    line.style.left = a + "px";
    line.style.width = Math.max(0, b - a) + "px";
    marks.push(line, origin);
  }
  return marks;
}

function renderHalfTabs() {
  const tabs = $("half-tabs");
  tabs.replaceChildren();
  for (const h of state.game.halves) {
    const button = el("button", h.half === state.half ? "current" : "", `half ${h.half}`);
    button.type = "button";
    button.addEventListener("click", () => showHalf(h.half, 0, false));
    tabs.appendChild(button);
  }
}

function renderClassFilters() {
  const list = $("class-filters");
  list.replaceChildren();
  const counts = {};
  for (const item of state.items.values()) {
    if (item.kind === "spot" && visible(item)) counts[item.label] = (counts[item.label] || 0) + 1;
  }
  const silent = new Set(state.game.silent || []);
  for (const label of state.game.classes) {
    if (silent.has(label) && !list.querySelector(".silent-head")) {
      const head = el("li", "silent-head", "silent in this game");
      head.title = `no label, no spot at confidence ≥ ${state.game.shown_confidence}, no score ≥ the floor`;
      list.appendChild(head);
    }
    const li = el("li", silent.has(label) ? "silent" : "");
    const box = el("input");
    box.type = "checkbox";
    box.checked = !state.hiddenClasses.has(label);
    box.dataset.label = label;
    box.addEventListener("change", () => {
      if (box.checked) state.hiddenClasses.delete(label); else state.hiddenClasses.add(label);
      renderTimeline();
    });
    const swatch = el("span", "swatch");
    swatch.style.background = colorOf(label);
    const name = el("label", "", label);
    name.addEventListener("click", () => box.click());
    li.append(box, swatch, name, el("span", "count", String(counts[label] || 0)));
    list.appendChild(li);
  }
}

function renderInspector() {
  const item = state.items.get(state.selected);
  $("selection").hidden = !item;
  $("selection-empty").hidden = !!item;
  if (!item) return;
  $("sel-kind").textContent = { spot: "Spot", truth: "Label", new: "Added event" }[item.kind];
  const status = $("sel-status");
  status.className = "badge " + item.status;
  status.textContent = item.status === "open" ? "not reviewed" : item.status;
  const select = $("sel-class");
  if (select.options.length !== state.game.all_classes.length) {
    select.replaceChildren(...state.game.all_classes.map((c) => { const o = el("option", "", c); o.value = c; return o; }));
  }
  select.value = item.label;
  $("sel-time").textContent = `${item.half} - ${clock(item.t, 2)}`;
  $("sel-moved").textContent = item.orig && edited(item) ?
    `(was ${item.orig.label === item.label ? "" : item.orig.label + " "}${clock(item.orig.t, 2)})` : "";
  const twin = hitOf(item);
  $("sel-twin").hidden = !twin;
  $("sel-twin").textContent = twin ? `hits the label at ${clock(twin.t, 2)} (within ±${state.game.hit_seconds} s` +
    `${teams().length ? ", same team" : ""}): accepting confirms it` : "";
  $("sel-team-row").hidden = !item.team;
  $("sel-team").textContent = item.team ? `${item.team} (the side of the video, as the labels name it)` : "";
  $("sel-confidence-row").hidden = item.confidence === null;
  $("sel-confidence").textContent = item.confidence === null ? "" : item.confidence.toFixed(3);
  $("sel-visibility").textContent = item.visibility === "not shown" ? "not shown" : "shown";
}

function renderTeamLegend() {
  const box = $("team-legend");
  box.replaceChildren();
  box.hidden = !teams().length;
  teams().forEach((team, i) => {
    const mark = el("i", "lg-team");
    mark.style.background = TEAM_COLORS[i % TEAM_COLORS.length];
    box.append(mark, document.createTextNode(`${team}: ${i === 0 ? "above" : "below"} the line`));
  });
  if (teams().length) box.title = "teams are named by their side of the video, as the labels name them";
  $("hit-text").textContent = `hits no label (±${state.game.hit_seconds} s, same class` +
    (teams().length ? " and team)" : ")");
  $("hit-legend").hidden = !state.game.has_labels;
}

function renderGames() {
  const list = $("games");
  const filter = $("game-filter").value.toLowerCase();
  list.replaceChildren();
  for (const g of state.games) {
    const classes = Object.entries(g.per_class).map(([c, n]) => `${c} ${n}`).join(", ");
    if (filter && !g.key.toLowerCase().includes(filter) && !classes.toLowerCase().includes(filter)) continue;
    const li = el("li", g.key === state.key ? "current" : "");
    li.dataset.key = g.key;
    li.title = classes || "no spots";
    const p = g.progress;
    li.append(el("span", "key", g.key),
      el("span", "meta", `${g.spots} spots${g.has_labels ? " · labels" : ""}${p ? ` · ${p.decided}/${p.total} reviewed` : ""}`),
      el("span", "classes", classes));
    const bar = el("div", "bar");
    const fill = el("span");
    fill.style.width = (p && p.total ? (100 * p.decided) / p.total : 0) + "%";
    bar.appendChild(fill);
    li.appendChild(bar);
    li.addEventListener("click", () => loadGame(g.key));
    list.appendChild(li);
  }
}

function renderPaths(listing) {
  const box = $("paths");
  box.replaceChildren();
  const add = (name, value) => { const p = el("div"); p.append(el("b", "", name + ": "), document.createTextNode(value)); box.appendChild(p); };
  add("results", listing.root);
  if (listing.labels_root) add("labels & videos", listing.labels_root);
  if (state.game) add("corrections", state.game.review.labels + (state.game.review.in_place ? " (over the original)" : ""));
}

// ------------------------------------------------------------------------------------------- loading

async function getJson(path) {
  const response = await fetch(api(path));
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

let listing = null;

async function loadGames() {
  listing = await getJson("/api/games");
  state.games = listing.games;
  renderGames();
  renderPaths(listing);
  const wanted = decodeURIComponent((location.hash.match(/key=([^&]+)/) || [])[1] || "");
  const first = state.games.find((g) => g.key === wanted) || state.games[0];
  if (first) await loadGame(first.key);
}

async function loadGame(key) {
  const game = await getJson("/api/game?key=" + encodeURIComponent(key));
  state.key = key;
  state.game = game;
  state.items = buildItems(game);
  state.selected = null;
  state.pps = null;
  history.replaceState(null, "", location.pathname + location.search + "#key=" + encodeURIComponent(key));
  $("game-title").textContent = key;
  document.body.classList.toggle("teams", teams().length > 0);
  renderTeamLegend();
  $("problems").replaceChildren(...game.problems.map((p) => el("li", "", p)));
  const video = $("video");
  delete video.dataset.src;
  const firstHalf = game.halves.length ? game.halves[0].half : 1;
  state.half = -1;
  showHalf(firstHalf, 0, false);
  renderGames();
  renderPaths(listing);
  renderInspector();
  renderProgress(null);
  document.body.dataset.ready = key;
}

function init() {
  $("video").addEventListener("loadedmetadata", onLoaded);
  $("video").addEventListener("timeupdate", onTime);
  $("video").addEventListener("seeked", updatePlayhead);
  document.addEventListener("keydown", onKey);
  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => { act(button.dataset.action); button.blur(); });
  }
  $("threshold").addEventListener("input", (e) => {
    state.threshold = Number(e.target.value);
    $("threshold-value").textContent = state.threshold.toFixed(2);
    renderTimeline();
  });
  $("show-truth").addEventListener("change", (e) => { state.showTruth = e.target.checked; renderTimeline(); });
  $("show-scores").addEventListener("change", (e) => { state.showScores = e.target.checked; renderTimeline(); });
  $("hide-empty").addEventListener("change", (e) => { state.hideEmpty = e.target.checked; renderTimeline(); });
  $("classes-all").addEventListener("click", () => { state.hiddenClasses.clear(); renderTimeline(); });
  $("classes-none").addEventListener("click", () => { state.hiddenClasses = new Set(state.game.all_classes); renderTimeline(); });
  $("sel-class").addEventListener("change", (e) => { change((i) => { i.label = e.target.value; }); e.target.blur(); });
  $("game-filter").addEventListener("input", renderGames);
  $("help-button").addEventListener("click", () => { $("help").hidden = !$("help").hidden; });
  $("help-close").addEventListener("click", () => { $("help").hidden = true; });
  window.addEventListener("resize", () => { state.pps = null; if (state.game) renderTimeline(); });
  $("track-scroll").addEventListener("wheel", (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    zoom(e.deltaY < 0 ? 1.25 : 0.8);
  }, { passive: false });
  loadGames().catch((error) => { $("game-title").textContent = "cannot load: " + error.message; });
}

document.addEventListener("DOMContentLoaded", init);
