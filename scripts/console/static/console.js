// The console page: views by URL fragment, built from the console's JSON with DOM
// calls (never HTML from data, except the chart SVG the server draws and escapes).
"use strict";

const main = () => document.getElementById("main");
const POLL_MS = 3000;
// Shown first in the history, in this order; every other field of an event follows.
// The links an operator follows (a hold, a reversal) come before the long tail of fields.
const FIRST_FIELDS = ["version", "type", "amount", "balanceAfter", "description", "reverses", "reversedBy", "holdId", "recordedAt"];
const LAST_FIELDS = ["correlationId", "eventId", "schemaVersion"];
const LINKED_IDS = /^(transferId|holdId)$/;
const ACCOUNT_FIELDS = /^(counterparty|counterpartyAccountId|fromAccountId|toAccountId)$/;
// An entry and its reversal point to each other: {accountId, version} of the other.
const EVENT_REFS = /^(reverses|reversedBy)$/;
let timer = null;

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function getJson(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) {
    const error = new Error(body.error ? body.error.message : response.statusText);
    error.code = body.error ? body.error.code : String(response.status);
    throw error;
  }
  return body;
}

function show(title, ...children) {
  document.title = title + " · Ledger console";
  const target = main();
  target.replaceChildren(el("h2", {}, title), ...children);
  for (const link of document.querySelectorAll("header nav a")) {
    const section = link.getAttribute("href").split("/")[1];
    const current = location.hash.split("/")[1] || "accounts";
    link.toggleAttribute("aria-current", section === current);
    if (section === current) link.setAttribute("aria-current", "page");
  }
}

function problem(error) {
  return el("p", { class: "error", role: "alert" }, `${error.message} (${error.code || "error"})`);
}

function value(text) {
  if (text === null || text === undefined) return el("span", { class: "muted" }, "—");
  return typeof text === "object" ? JSON.stringify(text) : String(text);
}

function definitions(fields) {
  return el(
    "dl",
    { class: "fields" },
    Object.entries(fields).map(([name, field]) => [el("dt", {}, name), el("dd", {}, value(field))])
  );
}

function searchForm(label, id, placeholder, go) {
  const input = el("input", { id, name: id, placeholder, required: true, autocomplete: "off" });
  const form = el("form", { class: "search", role: "search" },
    el("label", { for: id }, label), input, el("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(input.value.trim());
  });
  return form;
}

// Accounts

async function accountsView(query) {
  const form = searchForm("Account id", "account-search", "e.g. alice",
    (id) => (location.hash = "#/accounts/" + encodeURIComponent(id)));
  show("Accounts", form, el("p", {}, "Loading…"));
  try {
    const after = query.get("after");
    const page = await getJson("/api/accounts?limit=25" + (after ? "&after=" + encodeURIComponent(after) : ""));
    const list = page.accounts.length
      ? el("ul", { class: "accounts" }, page.accounts.map((id) =>
          el("li", {}, el("a", { href: "#/accounts/" + encodeURIComponent(id) }, id))))
      : el("p", {}, "No account has an event yet.");
    const pages = el("p", { class: "pages" },
      after ? el("a", { href: "#/accounts" }, "First page") : null, " ",
      page.nextAfter ? el("a", { href: "#/accounts?after=" + encodeURIComponent(page.nextAfter) }, "Next page") : null);
    show("Accounts", form, el("h3", {}, "Every account (in the events table's order)"), list, pages);
  } catch (error) {
    show("Accounts", form, problem(error));
  }
}

function eventCell(name, field, accountId) {
  if (field === null || field === undefined) return value(field);
  if (name === "correlationId") return el("a", { href: "#/journey/" + encodeURIComponent(field) }, field);
  if (ACCOUNT_FIELDS.test(name)) return el("a", { href: "#/accounts/" + encodeURIComponent(field) }, field);
  if (EVENT_REFS.test(name)) return eventLink(field, name === "reverses" ? "reverses" : "reversed by", accountId);
  if (LINKED_IDS.test(name)) {
    return el("a", { href: `#/accounts/${encodeURIComponent(accountId)}?match=${encodeURIComponent(field)}`,
      title: `every event of this page with ${name} ${field}` }, field);
  }
  return value(field);
}

// A link to the page of history that starts at the event `ref`: "v5" on the account's own
// page (the column names the relation), "bob v5" for another account's.
function eventLink(ref, words, accountId) {
  const self = `${ref.accountId} v${ref.version}`;
  return el("a", { href: `#/accounts/${encodeURIComponent(ref.accountId)}?after=${ref.version - 1}`,
    class: "event-ref", title: `${words} ${self}` }, ref.accountId === accountId ? `v${ref.version}` : self);
}

