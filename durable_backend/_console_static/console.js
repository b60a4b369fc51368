// The console page: a list of executions and one execution's timeline, over the JSON API
// served by durable_backend/_console.py. Plain DOM code, no dependencies, works offline.
"use strict";

const BIG_BATCH = 25;      // a batch with more children shows the first SHOWN_ITEMS of them
const SHOWN_ITEMS = 20;
const POLL_MS = 1000;

const $ = (selector) => document.querySelector(selector);
const expanded = new Set();  // node ids whose details or hidden children are open
let timer = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function badge(status) {
  return el("span", { class: `status s-${status}` }, status);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function seconds(value) {
  if (value === null || value === undefined) return "";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  if (value < 7200) return `${(value / 60).toFixed(1)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

function pretty(text) {
  if (text === null || text === undefined) return "(none)";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return String(text);
  }
}

function errorText(error) {
  if (!error) return "";
  return [error.type, error.message].filter(Boolean).join(": ");
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function show(view) {
  $("#list-view").hidden = view !== "list";
  $("#execution-view").hidden = view !== "execution";
}

function poll(fn) {
  clearTimeout(timer);
  timer = setTimeout(fn, POLL_MS);
}

// ------------------------------------------------------------------ list

async function renderList() {
  show("list");
  const data = await api("/api/executions");
  $("#source").textContent = data.source;
  const status = $("#filter-status").value;
  const fn = $("#filter-function").value.trim().toLowerCase();
  const rows = data.executions.filter((row) =>
    (!status || row.Status === status) &&
    (!fn || (row.FunctionArn || row.DurableExecutionArn).toLowerCase().includes(fn)));
  const body = $("#executions tbody");
  body.replaceChildren(...rows.map((row) => {
    const arn = row.DurableExecutionArn;
    const started = row.StartTimestamp ? new Date(row.StartTimestamp) : null;
    const ended = row.EndTimestamp ? new Date(row.EndTimestamp) : null;
    const duration = started && ended ? (ended - started) / 1000 : null;
    return el("tr", { "data-arn": arn, onclick: () => { location.hash = `#/execution/${encodeURIComponent(arn)}`; } },
      el("td", {}, el("a", { href: `#/execution/${encodeURIComponent(arn)}` }, row.DurableExecutionName)),
      el("td", {}, functionOf(arn)),
      el("td", {}, badge(row.Status)),
      el("td", {}, when(row.StartTimestamp)),
      el("td", {}, seconds(duration)));
  }));
  $("#empty").hidden = data.executions.length > 0;
  poll(route);
}

function functionOf(arn) {
  const tail = arn.split(":function:")[1] || "";
  return tail.split("/")[0].split(":")[0];
}

// ------------------------------------------------------------------ one execution

async function renderExecution(arn) {
  show("execution");
  const run = await api(`/api/execution?arn=${encodeURIComponent(arn)}`);
  $("#exec-name").textContent = run.name;
  const status = $("#exec-status");
  status.textContent = run.status;
  status.className = `status s-${run.status}`;
  $("#exec-meta").textContent =
    `${run.arn} · function ${run.function_name} · started ${when(run.started)}` +
    (run.duration_seconds !== null ? ` · ${seconds(run.duration_seconds)}` : "");
  const stop = $("#stop");
  stop.hidden = run.status !== "RUNNING";
  stop.onclick = () => act(() => api("/api/stop", { arn: run.arn }));
  renderCallbacks(run);
  renderTimeline(run);
  $("#exec-input").textContent = pretty(run.input);
  $("#outcome-title").textContent = run.error ? "Error" : "Result";
  $("#exec-outcome").textContent = run.error ? errorText(run.error) : pretty(run.result);
  $("#invocations").replaceChildren(...run.invocations.map((inv) =>
    el("li", {}, `${when(inv.started)} → ${when(inv.ended)}`,
      inv.error ? el("span", { class: "s-FAILED" }, ` ${errorText(inv.error)}`) : null)));
  if (run.status === "RUNNING") poll(route);
}

function renderCallbacks(run) {
  const box = $("#callbacks");
  const open = run.status === "RUNNING" ? run.pending_callbacks : [];
  // keep what the user is typing: rebuild only when the set of callbacks changes
  const key = open.map((cb) => cb.callback_id).join(" ");
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.replaceChildren(...open.map((cb) => {
    const result = el("textarea", { class: "callback-result", placeholder: 'result sent as is, e.g. {"approved": true}' });
    const send = (action) => act(() => api("/api/callback", action === "succeed"
      ? { callback_id: cb.callback_id, action, result: result.value === "" ? null : result.value }
      : { callback_id: cb.callback_id, action, error_type: "Rejected", error_message: result.value || "failed from the console" }));
    return el("div", { class: "callback", "data-callback-id": cb.callback_id },
      el("strong", {}, `Waiting for callback “${cb.name || cb.operation_id}”`),
      el("span", { class: "dim" }, ` since ${when(cb.started)}`),
      el("div", {}, "id: ", el("code", { class: "callback-id" }, cb.callback_id)),
      result,
      el("button", { class: "primary succeed", onclick: () => send("succeed") }, "Send success"), " ",
      el("button", { class: "danger fail", onclick: () => send("fail") }, "Send failure"));
  }));
}

