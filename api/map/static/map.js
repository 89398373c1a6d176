// asset-tag live map: the floor plan, gateways and zones from REST; asset positions and alerts from the live
// WebSockets (snapshot first, then every published fix). Plain ES module, no build step, no external resources.

const SVG_NS = "http://www.w3.org/2000/svg";
const PAGE_SIZE = 500;
const STALE_AFTER_MS = 60_000;
const LABELS_UP_TO = 15; // more assets than this: names only on hover, or the plan drowns in text

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

// The key may come in the URL (what `assettag demo` prints); keep it for this browser, then take it out of the
// address bar so it is not copied around with the link.
let apiKey = params.get("api_key") || localStorage.getItem("assettag.apiKey") || "";
if (params.has("api_key")) {
  localStorage.setItem("assettag.apiKey", apiKey);
  params.delete("api_key");
  history.replaceState(null, "", `${location.pathname}${params.size ? `?${params}` : ""}`);
}

const state = {
  site: null,
  height: 0, // site frame is y-north; SVG is y-down: svgY = height - y
  assetsByTag: new Map(), // tag_id -> {id, name}
  markers: new Map(), // tag_id -> {group, ts, x, y}
  alerts: new Map(), // alert id -> alert
  zoneEvents: [], // newest first, at most ZONE_EVENTS_SHOWN
  sockets: [],
  generation: 0, // bumps on site change, so callbacks of old sockets do nothing
};
window.assetTagMap = state; // for people poking around in the console (and the browser tests)

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path) {
  const response = await fetch(path, { headers: { "X-API-Key": apiKey, Accept: "application/json" } });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = body.detail || body.title || detail;
    } catch { /* not JSON: keep the status text */ }
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

async function apiAll(path) {
  const items = [];
  const sep = path.includes("?") ? "&" : "?";
  for (let offset = 0; ; offset += PAGE_SIZE) {
    const page = await api(`${path}${sep}limit=${PAGE_SIZE}&offset=${offset}`);
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) return items;
  }
}

function svg(tag, attrs = {}, parent = null) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (parent) parent.appendChild(el);
  return el;
}

function setStatus(kind, text) {
  const status = $("status");
  status.dataset.state = kind;
  status.textContent = text;
}

function showMessage(text) {
  const message = $("message");
  message.hidden = !text;
  message.textContent = text || "";
}

function askForKey(reason) {
  setStatus("error", reason);
  const form = $("key-form");
  form.hidden = false;
  form.onsubmit = (event) => {
    event.preventDefault();
    apiKey = $("key-input").value.trim();
    localStorage.setItem("assettag.apiKey", apiKey);
    form.hidden = true;
    start();
  };
}

// --- site frame ---------------------------------------------------------------------------------------------

const METRES_PER_DEG_LAT = 110_540;

function gatewayXY(gateway, site) {
  if (gateway.x != null && gateway.y != null) return [gateway.x, gateway.y];
  const x = (gateway.lon - site.origin_lon) * 111_320 * Math.cos((site.origin_lat * Math.PI) / 180);
  return [x, (gateway.lat - site.origin_lat) * METRES_PER_DEG_LAT];
}

function ringsOf(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return [geometry.coordinates[0]];
  if (geometry.type === "MultiPolygon") return geometry.coordinates.map((polygon) => polygon[0]);
  return [];
}

function extent(site, gatewayPoints, zones) {
  if (site.width_m && site.height_m) return { minX: 0, minY: 0, maxX: site.width_m, maxY: site.height_m };
  const xs = [0], ys = [0];
  for (const [x, y] of gatewayPoints) { xs.push(x); ys.push(y); }
  for (const zone of zones) {
    for (const ring of ringsOf(zone.geometry)) for (const [x, y] of ring) { xs.push(x); ys.push(y); }
    if (zone.geometry?.type === "Point") {
      const [x, y] = zone.geometry.coordinates, r = zone.properties?.radius_m || 0;
      xs.push(x - r, x + r); ys.push(y - r, y + r);
    }
  }
  return { minX: Math.min(...xs), minY: Math.min(...ys), maxX: Math.max(...xs, 10), maxY: Math.max(...ys, 10) };
}

