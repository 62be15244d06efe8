// The Certus-Assurance web console: sign in with an API key or a JWT (kept in sessionStorage only), list
// scans with the API's filters, start one, follow it live over the WebSocket stream (the server's own, or the
// WebSocket API the job's stream_url names on AWS), and read its findings,
// evidence checks, audit trail and Trust exchange. Everything shown comes from the API of this origin and is
// written with textContent / text nodes: findings and file names come from scanned, hostile code.
"use strict";

const TOKEN = "certus.token";
const SESSION = "certus.session";
const SEVERITIES = ["critical", "high", "medium", "low"];
const STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"];
const DEFAULT_MANIFEST = JSON.stringify({
  product: "demo", version: "1",
  profiles: [{ name: "light", tools: ["secrets"], thresholds: { critical: 0 } }],
}, null, 2);

const main = () => document.getElementById("main");
let liveSocket = null;

/** An element with attributes (`class`, `on<event>`, others as attributes) and children as nodes or text. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Replaces a node's children, skipping the absent ones. */
function fill(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
}

function show(...nodes) {
  fill(main(), ...nodes);
}

function token() { return sessionStorage.getItem(TOKEN); }
function session() {
  try { return JSON.parse(sessionStorage.getItem(SESSION) || "null"); } catch (e) { return null; }
}
function mayWrite() { const s = session(); return s !== null && s.role !== "auditor"; }

/** The `detail` of an API refusal as one line of text. */
function detailText(body, status) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) return detail.map((d) => (d.field ? d.field + ": " : "") + (d.message || "")).join("; ");
  return typeof detail === "string" ? detail : "HTTP " + status;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + token() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (response.status === 401) {
    signOut("The server refused the credential; sign in again.");
    throw new ApiError(401, detailText(data, 401));
  }
  if (!response.ok) throw new ApiError(response.status, detailText(data, response.status));
  return data;
}

function time(text) { return text ? String(text).replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC") : "-"; }
function badge(status) { return el("span", { class: "badge st-" + status, "data-status": status }, status); }
function errorBox(id) { return el("p", { id, class: "error", role: "alert" }); }

// --- signing in -------------------------------------------------------------------------------------------

function signOut(message) {
  if (liveSocket) liveSocket.close();
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(SESSION);
  chrome();
  location.hash = "#/signin";
  renderSignIn(message);
}

function renderSignIn(message) {
  const input = el("input", { id: "token", type: "password", autocomplete: "off", required: true, placeholder: "API key or JWT" });
  const error = errorBox("sign-in-error");
  if (message) error.textContent = message;
  const form = el("form", { id: "sign-in-form", class: "card signin", onsubmit: async (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN, input.value.trim());
    try {
      const who = await api("GET", "/v1/session");
      sessionStorage.setItem(SESSION, JSON.stringify(who));
      chrome();
      location.hash = "#/scans";
    } catch (e) {
      sessionStorage.removeItem(TOKEN);
      error.textContent = "Sign-in refused: " + e.message;
    }
  } },
  el("h1", null, "Sign in"),
  el("p", { class: "muted" }, "An API key of the server's keys file, or an OIDC/JWT bearer token. It is kept in this tab only."),
  el("label", { for: "token" }, "Credential"), input, error,
  el("p", null, el("button", { id: "sign-in", class: "primary", type: "submit" }, "Sign in")));
  show(form);
  input.focus();
}

/** The header: who is signed in, and the links their role may use. */
function chrome() {
  const who = session();
  document.getElementById("nav").hidden = who === null;
  document.getElementById("sign-out").hidden = who === null;
  document.getElementById("nav-new").hidden = !mayWrite();
  document.getElementById("who").textContent = who === null ? "" :
    who.tenant + " · " + (who.role === "auditor" ? "auditor (read-only)" : "client") + " · " + who.workspaces.join(", ");
}

// --- the list of scans ------------------------------------------------------------------------------------