async function act(request) {
  const message = $("#message");
  try {
    const answer = await request();
    message.textContent = answer.message;
    message.className = "message";
  } catch (error) {
    message.textContent = error.message;
    message.className = "message error";
  }
  message.hidden = false;
  delete $("#callbacks").dataset.key;
  route();
}

function span(run) {
  const start = Date.parse(run.started);
  let end = run.ended ? Date.parse(run.ended) : Date.now();
  const visit = (node) => {
    for (const t of [node.started, node.ended]) if (t) end = Math.max(end, Date.parse(t));
    node.children.forEach(visit);
  };
  run.operations.forEach(visit);
  return { start, width: Math.max(end - start, 1) };
}

function renderTimeline(run) {
  const scale = span(run);
  const rows = [];
  const pct = (iso) => ((Date.parse(iso) - scale.start) / scale.width) * 100;
  const addNode = (node, depth) => {
    const name = node.name || node.sub_type || node.kind;
    const label = el("div", { class: "op-label", style: `padding-left:${0.5 + depth * 1.2}rem`,
                              onclick: () => toggle(node.id) },
      el("span", { class: "op-kind" }, node.sub_type || node.kind), name, " ", badge(node.status),
      node.attempts.length > 1 ? el("span", { class: "dim" }, ` ${node.attempts.length} attempts`) : null);
    const track = el("div", { class: "op-track" });
    if (node.started) {
      const left = pct(node.started);
      const right = node.ended ? pct(node.ended) : 100;
      track.append(el("div", { class: `bar s-${node.status} k-${node.kind}`,
                               style: `left:${left}%;width:${Math.max(right - left, 0.3)}%`,
                               title: `${name}: ${seconds(node.duration_seconds)}` }));
    }
    for (const attempt of node.attempts) {
      if (attempt.ended) {
        track.append(el("div", { class: `tick a-${attempt.outcome}`, style: `left:${pct(attempt.ended)}%`,
                                 title: `attempt ${attempt.number}: ${attempt.outcome} ${errorText(attempt.error)}` }));
      }
    }
    const row = el("div", { class: "op-row", "data-kind": node.kind, "data-name": name,
                            "data-status": node.status }, label, track);
    if (expanded.has(node.id)) row.append(details(node));
    rows.push(row);
    const many = node.children.length > BIG_BATCH && !expanded.has(`${node.id}+`);
    const children = many ? node.children.slice(0, SHOWN_ITEMS) : node.children;
    children.forEach((child) => addNode(child, depth + 1));
    if (many) {
      const hidden = node.children.length - SHOWN_ITEMS;
      const failed = node.children.slice(SHOWN_ITEMS).filter((c) => c.status === "FAILED").length;
      rows.push(el("div", { class: "more", style: `padding-left:${0.5 + (depth + 1) * 1.2}rem`,
                            onclick: () => toggle(`${node.id}+`) },
        `show ${hidden} more items` + (failed ? ` (${failed} failed)` : "")));
    }
  };
  run.operations.forEach((node) => addNode(node, 0));
  $("#timeline").replaceChildren(...rows);
}

function details(node) {
  const lines = [
    el("div", {}, `id ${node.id} · ${node.kind}${node.sub_type ? ` (${node.sub_type})` : ""}` +
      ` · started ${when(node.started)}` + (node.ended ? ` · ${seconds(node.duration_seconds)}` : "")),
  ];
  if (node.callback_id) lines.push(el("div", {}, "callback id: ", el("code", {}, node.callback_id)));
  if (node.function_name) lines.push(el("div", {}, `invokes ${node.function_name}`));
  if (node.wait_seconds) lines.push(el("div", {}, `waits ${seconds(node.wait_seconds)}` +
    (node.scheduled_end ? ` until ${when(node.scheduled_end)}` : "")));
  for (const attempt of node.attempts) {
    lines.push(el("div", {}, `attempt ${attempt.number}: ${attempt.outcome}` +
      (attempt.error ? ` (${errorText(attempt.error)})` : "") +
      (attempt.retry_delay_seconds ? `, retry in ${attempt.retry_delay_seconds} s` : "")));
  }
  if (node.error) lines.push(el("div", { class: "s-FAILED" }, errorText(node.error)));
  if (node.result !== null && node.result !== undefined) lines.push(el("pre", {}, pretty(node.result)));
  return el("div", { class: "op-details" }, ...lines);
}

function toggle(id) {
  if (expanded.has(id)) expanded.delete(id); else expanded.add(id);
  route();
}

// ------------------------------------------------------------------ routing

async function route() {
  clearTimeout(timer);
  const match = location.hash.match(/^#\/execution\/(.+)$/);
  try {
    if (match) await renderExecution(decodeURIComponent(match[1]));
    else await renderList();
  } catch (error) {
    const message = $("#message");
    message.textContent = error.message;
    message.className = "message error";
    message.hidden = false;
    show(match ? "execution" : "list");
  }
}

window.addEventListener("hashchange", () => { expanded.clear(); $("#message").hidden = true; route(); });
$("#filters").addEventListener("input", route);
route();
