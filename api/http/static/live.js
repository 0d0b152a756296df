// Live updates: the page follows the ledger's Server-Sent Events and redraws itself when an
// event arrives, without a reload. The stream is read with fetch() (EventSource cannot send
// the API key); a dropped stream reconnects with Last-Event-ID, so nothing is missed.
// A negotiation page in time travel (as_of / as_of_version) shows a fixed past: it stays frozen.
"use strict";

const ParleyLive = (() => {
  const RETRY_MS = 1000;
  const SETTLE_MS = 150; // events recorded together (a batch) make one redraw

  // Calls onEvent({id, event, data}) for each message of the stream at `path`, for as long as
  // shouldRun() holds; onOpen(again) once each (re)connection is answered (again: a reconnect).
  function follow(path, onEvent, onOpen, shouldRun) {
    let lastId = null;
    let controller = null;
    let opened = 0;

    async function connect() {
      if (!shouldRun()) return;
      controller = new AbortController();
      const headers = { Accept: "text/event-stream" };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      try {
        const response = await Parley.authorizedFetch(new URL(path, window.location.origin), headers, controller.signal);
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onOpen(opened++ > 0);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const message = { id: null, event: "message", data: [] };
            for (const line of block.split("\n")) {
              if (!line || line.startsWith(":")) continue;
              const colon = line.indexOf(":");
              const name = colon < 0 ? line : line.slice(0, colon);
              const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              if (name === "id") message.id = text;
              else if (name === "event") message.event = text;
              else if (name === "data") message.data.push(text);
            }
            if (message.id === null) continue;
            lastId = message.id;
            onEvent({ id: message.id, event: message.event, data: JSON.parse(message.data.join("\n")) });
          }
        }
      } catch (e) {
        if (e.name === "AbortError") return;
      }
      if (shouldRun()) window.setTimeout(connect, RETRY_MS);
    }

    connect();
    return () => { if (controller) controller.abort(); };
  }

  // Runs redraw() once events stop arriving for a moment.
  function settled(redraw) {
    let timer = null;
    return () => {
      if (timer !== null) window.clearTimeout(timer);
      timer = window.setTimeout(() => { timer = null; redraw(); }, SETTLE_MS);
    };
  }

  function negotiationPage(page) {
    const root = document.getElementById("page");
    const slug = decodeURIComponent(window.location.pathname.replace(/^\/n\//, "").replace(/\/$/, ""));
    let stop = null;
    let seen = 0;
    const redraw = settled(() => { if (!page.frozen()) page.reload(); });

    function sync() {
      // Following only while the page shows the present; time travel freezes it.
      if (page.frozen()) {
        if (stop) { stop(); stop = null; }
        root.dataset.live = "frozen";
        return;
      }
      if (stop) return;
      root.dataset.live = "connecting";
      stop = follow(`/negotiations/${encodeURIComponent(slug)}/stream`,
        () => { seen += 1; root.dataset.liveEvents = String(seen); redraw(); },
        // A reconnect without a last id (nothing came yet) may have missed events: redraw.
        (again) => { root.dataset.live = "on"; if (again && seen === 0) redraw(); },
        () => !page.frozen());
    }

    sync();
    window.addEventListener("popstate", sync);
    document.addEventListener("parley:state", sync);
  }

  function indexPage(page) {
    const table = document.getElementById("negotiations");
    const redraw = settled(() => page.reload());
    follow("/events/stream",
      () => redraw(),
      () => { table.dataset.live = "on"; },
      () => true);
  }

  return { follow, negotiationPage, indexPage };
})();

window.addEventListener("DOMContentLoaded", () => {
  if (window.ParleyPage) ParleyLive.negotiationPage(window.ParleyPage);
  else if (window.ParleyIndex) ParleyLive.indexPage(window.ParleyIndex);
});