function renderScans(params) {
  const who = session();
  if (!params.get("workspace_id") && !who.workspaces.includes("*")) params.set("workspace_id", who.workspaces[0]);
  const field = (name, label, input) => el("label", null, label, el("br"), input);
  const workspace = who.workspaces.includes("*")
    ? el("input", { name: "workspace_id", value: params.get("workspace_id") || "" })
    : el("select", { name: "workspace_id" }, who.workspaces.map((w) =>
      el("option", { value: w, selected: params.get("workspace_id") === w }, w)));
  const status = el("select", { name: "status" }, el("option", { value: "" }, "any"),
    STATUSES.map((s) => el("option", { value: s, selected: params.get("status") === s }, s)));
  const text = (name, placeholder) => el("input", { name, placeholder, value: params.get(name) || "" });
  const form = el("form", { id: "scan-filters", class: "filters", onsubmit: (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) query.set(k, v);
    location.hash = "#/scans?" + query.toString();
  } },
  field("workspace_id", "Workspace", workspace),
  field("component_id", "Component", text("component_id", "any")),
  field("assessment_id", "Assessment", text("assessment_id", "any")),
  field("status", "Status", status),
  field("repository", "Repository", text("repository", "git URL as submitted")),
  field("commit", "Commit", text("commit", "full SHA")),
  field("manifest_digest", "Manifest sha256", text("manifest_digest", "64 hex digits")),
  field("created_after", "Created after", text("created_after", "2026-12-01T00:00:00Z")),
  field("created_before", "Created before", text("created_before", "RFC 3339")),
  el("button", { type: "submit" }, "Filter"));
  const body = el("tbody");
  const error = errorBox("scans-error");
  const pager = el("div", { class: "pager" });
  show(el("h1", null, "Scans"), form, error,
    el("table", { id: "scans-table" }, el("thead", null, el("tr", null,
      ["Test id", "Status", "Findings (C · H · M · L)", "Workspace / component", "Source", "Created"].map((h) => el("th", null, h)))), body),
    pager);
  const load = async (pageToken) => {
    const query = new URLSearchParams(params);
    if (pageToken) query.set("page_token", pageToken);
    try {
      const page = await api("GET", "/v1/security-scans?" + query.toString());
      for (const job of page.items) body.append(scanRow(job));
      if (page.items.length === 0 && !pageToken) body.append(el("tr", null, el("td", { colspan: 6, class: "muted" }, "No scan matches.")));
      pager.replaceChildren(page.next_page_token
        ? el("button", { id: "next-page", type: "button", onclick: () => load(page.next_page_token) }, "More")
        : el("span", { class: "muted" }, "End of the list."));
    } catch (e) { error.textContent = e.message; }
  };
  load(null);
}

function counts(job) {
  const totals = job.findings_summary && job.findings_summary.totals;
  if (!totals) return "-";
  return SEVERITIES.map((s) => totals[s] || 0).join(" · ");
}

function source(job) {
  return job.git_url || job.directory_path || job.archive_path || job.source_type;
}

function scanRow(job) {
  return el("tr", { "data-test-id": job.test_id },
    el("td", null, el("a", { class: "mono", href: "#/scan/" + encodeURIComponent(job.test_id) }, job.test_id)),
    el("td", null, badge(job.status)),
    el("td", { class: "mono" }, counts(job)),
    el("td", null, job.workspace_id + " / " + job.component_id),
    el("td", { class: "wrap mono" }, source(job)),
    el("td", null, time(job.created_at)));
}

// --- starting a scan --------------------------------------------------------------------------------------

