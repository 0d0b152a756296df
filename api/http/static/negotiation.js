// One negotiation: the dance, the gap over time, positions, metrics and the timeline, at any moment.
// Everything comes from the JSON API; the page's state (as_of, as_of_version, term) lives in its URL.
"use strict";

(() => {
  const { api, el, amount, exactAmount, share, when, utcDate, sourceList, statusBadge, plotText: t } = Parley;
  const slug = decodeURIComponent(window.location.pathname.replace(/^\/n\//, "").replace(/\/$/, ""));
  const base = `/negotiations/${encodeURIComponent(slug)}`;
  const $ = (id) => document.getElementById(id);
  const PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
  // On a phone the legend goes under the plot and the x-axis title would collide with it.
  const narrow = () => window.matchMedia("(max-width: 640px)").matches;
  const xTitle = () => (narrow() ? undefined : { text: "when it occurred (UTC)" });
  const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif", size: 13 };

  let names = {}; // party id -> name
  let everything = null; // the full timeline (no time travel): event dates and retraction reasons

  function readState() {
    const q = new URLSearchParams(window.location.search);
    return {
      as_of: q.get("as_of") || null,
      as_of_version: q.get("as_of_version") || null,
      term: q.get("term") || null,
    };
  }
  let state = readState();

  function travelParams() {
    return { as_of: state.as_of, as_of_version: state.as_of_version };
  }

  function go(next) {
    state = { ...state, ...next };
    const q = new URLSearchParams();
    for (const k of ["as_of", "as_of_version", "term"]) if (state[k]) q.set(k, state[k]);
    const search = q.toString();
    window.history.pushState(null, "", window.location.pathname + (search ? `?${search}` : ""));
    load();
    document.dispatchEvent(new Event("parley:state")); // live.js: follow the present, or freeze
  }

  const partyLabel = (id) => (names[id] ? `${names[id]} (${id})` : id);

  // ------------------------------------------------------------------ headline and metrics

  function momentText() {
    const bits = [];
    if (state.as_of) bits.push(`on ${when(state.as_of)}`);
    if (state.as_of_version) bits.push(`after the ledger's first ${state.as_of_version} events`);
    return bits.length ? bits.join(", ") : "now, with everything on record";
  }

  function card(label, value, sub, attrs) {
    return el("div", { class: "card", ...(attrs || {}) },
      el("div", { class: "label", text: label }),
      el("div", { class: "value", text: value }),
      sub ? el("div", { class: "sub", text: sub }) : null);
  }

  function heldBy(positions, chart, termId) {
    // Positions held by an agreement say so: a tentative deal puts both sides on its value.
    const term = positions.terms.find((t) => t.term === termId);
    const deals = new Set((term ? term.positions : []).filter((p) => p.via === "agreement").map((p) => p.event_id));
    return [...deals].map((id) => chart.markers.find((m) => m.kind === "agreement" && m.event_id === id)).filter(Boolean);
  }

  function renderAfterwards(chart, chartNow) {
    const node = $("afterwards");
    node.replaceChildren();
    if (!state.as_of || !chartNow || !chart.term) return;
    const unit = chart.term.unit;
    const edge = `${utcDate(state.as_of)} 23:59:59`;
    const later = chartNow.gaps.filter((g) => g.x > edge);
    if (!later.length) {
      node.textContent = "Afterwards: the gap did not change again (as now known).";
      return;
    }
    node.append(el("strong", { text: "Afterwards (as now known): " }),
      later.slice(0, 6).map((g, i) => `${i ? " → " : ""}${when(g.occurred_at)}: gap ${amount(g.gap, unit)}`).join(""),
      later.length > 6 ? ` … (${later.length - 6} more)` : "",
      ". The faded lines in the dance show it.");
  }

  function renderHeadline(gaps, chart, positions) {
    const termId = chart.term && chart.term.id;
    const term = gaps.terms.find((t) => t.term === termId);
    const pair = term && term.pairs[0];
    const headline = $("headline");
    const metrics = $("metrics");
    metrics.replaceChildren();
    if (!pair) {
      headline.textContent = `As it stood ${momentText()}: no two parties have positions to compare.`;
      return;
    }
    const [p, q] = pair.parties;
    const unit = term.unit;
    if (pair.gap === null) {
      headline.textContent = `As it stood ${momentText()}: ${pair.reason || "no gap yet"}.`;
      return;
    }
    headline.replaceChildren(
      `As it stood ${momentText()}: ${partyLabel(p)} at `,
      el("strong", { text: amount(pair.positions[p], unit) }),
      `, ${partyLabel(q)} at `,
      el("strong", { text: amount(pair.positions[q], unit) }),
      " — a gap of ",
      el("strong", { id: "headline-gap", text: amount(pair.gap, unit) }),
      pair.closed_share !== null
        ? `, ${share(pair.closed_share)} of the initial ${amount(pair.initial_gap, unit)} gap (${when(pair.initial_at)}) closed`
        : "",
      heldBy(positions, chart, termId).map((m) => ` — held by the ${m.label.replace(/:.*/, "")} of ${when(m.occurred_at)}`).join(""),
      ".",
    );
    metrics.append(
      card("Gap", amount(pair.gap, unit), exactAmount(pair.gap, unit), { id: "metric-gap" }),
      card("Midpoint", amount(pair.midpoint, unit), exactAmount(pair.midpoint, unit)),
      card("Relative gap", share(pair.relative_gap), "gap ÷ midpoint"),
      card("Closed share", share(pair.closed_share), `of the initial gap of ${amount(pair.initial_gap, unit)}`),
      card("Initial gap", amount(pair.initial_gap, unit), `when both first had positions: ${when(pair.initial_at)}`),
      ...pair.parties.map((party) => {
        const c = pair.concessions && pair.concessions[party];
        return card(`Concession by ${party}`, c ? amount(c.amount, unit) : "—",
          c ? `${share(c.share)} of the initial gap · ${c.moves} move${c.moves === 1 ? "" : "s"}` +
            (c.last_move_at ? ` · last ${when(c.last_move_at)}` : "") : "");
      }),
      card("Since the last move", pair.days_since_last_move === null ? "—" : `${pair.days_since_last_move} days`,
        pair.rounds_since_last_move === null ? "" : `${pair.rounds_since_last_move} rounds held since`),
      card("Forecast", pair.forecast ? when(pair.forecast) : "none",
        pair.forecast ? "when a line through the last three gaps reaches zero" : "needs three shrinking gaps in a row"),
    );
  }

  // ------------------------------------------------------------------ the dance

  function hoverText(lines) {
    // plotly renders a little HTML in hover labels: keep the ledger's text inert.
    return lines.filter(Boolean).map(t).join("<br>");
  }

  function sourcesLine(sources) {
    if (!sources || !sources.length) return null;
    return "Source: " + sources.map((s) => s.title + (s.publisher ? ` (${s.publisher})` : "")).join("; ");
  }

  function renderDance(chart, chartNow) {
    const node = $("dance");
    const scale = Number(chart.scale);
    const y = (a) => (a === null || a === undefined ? null : Number(a) / scale);
    const unit = chart.term ? chart.term.unit : "";
    const ghost = state.as_of && chartNow && chartNow.term ? chartNow : null;
    // With a date chosen, lines stop at that moment; what came later is drawn faded behind.
    const xEnd = ghost ? `${utcDate(state.as_of)} 23:59:59` : chart.x_range[1];
    const xRange = ghost ? chartNow.x_range : chart.x_range;
    const traces = [];
    if (ghost) {
      for (const s of ghost.series) {
        const xs = s.steps.map((st) => st.x);
        const ys = s.steps.map((st) => y(st.amount));
        if (xs.length) { xs.push(ghost.x_range[1]); ys.push(ys[ys.length - 1]); }
        traces.push({
          type: "scatter", mode: "lines", name: t(`${s.party} afterwards`), x: xs, y: ys,
          line: { shape: "hv", color: s.color, width: 2, dash: "dot" }, opacity: 0.35,
          legendgroup: "afterwards", showlegend: s === ghost.series[0],
          hovertemplate: `${t(s.party)} (as later known): %{y:.4~f} ${t(chart.y_title)}<extra></extra>`,
          meta: { role: "afterwards", party: s.party },
        });
      }
      traces[0].name = "later positions (faded)";
    }
    if (chart.gaps.length && chart.pair) {
      const xs = chart.gaps.map((g) => g.x);
      const ys = chart.gaps.map((g) => y(g.midpoint));
      if (chart.gap_open) { xs.push(xEnd); ys.push(ys[ys.length - 1]); }
      traces.push({
        type: "scatter", mode: "lines", name: t(`midpoint ${chart.pair.join("–")}`), x: xs, y: ys,
        line: { shape: "hv", color: "#777", dash: "dash", width: 1.5 },
        hovertemplate: `midpoint: %{y:.4~f} ${t(chart.y_title)}<extra></extra>`, meta: { role: "midpoint" },
      });
    }
    for (const s of chart.series) {
      const xs = s.steps.map((st) => st.x);
      const ys = s.steps.map((st) => y(st.amount));
      if (xs.length) { xs.push(xEnd); ys.push(ys[ys.length - 1]); }
      traces.push({
        type: "scatter", mode: "lines", name: t(partyLabel(s.party)), x: xs, y: ys,
        line: { shape: "hv", color: s.color, width: 3 }, legendgroup: s.party,
        hovertemplate: `${t(s.party)}'s position: %{y:.4~f} ${t(chart.y_title)}<extra></extra>`,
        meta: { role: "position", party: s.party },
      });
      const offers = chart.offers.filter((o) => o.party === s.party);
      if (!offers.length) continue;
      traces.push({
        type: "scatter", mode: "markers", name: t(`${s.party} offers`), legendgroup: s.party,
        x: offers.map((o) => o.x), y: offers.map((o) => y(o.amount)), ids: offers.map((o) => o.event_id),
        marker: {
          size: 12, color: offers.map((o) => (o.withdrawn ? "#fff" : s.color)),
          line: { color: offers.map((o) => (o.withdrawn ? s.color : "#fff")), width: 2 },
        },
        customdata: offers.map((o) => hoverText([
          `${partyLabel(o.party)}: ${o.kind.replace(/_/g, " ")}`,
          `${o.original_text} as stated` + (o.original.unit !== unit ? ` (≈ ${exactAmount(o.amount, unit)})` : ""),
          when(o.occurred_at),
          o.conditions ? `Conditions: ${o.conditions}` : null,
          o.withdrawn ? "Withdrawn later" : null,
          o.rejected_by.length ? `Rejected by ${o.rejected_by.join(", ")}` : null,
          sourcesLine(o.sources),
        ])),
        hovertemplate: "%{customdata}<extra></extra>",
        meta: { role: "offers", party: s.party },
      });
    }
    const groups = [
      ["agreement", "agreements", { symbol: "diamond", size: 14, color: "#009E73" }],
      ["agreement_rejected", "rejections", { symbol: "x", size: 13, color: "#B00020" }],
      ["offer_rejected", "offer rejections", { symbol: "x", size: 13, color: "#B00020" }],
      ["offer_withdrawn", "withdrawals", { symbol: "x-thin-open", size: 13, color: "#555" }],
    ];
    for (const [kind, label, marker] of groups) {
      const ms = chart.markers.filter((m) => m.kind === kind);
      if (!ms.length) continue;
      const hollow = ms.map((m) => kind === "agreement" && m.rejected);
      traces.push({
        type: "scatter", mode: "markers", name: t(label),
        x: ms.map((m) => m.x), y: ms.map((m) => y(m.amount)), ids: ms.map((m) => m.event_id),
        marker: {
          ...marker,
          color: hollow.map((h) => (h ? "#fff" : marker.color)),
          line: { color: marker.color, width: 2 },
        },
        customdata: ms.map((m, i) => hoverText([m.label + (hollow[i] ? " — rejected later" : ""), when(m.occurred_at), sourcesLine(m.sources)])),
        hovertemplate: "%{customdata}<extra></extra>",
        meta: { role: kind },
      });
    }
    const shapes = [];
    const annotations = [];
    if (state.as_of) {
      const x = `${utcDate(state.as_of)} 23:59:59`;
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1, line: { color: "#8a4b00", dash: "dot", width: 1.5 } });
      annotations.push({ x, y: 1, xref: "x", yref: "paper", text: t(`as of ${when(state.as_of)}`), showarrow: false, xanchor: "right", yanchor: "bottom", font: { color: "#8a4b00", size: 12 } });
    }
    if (!chart.term) {
      annotations.push({ xref: "paper", yref: "paper", x: 0.5, y: 0.5, text: "No terms defined yet", showarrow: false });
    }
    const layout = {
      font: FONT, margin: { l: 64, r: 16, t: 24, b: 40 }, hovermode: "closest",
      xaxis: { type: "date", title: xTitle(), range: xRange, gridcolor: "#eee" },
      yaxis: {
        title: { text: t(chart.y_title) }, gridcolor: "#eee", zeroline: false,
        range: (ghost && Number(ghost.scale) === scale ? ghost : chart).y_range.map((v) => Number(v) / scale),
      },
      legend: { orientation: "h", x: 0, y: narrow() ? -0.1 : -0.18, yanchor: "top", font: { size: narrow() ? 11 : 13 } },
      shapes, annotations, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    };
    layout.margin.b = 90;
    if (narrow()) layout.margin.l = 48;
    return Plotly.react(node, traces, layout, PLOT_CONFIG).then(() => {
      if (!node.dataset.clickBound) {
        node.dataset.clickBound = "1";
        node.on("plotly_click", (event) => {
          const point = event.points && event.points[0];
          if (point && typeof point.x === "string") go({ as_of: point.x.slice(0, 10) });
        });
      }
    });
  }

  // ------------------------------------------------------------------ the gap over time

  function renderGap(chart) {
    const node = $("gap-chart");
    const note = $("gap-note");
    const scale = Number(chart.scale);
    const unit = chart.term ? chart.term.unit : "";
    if (!chart.pair || !chart.gaps.length) {
      Plotly.purge(node);
      node.replaceChildren(el("p", { class: "muted", text: "No moment yet when both parties had a position on this term." }));
      note.textContent = "";
      return Promise.resolve();
    }
    if (!node.classList.contains("js-plotly-plot")) node.replaceChildren();
    const xs = chart.gaps.map((g) => g.x);
    const gaps = chart.gaps.map((g) => Number(g.gap) / scale);
    const initial = Number(chart.gaps[0].gap);
    const closed = chart.gaps.map((g) => (initial > 0 ? 100 * (1 - Number(g.gap) / initial) : null));
    if (chart.gap_open) {
      xs.push(chart.x_range[1]); gaps.push(gaps[gaps.length - 1]); closed.push(closed[closed.length - 1]);
    }
    const traces = [
      {
        type: "scatter", mode: "lines+markers", name: t(`gap ${chart.pair.join("–")}`), x: xs, y: gaps,
        line: { shape: "hv", color: "#0072B2", width: 2.5 }, fill: "tozeroy", fillcolor: "rgba(0,114,178,0.12)",
        hovertemplate: `gap: %{y:.4~f} ${t(chart.y_title)}<extra></extra>`,
      },
      {
        type: "scatter", mode: "lines", name: "closed share (right axis)", x: xs, y: closed, yaxis: "y2",
        line: { shape: "hv", color: "#009E73", width: 1.5, dash: "dot" },
        hovertemplate: "closed: %{y:.1f}% of the initial gap<extra></extra>",
      },
    ];
    const annotations = [];
    if (chart.forecast) {
      const last = chart.gaps[chart.gaps.length - 1];
      traces.push({
        type: "scatter", mode: "lines+markers", name: "forecast", x: [last.x, `${chart.forecast} 00:00:00`],
        y: [Number(last.gap) / scale, 0], line: { color: "#D55E00", dash: "dash", width: 1.5 },
        hovertemplate: `forecast: the gap reaches zero around ${t(when(chart.forecast))}<extra></extra>`,
      });
    }
    const layout = {
      font: FONT, margin: { l: 64, r: 56, t: 16, b: 80 }, hovermode: "x unified",
      xaxis: { type: "date", title: xTitle(), range: chart.forecast ? undefined : chart.x_range, gridcolor: "#eee" },
      yaxis: { title: { text: t(`gap (${chart.y_title})`) }, rangemode: "tozero", gridcolor: "#eee" },
      yaxis2: { title: { text: "closed share" }, overlaying: "y", side: "right", range: [0, 102], dtick: 25, ticksuffix: "%", showgrid: false },
      legend: { orientation: "h", x: 0, y: -0.25, yanchor: "top" }, annotations,
      paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    };
    const pieces = [];
    if (chart.current_gap !== null) pieces.push(`Gap ${momentText()}: ${amount(chart.current_gap, unit)}`);
    if (chart.closed_share !== null) pieces.push(`${share(chart.closed_share)} of the initial ${amount(chart.initial_gap, unit)} closed`);
    pieces.push(chart.forecast ? `forecast: the gap reaches zero around ${when(chart.forecast)}` : "no forecast (it needs three shrinking gaps in a row)");
    note.textContent = pieces.join(" · ") + ".";
    return Plotly.react(node, traces, layout, PLOT_CONFIG);
  }

  // ------------------------------------------------------------------ positions

  function renderPositions(positions) {
    const body = $("positions").querySelector("tbody");
    const rows = [];
    for (const term of positions.terms) {
      if (!term.positions.length) {
        rows.push(el("tr", {}, el("td", { text: term.term }), el("td", { colspan: 5, class: "muted", text: "no positions yet" })));
      }
      for (const p of term.positions) {
        rows.push(el("tr", { "data-term": term.term, "data-party": p.party },
          el("td", { text: term.term }),
          el("td", { text: partyLabel(p.party) }),
          el("td", { class: "num amount", "data-amount": p.value.amount, title: exactAmount(p.value.amount, p.value.unit) }, amount(p.value.amount, p.value.unit)),
          el("td", { class: "num", text: exactAmount(p.original.amount, p.original.unit) }),
          el("td", { text: when(p.at) }),
          el("td", { text: p.via === "agreement" ? "an agreement" : "its own offer" })));
      }
    }
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No terms defined." })));
    body.replaceChildren(...rows);
  }

  // ------------------------------------------------------------------ timeline

  function byId(id) {
    return (everything || []).find((e) => e.event_id === id);
  }

  function valuesText(values) {
    return Object.entries(values || {}).map(([term, q]) => `${term}: ${exactAmount(q.amount, q.unit)}`).join("; ");
  }

  function people(list) {
    return (list || []).map((p) => `${p.name}${p.role ? `, ${p.role}` : ""} (${p.party})`).join(" · ");
  }

  function readouts(list) {
    if (!list || !list.length) return null;
    return el("div", { class: "readouts" }, list.map((r) => el("div", { class: "readout" },
      el("h4", { text: `${partyLabel(r.party)}'s readout` }),
      el("p", { text: r.summary }),
      sourceList(r.sources))));
  }

  function describe(e) {
    const p = e.payload;
    const body = [];
    let title;
    switch (e.type) {
      case "negotiation_opened": title = `Negotiation opened: ${p.title}`; if (p.subject) body.push(el("p", { text: p.subject })); break;
      case "party_joined": title = `${p.party.name} (${p.party.id}) joined`; break;
      case "term_defined": title = `Term defined: ${p.term.name} (${p.term.id}, in ${p.term.unit})`; break;
      case "round_held":
        title = `Round ${p.number}` + (p.location ? ` in ${p.location}` : "") + (p.ended_at ? `, until ${when(p.ended_at)}` : "");
        if (p.delegations && p.delegations.length) body.push(el("p", { text: "Delegations: " + p.delegations.map((d) => `${d.party} led by ${d.lead}`).join(" · ") }));
        if (p.outcome) body.push(el("p", { text: `Outcome: ${p.outcome}` }));
        break;
      case "call_held":
      case "meeting_held":
        title = e.type === "call_held"
          ? `${p.channel === "video" ? "Video" : "Phone"} call` + (p.duration_minutes ? ` (${p.duration_minutes} min)` : "") + (p.initiated_by ? `, initiated by ${p.initiated_by}` : "")
          : `Meeting` + (p.location ? ` in ${p.location}` : "");
        if (p.participants && p.participants.length) body.push(el("p", { text: `With ${people(p.participants)}` }));
        if (p.topics && p.topics.length) body.push(el("p", { text: `Topics: ${p.topics.join("; ")}` }));
        body.push(readouts(p.readouts));
        break;
      case "offer_made":
        title = `${partyLabel(p.party)} ${p.kind.replace(/_/g, " ")}: ${valuesText(p.values) || "amount undisclosed"}`;
        if (p.conditions) body.push(el("p", { text: `Conditions: ${p.conditions}` }));
        break;
      case "offer_withdrawn":
      case "offer_rejected": {
        const offer = byId(p.offer_event_id);
        const what = offer ? `${offer.payload.party}'s ${offer.payload.kind.replace(/_/g, " ")} of ${when(offer.occurred_at)} (${valuesText(offer.payload.values)})` : "an offer";
        title = `${partyLabel(p.party)} ${e.type === "offer_withdrawn" ? "withdrew" : "rejected"} ${what}`;
        break;
      }
      case "statement_made": title = `Statement by ${p.speaker} (${p.party})`; body.push(el("p", { text: p.summary })); break;
      case "issue_raised":
        title = `Side issue raised by ${partyLabel(p.raised_by)}: ${p.title}`;
        if (p.details) body.push(el("p", { text: Object.entries(p.details).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ") }));
        break;
      case "issue_resolved": {
        const raised = (everything || []).find((x) => x.type === "issue_raised" && x.payload.issue_id === p.issue_id);
        title = `Side issue resolved: ${raised ? raised.payload.title : p.issue_id}`;
        body.push(el("p", { text: p.resolution }));
        break;
      }
      case "agreement_reached": title = `Agreement (${p.status}): ${valuesText(p.values)}`; break;
      case "agreement_rejected": {
        const deal = byId(p.agreement_event_id);
        title = `${partyLabel(p.party)} rejected the agreement` + (deal ? ` of ${when(deal.occurred_at)} (${valuesText(deal.payload.values)})` : "");
        if (p.reason) body.push(el("p", { text: `Reason: ${p.reason}` }));
        break;
      }
      case "status_changed": title = `Status: ${p.status}`; if (p.reason) body.push(el("p", { text: p.reason })); break;
      case "exchange_rate_recorded": title = `Exchange rate: 1 ${p.base} = ${p.rate} ${p.quote}`; break;
      case "event_retracted": {
        const target = byId(p.retracted_event_id);
        title = `Correction: retracted the ${target ? target.type.replace(/_/g, " ") + " of " + when(target.occurred_at) : "event " + p.retracted_event_id}`;
        body.push(el("p", { text: `Reason: ${p.reason}` }));
        break;
      }
      default: title = e.type.replace(/_/g, " ");
    }
    if (p.note) body.push(el("p", { class: "muted", text: `Note: ${p.note}` }));
    body.push(sourceList(p.sources));
    return { title, body };
  }

  function renderTimeline(timeline) {
    const list = $("timeline");
    const items = timeline.events.map((e) => {
      const { title, body } = describe(e);
      const retraction = e.retracted ? byId(e.retracted_by) : null;
      return el("li", { class: `type-${e.type}${e.retracted ? " retracted" : ""}`, "data-event-id": e.event_id, "data-type": e.type },
        el("div", { class: "ev-head" },
          el("span", { class: "ev-date", text: when(e.occurred_at) }),
          el("span", { class: "ev-type", text: e.type.replace(/_/g, " ") }),
          el("span", { class: "ev-title", text: title })),
        el("div", { class: "ev-body" }, body),
        e.retracted ? el("p", { class: "retraction-note", text: `Retracted${retraction ? ` (recorded ${when(retraction.recorded_at)})` : ""}: ${retraction ? retraction.payload.reason : "see the correction"}` }) : null);
    });
    list.replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "Nothing had happened yet." })]));
  }

  // ------------------------------------------------------------------ time travel controls

  function eventDates() {
    const dates = new Set((everything || []).filter((e) => !e.retracted && e.type !== "event_retracted").map((e) => utcDate(e.occurred_at)));
    return [...dates].sort();
  }

  function step(direction) {
    const dates = eventDates();
    if (!dates.length) return;
    const current = state.as_of ? utcDate(state.as_of) : null;
    let target;
    if (direction < 0) {
      const earlier = dates.filter((d) => current === null || d < current);
      target = earlier.length ? earlier[earlier.length - 1] : dates[0];
    } else {
      if (current === null) return;
      target = dates.find((d) => d > current) || null;
    }
    go({ as_of: target });
  }

  function renderTravel(summary) {
    $("as-of").value = state.as_of ? utcDate(state.as_of) : "";
    const version = $("as-of-version");
    version.value = state.as_of_version || "";
    version.placeholder = `1–${summary.version}`;
    const dates = eventDates();
    $("prev-event").disabled = !!(state.as_of && dates.length && utcDate(state.as_of) <= dates[0]);
    $("next-event").disabled = !state.as_of;
    const s = $("travel-state");
    s.className = `travel-state${state.as_of || state.as_of_version ? " past" : ""}`;
    s.textContent = state.as_of || state.as_of_version
      ? `Showing the negotiation as it stood ${momentText()}. Step with ◀ ▶, or press "Now".`
      : `Showing everything on record (ledger version ${summary.version}). Pick a date to see an earlier moment.`;
  }

  function bindControls() {
    $("travel").addEventListener("submit", (event) => {
      event.preventDefault();
      go({ as_of: $("as-of").value || null, as_of_version: $("as-of-version").value || null });
    });
    $("as-of").addEventListener("change", () => go({ as_of: $("as-of").value || null }));
    $("prev-event").addEventListener("click", () => step(-1));
    $("next-event").addEventListener("click", () => step(1));
    $("now").addEventListener("click", () => go({ as_of: null, as_of_version: null }));
    $("term").addEventListener("change", () => go({ term: $("term").value || null }));
    window.addEventListener("popstate", () => { state = readState(); load(); });
  }

  function renderTerms(chart) {
    const select = $("term");
    select.replaceChildren(...chart.terms.map((t) => el("option", { value: t.id, selected: chart.term && t.id === chart.term.id }, `${t.name} (${t.unit})`)));
    select.disabled = chart.terms.length < 2;
  }

  function renderSummary(summary) {
    names = Object.fromEntries(summary.parties.map((p) => [p.id, p.name]));
    document.title = `Parley — ${summary.title}`;
    $("title").textContent = summary.title;
    $("subject").textContent = summary.subject || "";
    $("meta").replaceChildren(
      statusBadge(summary.status), " ",
      summary.parties.map((p) => `${p.name} (${p.id})`).join(" · "),
      el("span", { class: "muted" }, ` · ledger version ${summary.version} · ${slug}`));
  }

  function svgHref(chart) {
    const q = new URLSearchParams();
    if (chart.term) q.set("term", chart.term.id);
    for (const [k, v] of Object.entries(travelParams())) if (v) q.set(k, v);
    return `${base}/chart.svg?${q}`;
  }

  let generation = 0;
  let shown = null; // the page.json the page shows now (record.js reads parties, terms, version)
  async function load() {
    const mine = ++generation;
    const page = $("page");
    page.setAttribute("aria-busy", "true");
    const travel = travelParams();
    try {
      // One request: the page's data as each route answers it (GET …/page.json).
      const data = await api(`${base}/page.json`, { ...travel, term: state.term });
      const { summary, chart, positions, gaps, timeline } = data;
      everything = (data.timeline_now || timeline).events;
      const chartNow = state.as_of ? data.chart_now : null;
      if (mine !== generation) return; // a newer request owns the page
      renderSummary(summary);
      renderTravel(summary);
      renderTerms(chart);
      renderHeadline(gaps, chart, positions);
      renderAfterwards(chart, chartNow);
      renderPositions(positions);
      renderTimeline(timeline);
      $("svg-link").href = svgHref(chart);
      await Promise.all([renderDance(chart, chartNow), renderGap(chart)]);
      if (mine !== generation) return;
      shown = data;
      page.dataset.version = String(summary.version);
      page.dataset.asOf = state.as_of || "";
      page.dataset.asOfVersion = state.as_of_version || "";
      page.dataset.term = chart.term ? chart.term.id : "";
      delete page.dataset.error;
      page.setAttribute("aria-busy", "false");
      document.dispatchEvent(new Event("parley:loaded")); // record.js: parties, terms, version
    } catch (e) {
      if (mine !== generation) return;
      const s = $("travel-state");
      s.className = "travel-state error";
      s.textContent = e.status === 404 ? `Not found: ${e.message}` : `Could not load: ${e.message}`;
      if (e.status === 404 && !everything) $("title").textContent = `No negotiation "${slug}"`;
      page.dataset.error = String(e.status || "network");
      page.setAttribute("aria-busy", "false");
    }
  }

  bindControls();
  Parley.integrityBadge($("integrity"));
  // For live.js: redraw on new events, unless the page shows a moment in the past.
  // For record.js: what the page shows (page.json) and the page's URL of the negotiation.
  window.ParleyPage = {
    reload: load, frozen: () => Boolean(state.as_of || state.as_of_version), shown: () => shown, base,
  };
  load();
})();