const toSvgY = (y) => state.height - y;

// Floor plans are stored SVG drawn in site metres; only their shapes are used, never scripts or handlers.
function sanitisedPlan(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = doc.documentElement;
  if (!root || root.nodeName === "parsererror") return null;
  root.querySelectorAll("script, foreignObject, iframe").forEach((el) => el.remove());
  for (const el of [root, ...root.querySelectorAll("*")]) {
    for (const attr of [...el.attributes]) {
      const value = attr.value.trim().toLowerCase();
      if (attr.name.startsWith("on") || value.startsWith("javascript:") || (attr.name.endsWith("href") && !value.startsWith("#"))) {
        el.removeAttribute(attr.name);
      }
    }
  }
  const group = document.createElementNS(SVG_NS, "g");
  for (const child of [...root.childNodes]) group.appendChild(document.importNode(child, true));
  return group;
}

function drawPlan(box, planSvg) {
  const plan = $("plan");
  plan.replaceChildren();
  const margin = Math.max(2, 0.04 * Math.max(box.maxX - box.minX, box.maxY - box.minY));
  const width = box.maxX - box.minX, height = box.maxY - box.minY;
  state.height = box.maxY + box.minY; // so that svgY(minY) = maxY and svgY(maxY) = minY
  $("map").setAttribute("viewBox", `${box.minX - margin} ${box.minY - margin} ${width + 2 * margin} ${height + 2 * margin}`);
  const grid = svg("g", { class: "grid" }, plan);
  const step = width > 200 ? 50 : 10;
  for (let x = Math.ceil(box.minX / step) * step; x <= box.maxX; x += step) {
    svg("line", { x1: x, x2: x, y1: box.minY, y2: box.maxY }, grid);
  }
  for (let y = Math.ceil(box.minY / step) * step; y <= box.maxY; y += step) {
    svg("line", { x1: box.minX, x2: box.maxX, y1: toSvgY(y), y2: toSvgY(y) }, grid);
  }
  if (planSvg) {
    const drawing = sanitisedPlan(planSvg);
    if (drawing) {
      drawing.setAttribute("transform", `matrix(1 0 0 -1 0 ${state.height})`);
      plan.appendChild(drawing);
    }
  }
  svg("rect", { class: "outline", x: box.minX, y: box.minY, width, height }, plan);
}

function drawZones(zones) {
  const layer = $("zones");
  layer.replaceChildren();
  for (const zone of zones) {
    const props = zone.properties || {};
    const cls = `zone ${props.kind === "restricted" ? "restricted" : ""}`;
    let cx, cy, shape;
    if (zone.geometry?.type === "Point") {
      [cx, cy] = zone.geometry.coordinates;
      shape = svg("circle", { class: cls, cx, cy: toSvgY(cy), r: props.radius_m || 1 }, layer);
    } else {
      const rings = ringsOf(zone.geometry);
      if (!rings.length) continue;
      for (const ring of rings) {
        shape = svg("polygon", { class: cls, points: ring.map(([x, y]) => `${x},${toSvgY(y)}`).join(" ") }, layer);
      }
      const ring = rings[0];
      cx = ring.reduce((sum, p) => sum + p[0], 0) / ring.length;
      cy = ring.reduce((sum, p) => sum + p[1], 0) / ring.length;
    }
    shape.dataset.zoneId = zone.id;
    svg("title", {}, shape).textContent = props.name || "zone";
    svg("text", { class: "zone-label", x: cx, y: toSvgY(cy) }, layer).textContent = props.name || "";
  }
}