function renderNewScan() {
  if (!mayWrite()) { show(el("p", { class: "error" }, "This credential is read-only (auditor): it cannot start scans.")); return; }
  const who = session();
  const input = (id, name, value, placeholder) => el("input", { id, name, value: value || "", placeholder, required: !placeholder });
  const kind = el("select", { id: "f-source-type", name: "source_type" },
    ["directory", "git", "archive"].map((k) => el("option", { value: k }, k)));
  const location_ = input("f-location", "location", "", undefined);
  const manifest = el("textarea", { id: "f-manifest", name: "manifest", rows: 8 }, DEFAULT_MANIFEST);
  const error = errorBox("submit-error");
  const form = el("form", { id: "new-scan-form", class: "card", onsubmit: async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    let parsed;
    try { parsed = JSON.parse(data.manifest); } catch (e) { error.textContent = "manifest: not JSON (" + e.message + ")"; return; }
    const where = { directory: "directory_path", git: "git_url", archive: "archive_path" }[data.source_type];
    const request = { workspace_id: data.workspace_id, component_id: data.component_id, assessment_id: data.assessment_id,
      source_type: data.source_type, [where]: data.location, manifest: parsed };
    for (const optional of ["branch", "profile", "baseline_test_id"]) if (data[optional]) request[optional] = data[optional];
    try {
      const accepted = await api("POST", "/v1/security-scans", request);
      location.hash = "#/scan/" + encodeURIComponent(accepted.test_id);
    } catch (e) { error.textContent = e.message; }
  } },
  el("div", { class: "grid2" },
    el("div", null, el("label", { for: "f-workspace" }, "Workspace"),
      input("f-workspace", "workspace_id", who.workspaces.includes("*") ? "" : who.workspaces[0])),
    el("div", null, el("label", { for: "f-component" }, "Component"), input("f-component", "component_id", "")),
    el("div", null, el("label", { for: "f-assessment" }, "Assessment"), input("f-assessment", "assessment_id", "")),
    el("div", null, el("label", { for: "f-source-type" }, "Source"), kind),
    el("div", null, el("label", { for: "f-location" }, "Directory, git URL or uploaded archive path"), location_),
    el("div", null, el("label", { for: "f-branch" }, "Branch (git)"), input("f-branch", "branch", "", "default branch")),
    el("div", null, el("label", { for: "f-profile" }, "Profile"), input("f-profile", "profile", "", "the manifest's first")),
    el("div", null, el("label", { for: "f-baseline" }, "Baseline scan"), input("f-baseline", "baseline_test_id", "", "test_… (optional)"))),
  el("label", { for: "f-manifest" }, "Manifest (JSON)"), manifest, error,
  el("p", null, el("button", { id: "submit-scan", class: "primary", type: "submit" }, "Start scan")));
  show(el("h1", null, "New scan"), form);
}

// --- one scan ---------------------------------------------------------------------------------------------

const TABS = [["progress", "Progress"], ["findings", "Findings"], ["evidence", "Evidence"], ["audit", "Audit trail"], ["trust", "Trust exchange"]];

function renderScan(testId) {
  const panels = {};
  const tabs = el("div", { class: "tabs", role: "tablist" });
  const select = (name) => {
    for (const [key] of TABS) {
      panels[key].hidden = key !== name;
      document.getElementById("tab-" + key).setAttribute("aria-selected", String(key === name));
    }
  };
  for (const [key, label] of TABS) {
    panels[key] = el("section", { id: "panel-" + key, role: "tabpanel", hidden: key !== "progress" });
    tabs.append(el("button", { id: "tab-" + key, type: "button", role: "tab", "aria-selected": String(key === "progress"), onclick: () => select(key) }, label));
  }
  const header = el("div", { class: "head" }, el("h1", { id: "scan-id", class: "mono" }, testId));
  const facts = el("dl", { class: "facts", id: "scan-facts" });
  const error = errorBox("scan-error");
  show(el("p", null, el("a", { href: "#/scans" }, "← Scans")), header, facts, error, tabs, ...TABS.map(([key]) => panels[key]));

  const state = el("p", { id: "progress-state", class: "progress-state" }, "connecting…");
  const log = el("ol", { id: "progress-log", class: "log" });
  panels.progress.append(state, log);
  panels.findings.append(el("p", { class: "muted" }, "Findings appear when the scan has completed."));

  const refresh = async () => {
    try {
      const job = await api("GET", "/v1/security-scans/" + encodeURIComponent(testId));
      if (!streamUrl) streamUrl = job.stream_url || "";
      header.replaceChildren(el("h1", { id: "scan-id", class: "mono" }, job.test_id), badge(job.status));
      facts.replaceChildren(...[["Workspace", job.workspace_id], ["Component", job.component_id], ["Assessment", job.assessment_id],
        ["Source", source(job)], ["Commit", job.commit], ["Profile", job.profile], ["Manifest", job.manifest_digest],
        ["Created", time(job.created_at)], ["Completed", time(job.completed_at)], ["Findings (C · H · M · L)", counts(job)]]
        .filter(([, v]) => v).flatMap(([k, v]) => [el("dt", null, k), el("dd", null, v)]));
      renderTrust(panels.trust, job, refresh);
      if (job.status !== "QUEUED" && job.status !== "RUNNING") {
        const [found, evidence, audit] = await Promise.all([
          api("GET", "/v1/security-scans/" + encodeURIComponent(testId) + "/findings"),
          api("GET", "/v1/security-scans/" + encodeURIComponent(testId) + "/evidence"),
          api("GET", "/v1/security-scans/" + encodeURIComponent(testId) + "/audit"),
        ]);
        renderFindings(panels.findings, found);
        renderEvidence(panels.evidence, evidence);
        renderAudit(panels.audit, audit.trail);
      }
    } catch (e) { error.textContent = e.message; }
  };
  let streamUrl = "";
  // The job's stream_url says which stream to follow; not if the page was left meanwhile.
  refresh().then(() => { if (log.isConnected) follow(testId, streamUrl, state, log, refresh); });
}

