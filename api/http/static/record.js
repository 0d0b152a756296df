// Recording from the page: a form for each common fact, sent to POST …/events as the API takes
// it. The entry is sent with If-Match of the ledger version the page showed when the entry was
// begun: if someone recorded something meanwhile the server answers 412, which is explained and
// the page refreshed. Every error of the problem document is shown next to the field it names;
// the server writes nothing on any of them. Text only ever goes in through textContent.
"use strict";

(() => {
  const { el, when, exactAmount } = Parley;
  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ controls
  // A control is { node, collect(path) }: collect() returns its value for the body (undefined
  // when left empty) and marks its node with the body's path of that value (data-field), which
  // is how an error's field path finds its place. collect(null) unmarks (a left-out item).

  function errorSlot() {
    return el("p", { class: "field-error", role: "alert", hidden: true });
  }

  function mark(node, path) {
    if (path) node.dataset.field = path;
    else delete node.dataset.field;
  }

  let labels = 0;
  function input(label, opts = {}) {
    let control;
    if (opts.choices) {
      control = el("select", {}, opts.choices.map(([value, text]) => el("option", { value, text })));
      if (opts.value !== undefined) control.value = opts.value;
    } else if (opts.multiline) {
      control = el("textarea", { rows: opts.rows || 3, placeholder: opts.placeholder });
    } else {
      control = el("input", {
        type: opts.type || "text", placeholder: opts.placeholder, inputmode: opts.inputmode,
        autocomplete: "off", spellcheck: opts.spellcheck === false ? "false" : null,
      });
      if (opts.value !== undefined) control.value = opts.value;
    }
    // Named by its label's text alone (a wrapping label would add a select's current choice).
    const labelId = `record-label-${++labels}`;
    control.setAttribute("aria-labelledby", labelId);
    const node = el("div", { class: `field${opts.wide ? " wide" : ""}` },
      el("label", {}, el("span", { class: "label-text", id: labelId, text: label }), control),
      opts.hint ? el("span", { class: "field-hint", text: opts.hint }) : null,
      errorSlot());
    return {
      node, control,
      collect(path) {
        mark(node, path);
        control.name = path || "";
        const v = control.value.trim();
        if (v === "") return undefined;
        return opts.integer && /^-?\d+$/.test(v) ? Number(v) : v;
      },
    };
  }

  function lines(label, opts = {}) {
    // One item a line (topics; a delegation's members): a list of strings.
    const inner = input(label, { ...opts, multiline: true, rows: opts.rows || 2 });
    return {
      node: inner.node, control: inner.control,
      collect(path) {
        mark(inner.node, path);
        const found = inner.control.value.split(opts.separator || "\n").map((s) => s.trim()).filter(Boolean);
        return found.length ? found : undefined;
      },
    };
  }

  // An object of controls; empty (undefined) when none of `key` fields (default: all) is filled.
  function group(fields, opts = {}) {
    const node = el("div", { class: opts.class || "group" }, fields.map(([, c]) => c.node), errorSlot());
    const keys = opts.key || fields.map(([k]) => k);
    return {
      node,
      collect(path) {
        mark(node, path);
        const out = {};
        for (const [k, c] of fields) {
          const v = c.collect(path === null ? null : path ? `${path}.${k}` : k);
          if (v !== undefined) out[k] = v;
        }
        if (!keys.some((k) => out[k] !== undefined)) {
          if (path !== null) this.collect(null);
          return undefined;
        }
        return out;
      },
    };
  }

  // A list of items made by make(); empty items are left out and the others numbered as sent.
  function list(legend, make, addText, opts = {}) {
    const items = [];
    const holder = el("div", { class: "items" });
    const node = el("fieldset", { class: `list${opts.class ? " " + opts.class : ""}` },
      el("legend", { text: legend }), holder,
      el("button", { type: "button", class: "add", text: addText, onclick: () => add() }),
      errorSlot());
    function add(value) {
      const item = make(value);
      const remove = el("button", {
        type: "button", class: "remove", text: "remove", title: "Remove this item",
        onclick: () => { items.splice(items.indexOf(item), 1); wrapper.remove(); },
      });
      const wrapper = el("div", { class: "item" }, item.node, remove);
      items.push(item);
      holder.append(wrapper);
      return item;
    }
    for (const value of opts.initial || [undefined]) add(value);
    return {
      node, add,
      collect(path) {
        mark(node, path);
        const out = [];
        for (const item of items) {
          const v = path === null ? item.collect(null) : item.collect(`${path}[${out.length}]`);
          if (v !== undefined) out.push(v);
        }
        return out.length ? out : undefined;
      },
    };
  }

  function sources(legend = "Sources: where this is known from") {
    return list(legend, () => group([
      ["title", input("Title", { placeholder: "e.g. Esper, Jeong discuss cost-sharing talks" })],
      ["url", input("Link", { type: "url", placeholder: "https://…" })],
      ["publisher", input("Publisher", { placeholder: "e.g. Yonhap" })],
      ["published_on", input("Published on", { type: "date" })],
    ], { class: "group source" }), "+ another source", { class: "sources-list" });
  }

  // ------------------------------------------------------------------ what the page shows

  let shown = null; // page.json of the page now
  let recent = []; // ledger entries to choose from (offers, agreements, retractable events)
  const partyChoices = (blank) => [["", blank || "— choose —"], ...shown.summary.parties.map((p) => [p.id, `${p.name} (${p.id})`])];
  const partyName = (id) => {
    const p = shown.summary.parties.find((x) => x.id === id);
    return p ? `${p.name} (${p.id})` : id;
  };
  const valuesText = (values) => Object.entries(values || {}).map(([term, q]) => `${term} ${exactAmount(q.amount, q.unit)}`).join("; ");

  function entryText(e) {
    const p = e.payload || e;
    const what = e.type.replace(/_/g, " ");
    const bits = [when(e.occurred_at)];
    if (e.type === "offer_made") bits.push(`${p.party} ${p.kind.replace(/_/g, " ")}: ${valuesText(p.values) || "amount undisclosed"}`);
    else if (e.type === "agreement_reached") bits.push(`agreement (${p.status}): ${valuesText(p.values)}`);
    else if (p.party && typeof p.party === "string") bits.push(`${what} by ${p.party}`);
    else if (p.party && p.party.id) bits.push(`${what}: ${p.party.id}`);
    else if (p.term && p.term.id) bits.push(`${what}: ${p.term.id}`);
    else if (e.type === "round_held") bits.push(`round ${p.number}`);
    else if (e.type === "exchange_rate_recorded") bits.push(`rate 1 ${p.base} = ${p.rate} ${p.quote}`);
    else bits.push(what);
    if (e.version) bits.push(`v${e.version}`);
    return bits.join(" — ");
  }

  // Events a form names (an offer to withdraw or reject, an agreement to reject, an event to
  // retract), asked of the API only when such a form is open: offers and agreements from the
  // timeline (stored, filtered by type), events to retract from the ledger's last 200, newest
  // first. Retracted events are left out.
  const CHOOSES = { rejection: "deals", offer_withdrawn: "deals", event_retracted: "tail" };

  async function loadChoices() {
    const base = window.ParleyPage.base;
    if (CHOOSES[kind] === "deals") {
      const page = await Parley.api(`${base}/timeline`, { type: "offer_made", limit: 1000 });
      const deals = await Parley.api(`${base}/timeline`, { type: "agreement_reached", limit: 1000 });
      recent = [...page.events, ...deals.events].filter((e) => !e.retracted).sort((a, b) => b.version - a.version);
    } else if (CHOOSES[kind] === "tail") {
      const version = shown.summary.version;
      const page = await Parley.api(`${base}/events`, { after_version: Math.max(0, version - 200), limit: 200 });
      recent = page.events.filter((e) => !e.retracted).reverse();
    } else {
      recent = [];
    }
  }

  function eventChoices(types, blank) {
    const picked = recent.filter((e) => types.includes(e.type));
    return [["", picked.length ? blank : "— nothing on record to choose —"], ...picked.map((e) => [e.event_id, entryText(e)])];
  }

  // ------------------------------------------------------------------ the forms

  function termValues(legend) {
    // One row a term: an amount and its unit (the term's own by default).
    const rows = shown.summary.terms.map((term) => {
      const amount = input(`${term.name}`, { placeholder: "amount, e.g. 1300000000000", inputmode: "decimal", spellcheck: false });
      const unit = input("Unit", { value: term.unit, hint: `the term's unit is ${term.unit}` });
      const row = group([["amount", amount], ["unit", unit]], { class: "group term-value", key: ["amount"] });
      row.node.dataset.term = term.id;
      return [term.id, row];
    });
    const node = el("fieldset", { class: "list values" }, el("legend", { text: legend }),
      rows.length ? rows.map(([, r]) => r.node) : el("p", { class: "muted", text: "No terms are defined yet." }), errorSlot());
    return {
      node,
      collect(path) {
        mark(node, path);
        const out = {};
        for (const [id, row] of rows) {
          const v = row.collect(path === null ? null : `${path}.${id}`);
          if (v !== undefined) out[id] = v;
        }
        return out;
      },
    };
  }

  function occurredAt() {
    return input("When it happened", {
      placeholder: "2020-04-06 or 2020-04-06T20:30:00+09:00", spellcheck: false,
      hint: "a date, or a date and time with its UTC offset",
    });
  }

  const OFFER_KINDS = [["offer", "offer"], ["demand", "demand"], ["counteroffer", "counteroffer"], ["final_offer", "final offer"]];

  const FORMS = {
    offer_made: {
      tab: "Offer / demand", button: "Record the offer",
      fields: () => [
        ["party", input("Party", { choices: partyChoices() })],
        ["kind", input("Kind", { choices: OFFER_KINDS })],
        ["values", termValues("Values, per term (leave a term empty if the offer names no amount for it)")],
        ["conditions", input("Conditions", { multiline: true, wide: true, placeholder: "optional" })],
      ],
    },
    call_held: {
      tab: "Call", button: "Record the call",
      fields: () => [
        ["channel", input("Channel", { choices: [["phone", "phone"], ["video", "video"]] })],
        ["initiated_by", input("Initiated by", { choices: partyChoices("— not known —") })],
        ["duration_minutes", input("Minutes", { type: "number", integer: true, inputmode: "numeric" })],
        ["topics", lines("Topics, one a line", { wide: true })],
        ["participants", list("Participants", () => group([
          ["party", input("Party", { choices: partyChoices() })],
          ["name", input("Name")],
          ["role", input("Role", { placeholder: "optional" })],
        ], { key: ["name"] }), "+ another participant")],
        ["readouts", list("Readouts: each side's own account", (party) => group([
          ["party", input("Party", { choices: partyChoices(), value: party })],
          ["summary", input("What it said", { multiline: true, wide: true })],
          ["sources", sources("Where this readout is published")],
        ], { key: ["summary"], class: "group readout-item" }), "+ another readout",
        { initial: shown.summary.parties.map((p) => p.id) })],
      ],
    },
    statement_made: {
      tab: "Statement", button: "Record the statement",
      fields: () => [
        ["party", input("Party", { choices: partyChoices() })],
        ["speaker", input("Speaker", { placeholder: "e.g. Choi Hyun-soo, Defense Ministry spokesperson" })],
        ["summary", input("What was said", { multiline: true, wide: true })],
      ],
    },
    round_held: {
      tab: "Round", button: "Record the round",
      fields: () => [
        ["number", input("Round number", { type: "number", integer: true, inputmode: "numeric", placeholder: nextRound() })],
        ["ended_at", input("Ended on", { placeholder: "optional, e.g. 2020-03-19", spellcheck: false })],
        ["location", input("Location", { placeholder: "optional" })],
        ["delegations", list("Delegations", () => group([
          ["party", input("Party", { choices: partyChoices() })],
          ["lead", input("Led by")],
          ["members", lines("Members, one a line")],
        ], { key: ["lead"] }), "+ another delegation")],
        ["outcome", input("Outcome", { multiline: true, wide: true, placeholder: "optional" })],
      ],
    },
    agreement_reached: {
      tab: "Agreement", button: "Record the agreement",
      fields: () => [
        ["status", input("Status", { choices: [["tentative", "tentative"], ["initialed", "initialed"], ["signed", "signed"], ["ratified", "ratified"]] })],
        ["values", termValues("Agreed values, per term")],
      ],
    },
    rejection: {
      tab: "Rejection", button: "Record the rejection",
      // An offer's rejection or an agreement's: the type follows what is chosen.
      fields: () => [
        ["party", input("Rejected by", { choices: partyChoices() })],
        ["target", input("What is rejected", { choices: eventChoices(["offer_made", "agreement_reached"], "— an offer or an agreement —"), wide: true })],
        ["reason", input("Reason (for an agreement)", { multiline: true, wide: true, placeholder: "optional" })],
      ],
      body(values) {
        const target = recent.find((e) => e.event_id === values.target);
        const { target: id, reason, ...rest } = values;
        if (target && target.type === "agreement_reached") {
          return { type: "agreement_rejected", ...rest, agreement_event_id: id, reason };
        }
        return { type: "offer_rejected", ...rest, offer_event_id: id, ...(reason ? { note: [reason, rest.note].filter(Boolean).join("\n") } : {}) };
      },
      renamed: { offer_event_id: "target", agreement_event_id: "target" },
    },
    offer_withdrawn: {
      tab: "Withdrawal", button: "Record the withdrawal",
      fields: () => [
        ["offer_event_id", input("The offer withdrawn", { choices: eventChoices(["offer_made"], "— an offer —"), wide: true })],
        ["party", input("Withdrawn by", { choices: partyChoices() })],
      ],
    },
    exchange_rate_recorded: {
      tab: "Exchange rate", button: "Record the rate",
      fields: () => [
        ["base", input("1 unit of", { placeholder: "USD", spellcheck: false })],
        ["quote", input("is worth, in", { placeholder: moneyUnit() || "KRW", spellcheck: false })],
        ["rate", input("Rate", { placeholder: "e.g. 1223.5", inputmode: "decimal", spellcheck: false })],
      ],
    },
    event_retracted: {
      tab: "Retraction", button: "Retract the event", admin: true,
      fields: () => [
        ["retracted_event_id", input("The event to retract", {
          choices: eventChoices(RETRACTABLE, "— an event (newest first) —"), wide: true,
        })],
        ["reason", input("Why it is retracted", { multiline: true, wide: true, placeholder: "e.g. The call was on April 6, not April 7: corrected by a new event." })],
      ],
    },
  };
  const RETRACTABLE = ["round_held", "call_held", "meeting_held", "offer_made", "offer_withdrawn", "offer_rejected",
    "statement_made", "issue_raised", "issue_resolved", "agreement_reached", "agreement_rejected",
    "status_changed", "exchange_rate_recorded", "party_joined", "term_defined"];

  function nextRound() {
    const numbers = shown.timeline.events.filter((e) => e.type === "round_held").map((e) => e.payload.number);
    return numbers.length ? `e.g. ${Math.max(...numbers) + 1}` : "e.g. 1";
  }

  function moneyUnit() {
    const term = shown.summary.terms.find((t) => /^[A-Z]{3}$/.test(t.unit));
    return term ? term.unit : null;
  }

  // ------------------------------------------------------------------ the panel

  let kind = "offer_made";
  let current = null; // { fields, common, type }
  let basedOn = null; // the version the entry in progress was begun against (null: none begun)
  // The version this tab's own last write made: an entry begun before the page has redrawn
  // with it stands against it (the page is about to show it), never against the version before.
  let ownVersion = 0;
  let draftKey = null; // Idempotency-Key of the entry in progress: a resend never records twice
  let busy = false;

  function newKey() {
    return window.crypto && window.crypto.randomUUID
      ? window.crypto.randomUUID()
      : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  }

  function say(text, tone, extra) {
    const node = $("record-state");
    node.className = `record-state${tone ? " " + tone : ""}`;
    node.replaceChildren(text, ...(extra || []));
  }

  function renderTabs() {
    $("record-kinds").replaceChildren(...Object.entries(FORMS).map(([k, f]) => el("button", {
      type: "button", role: "tab", "aria-selected": String(k === kind), "data-kind": k,
      class: k === kind ? "selected" : null, text: f.tab,
      onclick: () => { if (k !== kind) { kind = k; renderTabs(); choose(); } },
    })));
  }

  function renderForm() {
    const form = FORMS[kind];
    const fields = form.fields();
    const common = [
      ["occurred_at", occurredAt()],
      ["sources", sources()],
      ["note", input("Note", { multiline: true, wide: true, placeholder: "optional: anything the record should say besides" })],
    ];
    current = { fields, common, kind, outline: outline() };
    basedOn = null;
    draftKey = newKey();
    const node = $("record-form");
    node.dataset.kind = kind;
    node.replaceChildren(
      el("div", { class: "fields" }, fields.map(([, c]) => c.node)),
      el("div", { class: "fields" }, common.map(([, c]) => c.node)),
      el("div", { class: "record-actions" },
        el("button", { type: "submit", class: "primary", id: "record-submit", text: form.button }),
        el("span", { id: "record-version", class: "muted" }),
        form.admin ? el("span", { class: "muted", text: "Needs an admin key when the server has keys." }) : null),
      el("div", { class: "field-error form-error", id: "record-errors", role: "alert", hidden: true }));
    showVersion();
  }

  function collect() {
    const values = {};
    for (const [k, c] of [...current.fields, ...current.common]) {
      const v = c.collect(k);
      if (v !== undefined) values[k] = v;
    }
    const form = FORMS[kind];
    return form.body ? form.body(values) : { type: kind, ...values };
  }

  function showVersion() {
    const node = $("record-version");
    if (!node || !shown) return;
    const now = shown.summary.version;
    node.textContent = basedOn !== null && basedOn !== now
      ? `Begun against ledger version ${basedOn}; the ledger is now at ${now}: recording will ask you to check.`
      : `Recorded against ledger version ${basedOn === null ? now : basedOn}, what this page shows.`;
  }

  function clearErrors() {
    const form = $("record-form");
    for (const slot of form.querySelectorAll(".field-error")) { slot.hidden = true; slot.textContent = ""; }
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    for (const node of form.querySelectorAll(".has-error")) node.classList.remove("has-error");
  }

  // The node an error's field path points at: the path itself, else its nearest parent marked.
  function placeOf(path) {
    const renamed = FORMS[kind].renamed || {};
    let p = renamed[path] || path;
    const marked = [...$("record-form").querySelectorAll("[data-field]")];
    while (p) {
      const found = marked.find((n) => n.dataset.field === p);
      if (found) return found;
      const shorter = p.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
      if (shorter === p) break;
      p = shorter;
    }
    return null;
  }

  function showErrors(problem, status) {
    const found = problem && Array.isArray(problem.errors) && problem.errors.length
      ? problem.errors
      : problem && problem.field ? [{ field: problem.field, message: problem.detail || problem.title }] : [];
    const loose = [];
    let first = null;
    for (const { field, message } of found) {
      const place = field ? placeOf(String(field)) : null;
      if (!place) { loose.push(`${field}: ${message}`); continue; }
      const slot = place.querySelector(":scope > .field-error");
      const text = String(message).startsWith(`${field}: `) ? String(message).slice(String(field).length + 2) : String(message);
      slot.textContent = slot.textContent ? `${slot.textContent} ${text}` : text;
      slot.hidden = false;
      place.classList.add("has-error");
      const control = place.querySelector(":scope > label > :is(input, select, textarea)");
      if (control) control.setAttribute("aria-invalid", "true");
      first = first || control || place;
    }
    if (!found.length) loose.push((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    const box = $("record-errors");
    if (loose.length) { box.replaceChildren(...loose.map((t) => el("p", { text: t }))); box.hidden = false; }
    if (first && first.focus) first.focus();
    const title = (problem && problem.title) || `HTTP ${status}`;
    say(`Not recorded — ${title}: nothing was written. `, "error",
      [found.length ? "The form shows what to correct." : ""]);
  }

  async function explainStale(problem) {
    const was = basedOn !== null ? basedOn : problem && problem.expected_version;
    const now = problem && problem.current_version;
    say(`Not recorded: the ledger moved on while you were writing. Your entry was begun against version ${was}; ` +
      `it is now at version ${now}, because someone else recorded something meanwhile. The page now shows it. ` +
      `Check that your entry still holds, then press “${FORMS[kind].button}” again. Nothing of yours was written.`, "stale");
    try {
      const page = await Parley.api(`${window.ParleyPage.base}/events`, { after_version: was, limit: 10 });
      if (page.events.length) {
        $("record-state").append(el("ul", { class: "news" }, page.events.map((e) => el("li", { text: `New: ${entryText(e)}` }))));
      }
    } catch (e) {
      // the explanation stands without the list
    }
  }

  async function submit(event) {
    event.preventDefault();
    if (busy || !shown || window.ParleyPage.frozen()) return;
    busy = true;
    const button = $("record-submit");
    button.disabled = true;
    clearErrors();
    const body = collect();
    const version = basedOn !== null ? basedOn : Math.max(shown.summary.version, ownVersion);
    say("Recording…", "");
    let response;
    let problem = null;
    try {
      response = await Parley.send(`${window.ParleyPage.base}/events`, body, {
        "If-Match": `"${version}"`, "Idempotency-Key": draftKey,
      });
      problem = await response.json().catch(() => null);
    } catch (e) {
      say("Could not reach the server: press the button again (the same entry is never recorded twice).", "error");
      busy = false;
      button.disabled = false;
      return;
    }
    draftKey = newKey();
    try {
      if (response.status === 201) {
        const done = problem.events.map((e) => e.type.replace(/_/g, " ")).join(", ");
        basedOn = null;
        renderForm();
        ownVersion = problem.version;
        say(`Recorded: ${done}, now version ${problem.version} of the ledger.`, "ok");
        await window.ParleyPage.reload();
        // Marked once the page shows it (the tests wait on this mark).
        $("record-form").dataset.recorded = problem.events.map((e) => e.event_id).join(" ");
      } else if (response.status === 412) {
        await window.ParleyPage.reload();
        await explainStale(problem);
        basedOn = null; // the entry now stands against what the page shows
        showVersion();
      } else {
        showErrors(problem, response.status);
      }
    } finally {
      busy = false;
      const again = $("record-submit");
      if (again) again.disabled = false;
    }
  }

  // A form that names events gets its choices first (on a tab's click, and on each redraw
  // while nothing is typed into it: its lists follow the ledger).
  let choosing = 0;
  async function choose() {
    const mine = ++choosing;
    const was = kind;
    try {
      await loadChoices();
    } catch (e) {
      recent = [];
    }
    // A newer call, another tab, or typing begun meanwhile: this answer is not wanted.
    if (mine !== choosing || was !== kind || (current && current.kind === kind && basedOn !== null)) return;
    renderForm();
  }

  const outline = () => JSON.stringify([shown.summary.parties, shown.summary.terms]);

  async function refresh() {
    shown = window.ParleyPage.shown();
    const panel = $("record");
    if (!shown) return;
    const frozen = window.ParleyPage.frozen();
    panel.dataset.state = frozen ? "frozen" : "ready";
    $("record-frozen").hidden = !frozen;
    $("record-body").hidden = frozen;
    if (frozen) return;
    if (!current) {
      renderTabs();
      await choose();
    } else if (basedOn === null && (CHOOSES[kind] || kind === "round_held" || current.outline !== outline())) {
      await choose();
    }
    showVersion();
    panel.dataset.version = String(shown.summary.version);
  }

  window.addEventListener("DOMContentLoaded", () => {
    if (!window.ParleyPage || !$("record")) return;
    const form = $("record-form");
    form.addEventListener("submit", submit);
    // The first keystroke of an entry fixes the version it is made against.
    form.addEventListener("input", () => {
      if (basedOn === null && shown) { basedOn = Math.max(shown.summary.version, ownVersion); showVersion(); }
    });
    document.addEventListener("parley:loaded", refresh);
    if (window.ParleyPage.shown()) refresh();
  });
})();