function drawGateways(gateways, site) {
  const layer = $("gateways");
  layer.replaceChildren();
  for (const gateway of gateways) {
    const [x, y] = gatewayXY(gateway, site);
    const mark = svg("rect", {
      class: `gw ${gateway.status === "offline" ? "offline" : ""}`, x: x - 0.4, y: toSvgY(y) - 0.4, width: 0.8, height: 0.8,
    }, layer);
    mark.dataset.gatewayId = gateway.gateway_id;
    svg("title", {}, mark).textContent = `${gateway.name || gateway.gateway_id} (${gateway.status})`;
    svg("text", { class: "gw-label", x: x + 0.6, y: toSvgY(y) - 0.5 }, layer).textContent = gateway.gateway_id;
  }
}

// --- live assets --------------------------------------------------------------------------------------------

function assetName(fix) {
  return state.assetsByTag.get(fix.tag_id)?.name || fix.tag_id;
}

function applyFix(fix) {
  if (!fix || typeof fix.x !== "number" || typeof fix.y !== "number") return;
  if (state.site && fix.site_id && fix.site_id !== state.site.id) return; // the tag is on another site now
  const ts = Date.parse(fix.ts) || Date.now();
  let marker = state.markers.get(fix.tag_id);
  if (marker && ts < marker.ts) return; // a fix older than what is shown (e.g. raced with the snapshot)
  if (!marker) {
    const group = svg("g", { class: "asset" }, $("assets"));
    group.dataset.tag = fix.tag_id;
    svg("circle", { class: "accuracy", r: 1 }, group);
    svg("circle", { class: "dot", r: 0.55 }, group);
    svg("title", {}, group);
    if ((state.assetsByTag.size || state.markers.size + 1) <= LABELS_UP_TO) {
      svg("text", { class: "label", x: 0.8, y: -0.6 }, group);
    }
    marker = { group, ts: 0 };
    state.markers.set(fix.tag_id, marker);
  }
  const { group } = marker;
  marker.ts = ts;
  marker.x = fix.x;
  marker.y = fix.y;
  if (fix.asset_id) group.dataset.assetId = fix.asset_id;
  group.dataset.x = fix.x.toFixed(2);
  group.dataset.y = fix.y.toFixed(2);
  group.style.transform = `translate(${fix.x}px, ${toSvgY(fix.y)}px)`;
  group.classList.remove("stale");
  group.querySelector(".accuracy").setAttribute("r", Math.max(0.3, fix.accuracy_m || 0));
  const name = assetName(fix);
  group.querySelector("title").textContent =
    `${name} · ±${(fix.accuracy_m ?? 0).toFixed(1)} m · ${fix.method || ""} · ${fix.gateway_count ?? "?"} gateways · ${fix.ts}`;
  const label = group.querySelector(".label");
  if (label) label.textContent = name;
  markAlerting(group);
}

function markAlerting(group) {
  const assetId = group.dataset.assetId;
  const alerting = [...state.alerts.values()].some((alert) => alert.asset_id && alert.asset_id === assetId);
  group.classList.toggle("alerting", alerting);
}

function markStale() {
  const now = Date.now();
  for (const marker of state.markers.values()) marker.group.classList.toggle("stale", now - marker.ts > STALE_AFTER_MS);
}

function updateCounts() {
  const gateways = $("gateways").querySelectorAll(".gw").length;
  const zones = $("zones").querySelectorAll(".zone").length;
  $("counts").textContent = `${state.markers.size} assets located · ${gateways} gateways · ${zones} zones`;
}

// --- alerts -------------------------------------------------------------------------------------------------

function applyAlert(alert, fresh) {
  if (!alert || !alert.id) return;
  if (alert.status === "resolved") state.alerts.delete(alert.id);
  else state.alerts.set(alert.id, { ...state.alerts.get(alert.id), ...alert, fresh });
}