/** Whether a stream URL is a WebSocket API's (AWS: `wss://…/live`, connect then subscribe) rather than the
 * job's own stream path of `certus serve` (`/v1/security-scans/{id}/stream`). */
function isGateway(streamUrl) {
  try { return !/\/v1\/security-scans\/[^/]+\/stream$/.test(new URL(streamUrl).pathname); } catch (e) { return false; }
}

/** Replays the job's events, then follows it live until `scan_complete`: on `certus serve` over this host's
 * stream of the job; on AWS over the WebSocket API, with the token on connect and a subscribe message. */
function follow(testId, streamUrl, state, log, onComplete) {
  if (liveSocket) liveSocket.close();
  const gateway = isGateway(streamUrl);
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const base = gateway ? streamUrl : scheme + location.host + "/v1/security-scans/" + encodeURIComponent(testId) + "/stream";
  const socket = new WebSocket(base + "?access_token=" + encodeURIComponent(token()));
  liveSocket = socket;
  let complete = false;
  let refused = false;
  const closed = (code, reason) => code === 4404 ? "no such scan for this credential"
    : "stream closed (" + code + (reason ? ": " + reason : "") + "); reload to follow again";
  socket.onopen = () => {
    state.textContent = "live: waiting for events…";
    if (gateway) socket.send(JSON.stringify({ action: "subscribe", test_id: testId }));
  };
  socket.onmessage = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    // The WebSocket API refuses with a message ({"type":"error","code":4404,…}) where the server closes.
    if (event.type === "error" && event.code) { refused = true; state.textContent = closed(event.code, event.message); return; }
    const [kind, text] = describe(event);
    if (event.type !== "log") state.textContent = text;
    log.append(el("li", { class: "k-" + kind, "data-type": event.type }, el("span", { class: "t" }, "#" + event.seq + " "), text));
    log.scrollTop = log.scrollHeight;
    if (event.type === "scan_complete") {
      complete = true;
      state.textContent = "scan complete: " + event.status;
      onComplete();
    }
  };
  socket.onclose = (close) => {
    if (liveSocket === socket) liveSocket = null;
    if (!complete && !refused && close.code !== 1000) state.textContent = closed(close.code);
  };
}

