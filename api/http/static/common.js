// Parley dashboard helpers: fetch the JSON API, build DOM safely, format amounts and dates.
// Text from the ledger only ever goes in through textContent, never as HTML.
"use strict";

const Parley = (() => {
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const SCALES = [[1e12, "trillion"], [1e9, "billion"], [1e6, "million"]];
  const CURRENCY = /^[A-Z]{3}$/;

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  // Keys: an open server (no keys) never answers 401, so nothing is asked. Once keys are
  // required, the first 401 asks for a key once per page (every request waiting on that one
  // question), keeps it for this tab's session and retries; a refused key is asked for again
  // on the next page load. The key goes only to this origin, in the Authorization header.
  const KEY_ITEM = "parley.api-key";
  let keyQuestion = null;

  function storedKey() {
    try {
      return window.sessionStorage.getItem(KEY_ITEM);
    } catch (e) {
      return null;
    }
  }

  function storeKey(key) {
    try {
      if (key) window.sessionStorage.setItem(KEY_ITEM, key);
      else window.sessionStorage.removeItem(KEY_ITEM);
    } catch (e) {
      // Storage refused (private mode): the key then lasts as long as this page.
    }
  }

  function askForKey(refused) {
    if (!keyQuestion) {
      keyQuestion = Promise.resolve().then(() => {
        const question = refused
          ? "The stored API key was refused. Enter a Parley API key (a reader key is enough):"
          : "This Parley server asks for an API key. Enter one (a reader key is enough):";
        const key = (window.prompt(question) || "").trim() || null;
        storeKey(key);
        return key;
      });
    }
    return keyQuestion;
  }

  function withKey(headers, key) {
    return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
  }

  // fetch() for this origin's API, with the stored key, asking for one once on a 401.
  async function authorizedFetch(url, headers, signal) {
    const sent = storedKey();
    let response = await fetch(url, { headers: withKey(headers, sent), signal });
    if (response.status === 401) {
      const key = await askForKey(Boolean(sent));
      if (key && key !== sent) response = await fetch(url, { headers: withKey(headers, key), signal });
    }
    return response;
  }

  // Writes need a recorder key (an admin key to retract). A 401, or a 403 naming the role a
  // write needs, asks once for a key of that role (each request waiting on that question),
  // keeps it for the tab's session as the reading key is kept, and sends the request again:
  // nothing was written by the refused attempt. A question answered with a key that works is
  // not asked again on this page; a cancelled one or a refused key is asked on the next try.
  const ROLE_QUESTIONS = {
    recorder: "Recording needs a Parley API key with the recorder or admin role. Enter one:",
    admin: "Retracting an event needs a Parley API key with the admin role. Enter one:",
  };
  const writeQuestions = {};

  function askForWriteKey(role, held) {
    if (!writeQuestions[role]) {
      writeQuestions[role] = Promise.resolve().then(() => {
        const base = ROLE_QUESTIONS[role] || `This needs a Parley API key with the ${role} role. Enter one:`;
        const question = held ? `${base}\n(The key this tab holds is a ${held} key.)` : base;
        const key = (window.prompt(question) || "").trim() || null;
        if (key) storeKey(key);
        return key;
      });
    }
    return writeQuestions[role];
  }

  async function send(path, body, headers, method = "POST") {
    const url = new URL(path, window.location.origin);
    const attempt = (key) => fetch(url, {
      method,
      headers: withKey({ "Content-Type": "application/json", Accept: "application/json", ...headers }, key),
      body: JSON.stringify(body),
    });
    const sent = storedKey();
    let response = await attempt(sent);
    if (response.status !== 401 && response.status !== 403) return response;
    const problem = await response.clone().json().catch(() => null);
    // Only a refusal for want of a role is answered by asking (an open server's fences are not).
    const role = response.status === 401 ? "recorder" : problem && problem.required_role;
    if (!role) return response;
    const key = await askForWriteKey(role, response.status === 403 ? problem.role : null);
    if (key && key !== sent) response = await attempt(key);
    if (!key || response.status === 401 || response.status === 403) delete writeQuestions[role];
    return response;
  }

  async function api(path, params) {
    const url = new URL(path, window.location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== null && v !== undefined && v !== "") url.searchParams.append(k, v);
    }
    const response = await authorizedFetch(url, { Accept: "application/json" });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  // HOOK: links into the API (e.g. "Download this chart as SVG") cannot carry a header. With
  // a key stored, such a click fetches with the key and hands the browser the result instead.
  document.addEventListener("click", async (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[href]") : null;
    if (!link || !storedKey() || event.defaultPrevented || event.button !== 0) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || !url.pathname.startsWith("/negotiations/")) return;
    event.preventDefault();
    const response = await authorizedFetch(url, {});
    if (!response.ok) {
      window.alert(`Parley answered ${response.status}: the download failed.`);
      return;
    }
    const blob = URL.createObjectURL(await response.blob());
    const save = el("a", { href: blob, download: url.pathname.split("/").pop() || "download" });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(blob), 60000);
  });

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // "1175000000000" KRW -> "1.175 trillion KRW"; the exact digits stay in exactAmount().
  function amount(text, unit) {
    if (text === null || text === undefined) return "—";
    const n = Number(text);
    if (unit === "percent") return `${trim(n)}%`;
    if (CURRENCY.test(unit || "")) {
      for (const [factor, word] of SCALES) {
        if (Math.abs(n) >= factor) return `${trim(n / factor, 3)} ${word} ${unit}`;
      }
    }
    return `${trim(n)} ${unit || ""}`.trim();
  }

  function exactAmount(text, unit) {
    if (text === null || text === undefined) return "";
    const [whole, fraction] = String(text).split(".");
    const sign = whole.startsWith("-") ? "-" : "";
    const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const frac = fraction && /[1-9]/.test(fraction) ? "." + fraction.replace(/0+$/, "") : "";
    return `${sign}${digits}${frac} ${unit || ""}`.trim();
  }

  function trim(n, digits = 4) {
    return n.toLocaleString("en-US", { maximumFractionDigits: digits });
  }

  function share(text) {
    if (text === null || text === undefined) return "—";
    return `${(Number(text) * 100).toLocaleString("en-US", { maximumFractionDigits: 1 })}%`;
  }

  // An occurred_at as written: a date, or a datetime shown with its own offset.
  function when(text) {
    if (!text) return "—";
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?/.exec(text);
    if (!m) return text;
    const day = `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}`;
    if (!m[4]) return day;
    const zone = m[6] ? (m[6] === "Z" ? " UTC" : ` (UTC${m[6]})`) : "";
    return `${day}, ${m[4]}:${m[5]}${zone}`;
  }

  // The UTC calendar date an occurred_at falls on (what as_of=<date> includes).
  function utcDate(text) {
    if (!text) return null;
    if (text.length === 10) return text;
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? text.slice(0, 10) : d.toISOString().slice(0, 10);
  }

  function sourceList(sources) {
    if (!sources || !sources.length) return null;
    return el(
      "ul",
      { class: "sources" },
      sources.map((s) => {
        const bits = [s.publisher, s.published_on ? when(s.published_on) : null].filter(Boolean);
        const label = s.title + (bits.length ? ` — ${bits.join(", ")}` : "");
        return el("li", {}, s.url ? el("a", { href: s.url, rel: "noopener noreferrer", target: "_blank" }, label) : label);
      }),
    );
  }

  // Plotly draws a little HTML in every string it renders (legend names, titles, annotations,
  // hover labels): <a href>, <b>, <span style>. Ledger text goes to it only through this, so it
  // stays text; Plotly shows the entities as the characters they stand for. "{" too, so a name
  // never reads as a %{...} placeholder inside a hovertemplate.
  function plotText(text) {
    return String(text === null || text === undefined ? "" : text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&#34;").replace(/'/g, "&#39;").replace(/\{/g, "&#123;").replace(/\}/g, "&#125;");
  }

  function statusBadge(status) {
    return el("span", { class: `badge status-${status}`, text: status });
  }

  // The ledger's integrity badge: the checkpoint (cheap: one row of the Merkle view) and the
  // result of /ledger/verify, which re-hashes the whole ledger. That result is kept for the
  // browser session per tree size, so moving between pages does not re-hash the ledger each
  // time; a grown ledger is verified afresh. Hidden when either endpoint is unavailable.
  async function integrityBadge(node) {
    if (!node) return;
    let checkpoint;
    try {
      checkpoint = await api("/ledger/checkpoint");
    } catch (e) {
      node.hidden = true;
      return;
    }
    const cacheKey = `parley.verify.${checkpoint.tree_size}`;
    let verify = null;
    try {
      verify = JSON.parse(sessionStorage.getItem(cacheKey) || "null");
    } catch (e) {
      verify = null;
    }
    if (!verify) {
      try {
        verify = await api("/ledger/verify");
      } catch (e) {
        node.hidden = true;
        return;
      }
      if (verify.ok) {
        try {
          sessionStorage.setItem(cacheKey, JSON.stringify(verify));
        } catch (e) {
          // storage full or disabled: verify again next time
        }
      }
    }
    const root = checkpoint.root;
    node.textContent = verify.ok
      ? `✔ ledger verified: ${verify.events_checked} events` + (root ? `, root ${String(root).slice(0, 12)}…` : "")
      : `✘ ledger verification failed` + (verify.first_bad ? ` at ${JSON.stringify(verify.first_bad)}` : "");
    node.className = `integrity ${verify.ok ? "ok" : "bad"}`;
    node.title = root ? `checkpoint root ${root}` : "";
    node.hidden = false;
  }

  return { api, send, authorizedFetch, ApiError, el, amount, exactAmount, share, when, utcDate, sourceList, statusBadge, integrityBadge, plotText };
})();
