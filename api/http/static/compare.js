// The compare page: negotiations side by side on one term, from GET /compare.
// Every string from the ledger goes in through textContent (Parley.el) or Plotly's text
// escaping (Parley.plotText); nothing is written as HTML.
"use strict";

(() => {
  const { api, el, share, plotText } = Parley;
  const COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
  const params = new URLSearchParams(window.location.search);
  const state = document.getElementById("state");

  async function choices() {
    const page = await api("/negotiations", { limit: 100 });
    const chosen = new Set(params.getAll("n"));
    const box = document.getElementById("choices");
    for (const item of page.items || page.negotiations || []) {
      const id = `n-${item.slug}`;
      box.append(el("label", { for: id },
        el("input", { type: "checkbox", id, name: "n", value: item.slug, checked: chosen.has(item.slug) }),
        ` ${item.title} `, el("span", { class: "muted", text: `(${item.slug})` })));
    }
    document.getElementById("term").value = params.get("term") || "";
  }

  function query(doc) {
    const q = new URLSearchParams();
    for (const n of doc.negotiations) q.append("n", n.negotiation);
    q.set("term", doc.term);
    return q.toString();
  }

  function plot(doc) {
    const traces = doc.negotiations.map((n, i) => ({
      type: "scatter",
      mode: "lines+markers",
      line: { shape: "hv", color: COLORS[i % COLORS.length], width: 2 },
      name: plotText(`${n.title} (${n.negotiation})`),
      x: n.points.map((p) => Number(p.days)),
      y: n.points.map((p) => (p.closed_share === null ? null : Number(p.closed_share) * 100)),
      hovertemplate: "%{y:.1f}% closed after %{x:.0f} days<extra></extra>",
    }));
    Plotly.newPlot("compare-chart", traces, {
      margin: { t: 10, r: 10 },
      xaxis: { title: { text: "days since both sides had positions" }, zeroline: false },
      yaxis: { title: { text: "share of the initial gap closed (%)" } },
      legend: { orientation: "h" },
    }, { displaylogo: false, responsive: true });
    document.getElementById("svg-link").href = `/compare/chart.svg?${query(doc)}`;
    const raw = document.getElementById("raw-panel");
    raw.hidden = !doc.units_agree;
    if (doc.units_agree) {
      document.getElementById("raw-unit").textContent = doc.unit;
      Plotly.newPlot("raw-chart", doc.negotiations.map((n, i) => ({
        type: "scatter",
        mode: "lines+markers",
        line: { shape: "hv", color: COLORS[i % COLORS.length], width: 2 },
        name: plotText(n.negotiation),
        x: n.points.map((p) => Number(p.days)),
        y: n.points.map((p) => Number(p.gap)),
      })), {
        margin: { t: 10, r: 10 },
        xaxis: { title: { text: "days since both sides had positions" } },
        yaxis: { title: { text: plotText(`gap (${doc.unit})`) } },
        legend: { orientation: "h" },
      }, { displaylogo: false, responsive: true });
    }
  }

  function rounds(doc) {
    const box = document.getElementById("rounds");
    box.replaceChildren();
    for (const n of doc.negotiations) {
      const [p, q] = n.parties;
      const rows = n.rounds.map((r) => el("tr", {},
        el("td", { text: String(r.round) }), el("td", { text: r.at.slice(0, 10) }),
        el("td", { text: share(r.concessions[p].share) }), el("td", { text: share(r.concessions[q].share) })));
      box.append(
        el("h3", { text: `${n.title} (${n.negotiation})` }),
        n.reason ? el("p", { class: "muted", text: n.reason }) : null,
        el("table", { class: "index" },
          el("thead", {}, el("tr", {}, el("th", { text: "Round" }), el("th", { text: "Held" }),
            el("th", { text: `${p} conceded` }), el("th", { text: `${q} conceded` }))),
          el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: "4", class: "muted", text: "no rounds after both had positions" })))));
    }
  }

  async function main() {
    const page = document.getElementById("page");
    try {
      await choices();
      const slugs = params.getAll("n");
      if (slugs.length === 0) {
        state.textContent = "Tick two or more negotiations and press Compare.";
        return;
      }
      const doc = await api(`/compare?${new URLSearchParams(slugs.map((s) => ["n", s])).toString()}`,
        { term: params.get("term") });
      state.textContent = `${doc.negotiations.length} negotiations on ${doc.term}` +
        (doc.units_agree ? ` (all in ${doc.unit})` : " (units differ: shares only)");
      plot(doc);
      rounds(doc);
    } catch (e) {
      state.textContent = `Could not compare: ${e.message}`;
    } finally {
      page.setAttribute("aria-busy", "false");
      page.dataset.ready = "true";
    }
  }

  main();
})();