function renderAlerts() {
  const list = $("alerts");
  const open = [...state.alerts.values()].sort((a, b) => (b.opened_at || "").localeCompare(a.opened_at || ""));
  list.replaceChildren();
  for (const alert of open) {
    const item = document.createElement("li");
    item.dataset.alertId = alert.id;
    item.dataset.severity = alert.severity || "warning";
    if (alert.fresh) item.classList.add("fresh");
    const sev = document.createElement("span");
    sev.className = "sev";
    sev.textContent = alert.severity || "alert";
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = alert.message || alert.kind || "alert";
    const meta = document.createElement("div");
    meta.className = "meta";
    const when = alert.opened_at ? new Date(alert.opened_at).toLocaleTimeString() : "";
    meta.textContent = [when, alert.status, alert.count > 1 ? `×${alert.count}` : ""].filter(Boolean).join(" · ");
    item.append(sev, text, meta);
    list.appendChild(item);
    alert.fresh = false;
  }
  if (!open.length) {
    const empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = "No open alerts.";
    list.appendChild(empty);
  }
  $("alert-count").textContent = String(open.length);
  for (const marker of state.markers.values()) markAlerting(marker.group);
}

// --- sockets ------------------------------------------------------------------------------------------------

function openSocket(path, onMessage, generation, attempt = 0) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("api_key", apiKey);
  const socket = new WebSocket(url);
  state.sockets.push(socket);
  socket.onopen = () => { attempt = 0; refreshStatus(); };
  socket.onmessage = (event) => {
    if (generation !== state.generation) return;
    onMessage(JSON.parse(event.data));
  };
  socket.onclose = (event) => {
    state.sockets = state.sockets.filter((s) => s !== socket);
    if (generation !== state.generation) return;
    if (event.code === 4401) return askForKey("API key rejected");
    if (event.code === 4404) return setStatus("error", event.reason || "not found");
    refreshStatus();
    const delay = Math.min(10_000, 500 * 2 ** attempt); // 1013 (too slow) and network drops: reconnect, re-snapshot
    setTimeout(() => generation === state.generation && openSocket(path, onMessage, generation, attempt + 1), delay);
  };
}

function refreshStatus() {
  const open = state.sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  if (open === 2) setStatus("live", "live");
  else setStatus(open ? "connecting" : "offline", open ? "connecting…" : "reconnecting…");
}

function onLocations(message) {
  if (message.type === "snapshot" || message.type === "locations") {
    for (const fix of message.locations || []) applyFix(fix);
    updateCounts();
  }
}

// Items of an "alerts" message are what the alert stage publishes: {"type": "alert", "action", "alert": {...}} for
// an alert opened, repeated, acknowledged or resolved, and {"type": "zone_event", ...} for enters and exits.
function onAlerts(message) {
  if (message.type === "snapshot") {
    state.alerts.clear();
    for (const alert of message.alerts || []) applyAlert(alert, false);
  } else if (message.type === "alerts") {
    for (const event of message.alerts || []) {
      if (event.type === "zone_event") {
        flashZone(event.zone_id);
        addZoneEvent(event);
      } else applyAlert(event.type === "alert" && event.alert ? event.alert : event, true);
    }
  }
  renderAlerts();
}

const ZONE_EVENTS_SHOWN = 20;

// Why the membership decided (the event's `reason`, see GET /docs: ZoneEvent), in words, with its evidence.
function zoneEventWhy(event) {
  const m = (v) => (v == null ? "?" : Math.abs(v).toFixed(1));
  const fix = event.accuracy_m == null ? "" : ` (fix ±${m(event.accuracy_m)} m)`;
  switch (event.reason) {
    case "inside_margin": return `${m(event.depth_m)} m inside, past its ${m(event.margin_m)} m margin${fix}`;
    case "dwelled": return `stayed inside for the zone's dwell time, ${m(event.depth_m)} m in${fix}`;
    case "lingered": return `lingered ${m(event.depth_m)} m inside on average${fix}`;
    case "settled": return `stopped here after walking out of its room${fix}`;
    case "first_room": return `placed where the tracker settled it, ${m(event.depth_m)} m in${fix}`;
    case "outside_margin": return `${m(event.depth_m)} m outside, past its ${m(event.margin_m)} m margin${fix}`;
    case "entered_other": return "entered the next room";
    default: return "";
  }
}

