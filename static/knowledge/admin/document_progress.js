// Keeps the document status cells current: polls the admin's progress view every 2 s while any
// document on the page is queued or processing, and stops when none is.
(function () {
  "use strict";

  const INTERVAL_MS = 2000;
  const RETRY_MS = 10000;
  const PENDING = new Set(["queued", "processing"]);

  function pendingCells() {
    return Array.from(document.querySelectorAll(".doc-state[data-document-id]")).filter(
      (cell) => PENDING.has(cell.dataset.status)
    );
  }

  function render(cell, state) {
    cell.dataset.status = state.status;
    cell.querySelector(".doc-badge").textContent = state.status_display;
    const bar = cell.querySelector(".doc-progress");
    bar.setAttribute("aria-valuenow", state.progress);
    bar.querySelector(".doc-progress-bar").style.width = state.progress + "%";
    cell.querySelector(".doc-progress-label").textContent = state.progress_label;
    cell.querySelector(".doc-reason").textContent = state.error;
    for (const chunks of document.querySelectorAll(`.doc-chunks[data-document-id="${state.id}"]`)) {
      chunks.textContent = state.chunk_count;
    }
  }

  async function poll() {
    const cells = pendingCells();
    if (cells.length === 0) return;
    if (document.hidden) {
      setTimeout(poll, INTERVAL_MS);
      return;
    }
    const url = new URL(cells[0].dataset.progressUrl, window.location.href);
    url.searchParams.set("ids", cells.map((cell) => cell.dataset.documentId).join(","));
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch (error) {
      setTimeout(poll, RETRY_MS); // the server is unreachable for now
      return;
    }
    // Logged out or no longer allowed: the page stays as it is.
    if (!response.ok || !(response.headers.get("Content-Type") || "").includes("json")) return;
    const states = new Map((await response.json()).documents.map((state) => [String(state.id), state]));
    for (const cell of cells) {
      const state = states.get(cell.dataset.documentId);
      if (state) render(cell, state);
      else cell.dataset.status = "deleted";
    }
    setTimeout(poll, INTERVAL_MS);
  }

  function start() {
    // The bars get their width here: the page's CSP refuses style attributes in the markup.
    for (const bar of document.querySelectorAll(".doc-progress")) {
      bar.querySelector(".doc-progress-bar").style.width = bar.getAttribute("aria-valuenow") + "%";
    }
    setTimeout(poll, INTERVAL_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