function describe(event) {
  switch (event.type) {
    case "phase": return ["phase", event.message];
    case "tool_start": return ["phase", event.tool + ": started (" + event.command + ")"];
    case "log": return ["log", event.tool + " │ " + event.line];
    case "tool_complete": return ["phase", event.tool + ": " + event.status + ", " + event.findings + " finding(s)"];
    case "error": return ["error", "error: " + event.message];
    case "scan_complete": return ["done", "scan complete: " + event.status];
    case "upload_permitted": return ["phase", "upload permitted (" + event.upload_permission_id + ")"];
    case "upload_denied": return ["error", "upload denied: " + event.reason];
    case "published": return ["done", "published " + event.golden.length + " file(s)"];
    default: return ["phase", event.type];
  }
}

function renderFindings(panel, found) {
  const all = found.findings;
  const tools = [...new Set(all.map((f) => f.tool))].sort();
  const hasBaseline = all.some((f) => f.baseline_state);
  const choice = (id, label, options) => el("label", null, label, el("br"),
    el("select", { id }, el("option", { value: "" }, "all"), options.map((o) => el("option", { value: o }, o))));
  const filters = el("div", { class: "filters" },
    choice("filter-severity", "Severity", SEVERITIES),
    choice("filter-tool", "Tool", tools),
    choice("filter-baseline", "Against the baseline", hasBaseline ? ["new", "unchanged"] : []),
    el("label", null, "Text", el("br"), el("input", { id: "filter-text", placeholder: "rule, path, message" })));
  const count = el("p", { id: "findings-count", class: "muted" });
  const body = el("tbody");
  const rows = all.map((f) => ({ f, row: findingRow(f) }));
  const apply = () => {
    const sev = document.getElementById("filter-severity").value;
    const tool = document.getElementById("filter-tool").value;
    const base = document.getElementById("filter-baseline").value;
    const text = document.getElementById("filter-text").value.toLowerCase();
    let shown = 0;
    for (const { f, row } of rows) {
      const ok = (!sev || f.severity === sev) && (!tool || f.tool === tool) && (!base || f.baseline_state === base) &&
        (!text || row.textContent.toLowerCase().includes(text));
      row.hidden = !ok;
      if (ok) shown += 1;
    }
    count.textContent = shown + " of " + all.length + " finding(s) shown";
  };
  body.append(...rows.map((r) => r.row));
  fill(panel,
    found.bundle ? filters : el("p", { class: "muted" }, "This scan stored no SARIF (no tool ran)."),
    count,
    el("table", { id: "findings-table" },
      el("thead", null, el("tr", null, ["Severity", "Rule", "Location", "Tool", "Baseline", "Suppressed", "Message"].map((h) => el("th", null, h)))),
      body));
  for (const id of ["filter-severity", "filter-tool", "filter-baseline", "filter-text"]) {
    const input = document.getElementById(id);
    if (input) { input.addEventListener("input", apply); input.addEventListener("change", apply); }
  }
  if (found.bundle) apply(); else count.textContent = "0 finding(s)";
}

function findingRow(f) {
  const where = f.path ? f.path + (f.start_line ? ":" + f.start_line : "") : "-";
  return el("tr", { "data-severity": f.severity, "data-tool": f.tool },
    el("td", { class: "sev s-" + f.severity }, f.severity),
    el("td", { class: "mono" }, f.rule_id),
    el("td", { class: "mono wrap location" }, where),
    el("td", null, f.tool),
    el("td", null, f.baseline_state || "-"),
    el("td", null, f.suppression ? "yes: " + f.suppression.reason : "no"),
    el("td", { class: "wrap" }, f.message));
}

function renderEvidence(panel, evidence) {
  const verdictClass = { pass: "v-pass", fail: "v-fail", skip: "v-skip" };
  fill(panel,
    el("div", { class: "chips" },
      el("span", null, "Verdict: ", el("span", { id: "verdict", class: "badge" }, evidence.verdict || "-")),
      el("span", null, "Bundle check: ", el("span", { id: "evidence-passed", class: "badge " + (evidence.passed === true ? "v-pass" : evidence.passed === false ? "v-fail" : "") },
        evidence.passed === true ? "verified" : evidence.passed === false ? "FAILED" : "not checked"))),
    evidence.detail ? el("p", { class: "muted" }, evidence.detail) : null,
    el("table", { id: "evidence-table" },
      el("thead", null, el("tr", null, el("th", null, "Check"), el("th", null, "Result"), el("th", null, "Detail"))),
      el("tbody", null, evidence.checks.map((c) => el("tr", null,
        el("td", null, c.name), el("td", null, el("span", { class: "badge " + verdictClass[c.verdict] }, c.verdict.toUpperCase())),
        el("td", { class: "wrap" }, c.detail))))),
    el("p", { class: "muted" }, "Checked on the server against its own signing key; an auditor re-checks a copy with certus verify-bundle."));
}