function addZoneEvent(event) {
  state.zoneEvents.unshift(event);
  state.zoneEvents.length = Math.min(state.zoneEvents.length, ZONE_EVENTS_SHOWN);
  renderZoneEvents();
}

function renderZoneEvents() {
  const list = $("zone-events");
  list.replaceChildren();
  if (!state.zoneEvents.length) {
    const empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = "None yet.";
    list.appendChild(empty);
  }
  for (const e of state.zoneEvents) {
    const item = document.createElement("li");
    item.dataset.zoneId = e.zone_id;
    item.dataset.reason = e.reason || "";
    const zone = $("zones").querySelector(`[data-zone-id="${CSS.escape(String(e.zone_id))}"] title`);
    const when = e.ts ? new Date(e.ts).toLocaleTimeString() : "";
    const text = document.createElement("div");
    text.textContent = `${when} ${assetName(e)} ${e.kind === "enter" ? "entered" : "left"} ${zone?.textContent || "a zone"}`;
    const why = document.createElement("div");
    why.className = "why";
    why.textContent = zoneEventWhy(e);
    item.append(text, why);
    list.appendChild(item);
  }
}

function flashZone(zoneId) {
  const zone = zoneId && $("zones").querySelector(`[data-zone-id="${CSS.escape(String(zoneId))}"]`);
  if (!zone) return;
  zone.classList.remove("flash");
  void zone.getBoundingClientRect(); // restart the animation
  zone.classList.add("flash");
}

// --- start --------------------------------------------------------------------------------------------------

async function showSite(site) {
  state.generation += 1;
  for (const socket of state.sockets) socket.close(1000);
  state.sockets = [];
  state.site = site;
  state.markers.clear();
  state.alerts.clear();
  state.zoneEvents = [];
  renderZoneEvents();
  $("assets").replaceChildren();
  const [plan, gateways, zones, assets] = await Promise.all([
    api(`/api/v1/sites/${site.id}/floor-plan`).catch(() => null),
    apiAll(`/api/v1/gateways?site_id=${site.id}`),
    api(`/api/v1/geofences/geojson?site_id=${site.id}`).then((fc) => fc.features).catch(() => []),
    apiAll(`/api/v1/assets?site_id=${site.id}`).catch(() => []), // names only: the map works without them
  ]);
  state.assetsByTag = new Map(assets.filter((a) => a.tag_id).map((a) => [a.tag_id, a]));
  drawPlan(extent(site, gateways.map((g) => gatewayXY(g, site)), zones), plan?.svg);
  drawZones(zones);
  drawGateways(gateways, site);
  renderAlerts();
  updateCounts();
  const generation = state.generation;
  openSocket(`/ws/sites/${site.id}/locations`, onLocations, generation);
  openSocket(`/ws/alerts?site_id=${site.id}`, onAlerts, generation);
  document.body.dataset.siteId = site.id;
}

async function start() {
  if (!apiKey) return askForKey("an API key is needed");
  setStatus("connecting", "connecting…");
  let sites;
  try {
    sites = await apiAll("/api/v1/sites");
  } catch (error) {
    if (error.status === 401) return askForKey("API key rejected");
    setStatus("error", `cannot load sites: ${error.message}`);
    return;
  }
  if (!sites.length) {
    showMessage("No sites yet: create one with the API (POST /api/v1/sites) or run `assettag demo`.");
    setStatus("offline", "no sites");
    return;
  }
  const select = $("site");
  select.replaceChildren(...sites.map((site) => new Option(site.name, site.id)));
  const wanted = sites.find((site) => site.id === params.get("site")) || sites[0];
  select.value = wanted.id;
  select.onchange = () => {
    const site = sites.find((s) => s.id === select.value);
    params.set("site", site.id);
    history.replaceState(null, "", `${location.pathname}?${params}`);
    showSite(site).catch((error) => setStatus("error", error.message));
  };
  await showSite(wanted);
}

setInterval(markStale, 5_000);
start().catch((error) => setStatus("error", error.message));