function balancesTable(id, caption, balances) {
  return el("table", { id },
    el("caption", {}, caption),
    el("tbody", {}, [["total", balances.totalBalance], ["held", balances.heldBalance], ["available", balances.availableBalance]]
      .map(([name, amount]) => el("tr", {}, el("th", { scope: "row" }, name),
        el("td", { class: "amount", "data-field": name }, `${amount} ${balances.currency}`)))));
}

// "Balance as of": the balances at an instant, as GET /accounts/{id}/balance?at= answers.
// The instant goes into the page's address (…?at=), so a past balance is a link to share.
function balanceAsOf(accountId, at) {
  const input = el("input", { id: "balance-at", name: "at", required: true, autocomplete: "off",
    placeholder: "2026-11-30T09:00:00Z", "aria-describedby": "balance-at-help" });
  const result = el("div", { id: "balance-at-result", "aria-live": "polite" });
  const form = el("form", { class: "search", id: "balance-at-form" },
    el("label", { for: "balance-at" }, "Balance as of"), input, el("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/accounts/${encodeURIComponent(accountId)}?at=${encodeURIComponent(input.value.trim())}`;
  });
  if (at) {
    input.value = at;
    result.append(el("p", {}, "Loading…"));
    getJson(`/api/accounts/${encodeURIComponent(accountId)}/balance?at=${encodeURIComponent(at)}`)
      .then((then) => result.replaceChildren(balancesTable("balances-at", `At ${then.at}: version ${then.version}`, then)))
      .catch((error) => result.replaceChildren(problem(error)));
  }
  return [form, el("p", { id: "balance-at-help", class: "muted" }, "An RFC 3339 instant with its zone: the balances after the last event recorded at or before it."), result];
}