function renderAudit(panel, trail) {
  fill(panel, el("table", { id: "audit-table" },
    el("thead", null, el("tr", null, ["#", "When", "What", "Detail"].map((h) => el("th", null, h)))),
    el("tbody", null, trail.map((entry) => el("tr", { "data-kind": entry.kind },
      el("td", { class: "num" }, entry.seq), el("td", null, time(entry.at)), el("td", null, entry.kind),
      el("td", null, el("pre", { class: "detail" }, JSON.stringify(entry.detail, null, 2))))))));
}

/** One line for an entry of the job's exchanges with Certus-Trust and publication steps. */
function trustOutcome(entry) {
  if (entry.step === "trust") {
    const answer = entry.exchange && entry.exchange.answer;
    if (!answer) return "no answer from Certus-Trust";
    return answer.permitted ? "permitted" : "denied: " + (answer.reason || "no reason given");
  }
  if (entry.step === "storage_config") return entry.refused ? "refused: " + JSON.stringify(entry.refused) : "destinations agreed";
  if (entry.step === "publish") return "published: " + entry.raw + " raw, " + entry.golden + " golden file(s)";
  return entry.step || "-";
}

function renderTrust(panel, job, refresh) {
  const error = errorBox("upload-error");
  const canAsk = mayWrite() && job.status === "SUCCEEDED" && job.upload_status !== "uploaded";
  fill(panel,
    el("dl", { class: "facts" },
      el("dt", null, "Upload status"), el("dd", { id: "upload-status" }, job.upload_status),
      el("dt", null, "Permission"), el("dd", { class: "mono" }, job.upload_permission_id || "-"),
      el("dt", null, "Published files"), el("dd", null, String(Object.keys((job.remote_artifacts && job.remote_artifacts.golden) || {}).length))),
    canAsk ? el("p", null, el("button", { id: "upload-button", class: "primary", type: "button", onclick: async (event) => {
      event.target.disabled = true;
      try { await api("POST", "/v1/security-scans/" + encodeURIComponent(job.test_id) + "/upload-request", {}); await refresh(); }
      catch (e) { error.textContent = e.message; event.target.disabled = false; }
    } }, "Request upload")) : null,
    error,
    el("h2", null, "Exchanges with Certus-Trust"),
    job.upload_audit.length === 0 ? el("p", { class: "muted" }, "None yet.") :
      el("table", { id: "trust-table" },
        el("thead", null, el("tr", null, ["When", "Step", "Outcome", "Record"].map((h) => el("th", null, h)))),
        el("tbody", null, job.upload_audit.map((entry) => el("tr", null,
          el("td", null, time(entry.at)), el("td", null, entry.step), el("td", { class: "wrap" }, trustOutcome(entry)),
          el("td", null, el("details", null, el("summary", null, "JSON"), el("pre", { class: "detail" }, JSON.stringify(entry, null, 2)))))))));
}

// --- routing ----------------------------------------------------------------------------------------------

function route() {
  if (liveSocket) liveSocket.close();
  chrome();
  if (token() === null || session() === null) { renderSignIn(); return; }
  const hash = location.hash.replace(/^#/, "") || "/scans";
  const [path, query] = hash.split("?");
  if (path.startsWith("/scan/")) renderScan(decodeURIComponent(path.slice("/scan/".length)));
  else if (path === "/new") renderNewScan();
  else renderScans(new URLSearchParams(query || ""));
}

document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", route);
route();
