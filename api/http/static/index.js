// The index: every negotiation with status, parties, last activity and its headline gap.
"use strict";

(() => {
  const { api, el, amount, share, when, statusBadge } = Parley;

  async function allNegotiations() {
    const items = [];
    let cursor = null;
    do {
      // The list carries each negotiation's headline gaps: one request per 500 negotiations.
      const page = await api("/negotiations", { limit: 500, cursor });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return items;
  }

  function headline(item) {
    const term = (item.gaps || [])[0];
    const pair = term && term.pairs[0];
    if (!pair) return el("span", { class: "muted", text: "no terms with two parties yet" });
    if (pair.gap === null) return el("span", { class: "muted", text: pair.reason || "no gap yet" });
    const [p, q] = pair.parties;
    return el(
      "span",
      {},
      el("strong", { text: amount(pair.gap, term.unit) }),
      ` between ${p} and ${q} on ${term.term}`,
      pair.closed_share !== null ? el("span", { class: "muted" }, ` · ${share(pair.closed_share)} of the initial gap closed`) : null,
    );
  }

  function row(item) {
    const link = el("a", { href: `/n/${encodeURIComponent(item.slug)}` }, item.title);
    return el(
      "tr",
      { "data-slug": item.slug },
      el("td", {}, link, el("div", { class: "muted", text: item.slug })),
      el("td", { "data-label": "Status" }, statusBadge(item.status)),
      el("td", { "data-label": "Parties" }, item.parties.map((p) => `${p.name} (${p.id})`).join(" · ")),
      el(
        "td",
        { "data-label": "Last activity" },
        when(item.last_occurred_at),
        el("div", { class: "muted", text: `recorded ${when(item.updated_at)}` }),
      ),
      el("td", { "data-label": "Headline gap", class: "gap" }, headline(item)),
    );
  }

  async function main() {
    const table = document.getElementById("negotiations");
    const body = table.querySelector("tbody");
    Parley.integrityBadge(document.getElementById("integrity"));
    try {
      const items = await allNegotiations();
      body.replaceChildren(...items.map((item) => row(item)));
      if (!items.length) {
        body.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted" },
          "No negotiations yet. Load the demo with `parley demo`, or POST /negotiations.")));
      }
    } catch (e) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "error", text: `Could not load: ${e.message}` })));
    } finally {
      table.setAttribute("aria-busy", "false");
    }
  }

  window.ParleyIndex = { reload: main }; // live.js redraws the rows when events arrive
  main();
})();