function holdsPanel(account) {
  const holds = account.holds;
  const link = (hold) => el("a", { href: `#/accounts/${encodeURIComponent(account.accountId)}?match=${encodeURIComponent(hold.holdId)}`,
    title: "the events of this page with this hold" }, hold.holdId);
  const pending = holds.pending.length
    ? el("table", { id: "pending-holds" },
        el("caption", {}, "Pending, soonest to expire first"),
        el("thead", {}, el("tr", {}, ["hold", "amount", "expires at", "placed at", "description"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, holds.pending.map((hold) => el("tr", { class: "pending" },
          el("th", { scope: "row" }, link(hold)), el("td", { class: "amount" }, hold.amount),
          el("td", {}, hold.expiresAt), el("td", {}, hold.placedAt), el("td", {}, value(hold.description))))))
    : el("p", {}, "No pending hold.");
  const resolved = holds.resolved.length
    ? el("table", { id: "resolved-holds" },
        el("caption", {}, "What became of the others"),
        el("thead", {}, el("tr", {}, ["hold", "amount", "became", "at", "by version", "captured"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, holds.resolved.map((hold) => el("tr", { class: hold.status },
          el("th", { scope: "row" }, link(hold)), el("td", { class: "amount" }, hold.amount),
          el("td", { "data-field": "status" }, hold.status), el("td", {}, value(hold.resolvedAt)),
          el("td", {}, value(hold.resolvedVersion)),
          el("td", {}, hold.capturedAmount ? [hold.capturedAmount, hold.capturedTo ? [" to ", el("a", { href: "#/accounts/" + encodeURIComponent(hold.capturedTo) }, hold.capturedTo)] : null] : value(null))))))
    : null;
  return el("section", { class: "panel", id: "holds" }, el("h3", {}, "Holds"), pending, resolved,
    holds.more ? el("p", { class: "muted" }, "More holds than shown: GET /accounts/{id}/holds pages through them all.") : null);
}

function history(account, match) {
  const events = match
    ? account.events.filter((event) => Object.values(event).some((field) => String(field) === match))
    : account.events;
  const seen = new Set(events.flatMap((event) => Object.keys(event)));
  seen.delete("accountId");
  const columns = [
    ...FIRST_FIELDS.filter((name) => seen.has(name)),
    ...[...seen].filter((name) => !FIRST_FIELDS.includes(name) && !LAST_FIELDS.includes(name)).sort(),
    ...LAST_FIELDS.filter((name) => seen.has(name)),
  ];
  return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "History" },
    el("table", { id: "history" },
      el("caption", {}, match ? `Events with ${match}` : "History, oldest first"),
      el("thead", {}, el("tr", {}, columns.map((name) => el("th", { scope: "col" }, name)))),
      el("tbody", {}, events.map((event) => el("tr", { class: (event.type || "unreadable").toLowerCase() },
        columns.map((name) => el("td", { "data-field": name },
          eventCell(name, event[name], account.accountId))))))));
}

async function accountView(accountId, query) {
  show("Account " + accountId, el("p", {}, "Loading…"));
  const after = query.get("after") || "0";
  try {
    const account = await getJson(`/api/accounts/${encodeURIComponent(accountId)}?limit=50&after=${encodeURIComponent(after)}`);
    const chart = el("figure", { class: "chart-box" });
    chart.innerHTML = account.chart; // drawn and escaped by the server (scripts/console/chart.py)
    chart.append(el("figcaption", {}, "Balance after each event (the newest 1000 at most)"));
    const balances = el("table", { id: "balances" },
      el("caption", {}, `Read models (the events table is at version ${account.version})`),
      el("thead", {}, el("tr", {}, ["read model", "value", "reflects version", "behind"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, account.readModels.map((model) => el("tr", {},
        el("th", { scope: "row" }, model.name),
        el("td", {}, Object.entries(model.fields).map(([k, v]) => `${k} ${v}`).join(", ")),
        el("td", { "data-field": "version" }, model.version),
        el("td", {}, account.version - model.version)))));
    const pages = el("p", { class: "pages" },
      after !== "0" ? el("a", { href: `#/accounts/${encodeURIComponent(accountId)}` }, "First events") : null, " ",
      account.nextAfter ? el("a", { href: `#/accounts/${encodeURIComponent(accountId)}?after=${account.nextAfter}` }, "Next events") : null);
    show("Account " + accountId,
      el("section", { class: "row" },
        el("div", { class: "panel" }, el("h3", {}, "Balances"),
          balancesTable("money", `Now: version ${account.balances.version}, from the events table`, account.balances),
          balanceAsOf(accountId, query.get("at"))),
        el("div", { class: "panel" }, el("h3", {}, "Read models"), balances)),
      holdsPanel(account),
      el("section", { class: "panel" }, el("h3", {}, "History"), history(account, query.get("match")), pages),
      el("section", { class: "panel" }, el("h3", {}, "Balance over time"), chart),
      el("section", { class: "panel" }, el("h3", {}, "Settings and status"),
        el("p", { class: "muted" }, `As of version ${account.version}, from the state stored with the newest event.`),
        definitions(account.state)));
  } catch (error) {
    show("Account " + accountId, problem(error), el("p", {}, el("a", { href: "#/accounts" }, "Back to the accounts")));
  }
}

// Pipeline

function ms(value) {
  return value === null ? "—" : value < 1000 ? `${value} ms` : `${(value / 1000).toFixed(1)} s`;
}

function pipelineTables(pipeline) {
  const lag = pipeline.lag;
  return [
    el("p", { role: "status", "aria-live": "polite", class: "muted" },
      `${pipeline.accounts} account(s), ${pipeline.events} event(s)` +
      (pipeline.sweep.complete ? "" : " so far (the first sweep of the events table is still going)") +
      `; updated ${new Date(pipeline.at).toLocaleTimeString()}, every ${POLL_MS / 1000} s`),
    el("section", { class: "panel" }, el("h3", {}, "Read models against the events table"),
      el("table", { id: "read-models" },
        el("thead", {}, el("tr", {}, ["read model", "accounts behind", "events behind", "oldest unprojected event", "most behind (head / read model)"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, pipeline.readModels.map((model) => el("tr", { class: model.accountsBehind ? "warn" : "ok" },
          el("th", { scope: "row" }, model.name),
          el("td", {}, `${model.accountsBehind} of ${model.accounts}`),
          el("td", {}, model.eventsBehind),
          el("td", {}, model.oldestUnprojected
            ? [el("a", { href: "#/accounts/" + encodeURIComponent(model.oldestUnprojected.accountId) }, model.oldestUnprojected.accountId),
               ` v${model.oldestUnprojected.version}, ${model.oldestUnprojected.ageS} s ago`]
            : "none: all projected"),
          el("td", {}, model.mostBehind.map(([id, head, version]) => `${id} ${head}/${version}`).join(", ") || "—")))))),
    el("section", { class: "panel" }, el("h3", {}, "Projection lag (stored → read model written)"),
      el("p", {}, `${lag.count} sample(s) from the projectors' logs: p50 ${ms(lag.p50Ms)}, p90 ${ms(lag.p90Ms)}, p99 ${ms(lag.p99Ms)}, max ${ms(lag.maxMs)}`),
      el("table", { id: "lag" },
        el("thead", {}, el("tr", {}, ["lag", "events", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, lag.buckets.map((bucket) => el("tr", {},
          el("th", { scope: "row" }, bucket.upToMs === null ? "more" : `≤ ${ms(bucket.upToMs)}`),
          el("td", {}, bucket.count),
          el("td", { "aria-hidden": "true" }, el("span", { class: "bar", style: `width:${lag.count ? (100 * bucket.count) / lag.count : 0}%` }))))))),
    el("section", { class: "panel" }, el("h3", {}, "Dead-letter queues"),
      el("table", { id: "dead-letters" },
        el("thead", {}, el("tr", {}, ["queue", "depth", "oldest message"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, pipeline.deadLetters.map((queue) => el("tr", { class: queue.depth ? "warn" : "ok" },
          el("th", { scope: "row" }, queue.name), el("td", {}, queue.depth),
          el("td", {}, queue.oldest ? `${queue.oldestSentAt}: ${queue.oldest}` : "—")))))),
    el("section", { class: "panel" }, el("h3", {}, "Rebuilds running"),
      pipeline.rebuilds.length
        ? el("ul", {}, pipeline.rebuilds.map((rebuild) => el("li", {},
            `${rebuild.readModel}: generation ${rebuild.building} (readers on ${rebuild.active}), ${rebuild.itemsBehind} item(s) still behind`)))
        : el("p", {}, "None.")),
  ];
}

async function pipelineView() {
  let first = true;
  const refresh = async () => {
    try {
      const pipeline = await getJson("/api/pipeline");
      if (first) show("Pipeline", el("div", { id: "pipeline" }));
      first = false;
      const target = document.getElementById("pipeline");
      if (target) target.replaceChildren(...pipelineTables(pipeline));
    } catch (error) {
      show("Pipeline", problem(error));
      first = true;
    }
  };
  show("Pipeline", el("p", {}, "Loading…"));
  await refresh();
  timer = setInterval(refresh, POLL_MS);
}

// An event's journey

async function journeyView(correlationId) {
  const form = searchForm("Correlation id", "journey-search", "from a response or a log line",
    (id) => (location.hash = "#/journey/" + encodeURIComponent(id)));
  if (!correlationId) {
    show("Event journey", form, el("p", {}, "Every hop of one request: stored, fanned out, dispatched, projected, from the logs and the tables. The correlation ids are links in an account's history."));
    return;
  }
  show("Journey of " + correlationId, form, el("p", {}, "Loading…"));
  try {
    const journey = await getJson("/api/journey/" + encodeURIComponent(correlationId));
    const start = journey.hops.length ? Date.parse(journey.hops[0].at) : null;
    show("Journey of " + correlationId, form,
      el("section", { class: "panel" }, el("h3", {}, "Hops, from the functions' logs"),
        journey.hops.length
          ? el("table", { id: "hops" },
              el("thead", {}, el("tr", {}, ["hop", "function", "time (UTC)", "+ms", "account", "version"].map((h) => el("th", { scope: "col" }, h)))),
              el("tbody", {}, journey.hops.map((hop) => el("tr", {},
                el("th", { scope: "row" }, hop.hop), el("td", {}, hop.function), el("td", {}, value(hop.at)),
                el("td", {}, hop.at && start !== null ? Date.parse(hop.at) - start : "—"),
                el("td", {}, hop.accountId ? el("a", { href: "#/accounts/" + encodeURIComponent(hop.accountId) }, hop.accountId) : "—"),
                el("td", {}, value(hop.version))))))
          : el("p", {}, "No log line carries this correlation id (logs kept: the local runtime's files, or CloudWatch Logs' last 24 hours).")),
      el("section", { class: "panel" }, el("h3", {}, "Stored, in the events table"),
        journey.stored ? definitions(journey.stored) : el("p", {}, "No stored event has this correlation id.")),
      el("section", { class: "panel" }, el("h3", {}, "Projected, in the projections table"),
        journey.projected.length
          ? el("ul", {}, journey.projected.map((model) => el("li", {}, `${model.name} at version ${model.version}`)))
          : el("p", {}, journey.stored ? "No read model reflects it yet." : "—")));
  } catch (error) {
    show("Journey of " + correlationId, form, problem(error));
  }
}

async function route() {
  clearInterval(timer);
  const [path, search] = location.hash.slice(1).split("?");
  const query = new URLSearchParams(search || "");
  const parts = (path || "/accounts").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "pipeline") await pipelineView();
  else if (parts[0] === "journey") await journeyView(parts[1]);
  else if (parts[0] === "accounts" && parts[1]) await accountView(parts[1], query);
  else await accountsView(query);
}

window.addEventListener("hashchange", () => {
  route();
  main().focus();
});
window.addEventListener("DOMContentLoaded", async () => {
  route();
  try {
    const config = await getJson("/api/config");
    document.getElementById("environment").textContent = config.environment;
  } catch (error) {
    document.getElementById("environment").textContent = "unreachable";
  }
});
