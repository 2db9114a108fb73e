// The chat widget's loader, run on the host page by its snippet:
//   <script src="https://<app>/widget/<key>/loader.js" async></script>
// It asks the app whether this page's origin may use the widget (CORS: a page that may not gets no
// answer it can read, and nothing is added), then adds a round chat button at the bottom right that
// opens a panel framing /widget/<key>/ in the page's language (<html lang="zh…"> → Chinese). Styled
// through element.style, so that it needs nothing of the host's CSS or CSP. A token-mode widget's
// token (data-token on the script tag) is handed to the panel by postMessage, never in a URL.
"use strict";

(function () {
  const script = document.currentScript;
  if (!script || !script.src) return;
  const src = new URL(script.src);
  const base = src.origin + src.pathname.replace(/loader\.js$/, "");
  const lang = /^zh/i.test(document.documentElement.lang || "") ? "zh-hans" : "en";
  const token = script.dataset.token || "";
  const SVG = "http://www.w3.org/2000/svg";

  function icon(paths) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    Object.assign(svg.style, { width: "26px", height: "26px", fill: "none", stroke: "currentColor",
      strokeWidth: "1.8", strokeLinecap: "round", strokeLinejoin: "round" });
    for (const d of paths) {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      svg.append(path);
    }
    return svg;
  }

  const CHAT = ["M5 7a3 3 0 0 1 3-3h8a3 3 0 0 1 3 3v6a3 3 0 0 1-3 3h-5l-4 3.5V16a3 3 0 0 1-2-2.8z", "M9 9h6M9 12h4"];
  const CLOSE = ["M6 6l12 12M18 6L6 18"];

  function button(config) {
    const node = document.createElement("button");
    node.type = "button";
    node.className = "knowledge-chat-button";
    node.setAttribute("aria-label", config.open);
    node.setAttribute("aria-expanded", "false");
    node.title = config.open;
    Object.assign(node.style, {
      position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483000", width: "56px", height: "56px",
      borderRadius: "50%", border: "0", padding: "0", margin: "0", cursor: "pointer", display: "flex",
      alignItems: "center", justifyContent: "center", background: "#4a63e7", color: "#fff",
      boxShadow: "0 6px 24px rgba(16, 20, 30, .25)",
    });
    node.append(icon(CHAT));
    return node;
  }

  function panel(config) {
    const node = document.createElement("div");
    node.className = "knowledge-chat-panel";
    node.hidden = true;
    Object.assign(node.style, {
      position: "fixed", right: "20px", bottom: "88px", zIndex: "2147483000",
      width: "min(400px, calc(100vw - 40px))", height: "min(620px, calc(100vh - 120px))",
      borderRadius: "16px", overflow: "hidden", background: "#fff", border: "1px solid #e7e7ea",
      boxShadow: "0 6px 32px rgba(16, 20, 30, .22)",
    });
    return node;
  }

  function frame(config) {
    const node = document.createElement("iframe");
    node.src = config.frame_url + "?lang=" + lang;
    node.title = config.title;
    Object.assign(node.style, { width: "100%", height: "100%", border: "0", display: "block" });
    return node;
  }

  // The panel asks for the token when its script is ready; only our frame is answered, and only
  // our origin may read the answer.
  function handToken(frameNode, origin) {
    window.addEventListener("message", (event) => {
      if (event.source !== frameNode.contentWindow || event.origin !== origin) return;
      if (event.data?.type === "knowledge-chat-ready") {
        frameNode.contentWindow.postMessage({ type: "knowledge-chat-token", token }, origin);
      }
    });
  }

  function show(config) {
    if (!document.body) return document.addEventListener("DOMContentLoaded", () => show(config));
    const open = button(config);
    const box = panel(config);
    let frameNode = null;
    open.addEventListener("click", () => {
      if (!frameNode) {
        frameNode = frame(config);
        if (config.token) handToken(frameNode, new URL(config.frame_url).origin);
        box.append(frameNode);
      }
      box.hidden = !box.hidden;
      box.style.display = box.hidden ? "none" : "block";
      const label = box.hidden ? config.open : config.close;
      open.setAttribute("aria-expanded", String(!box.hidden));
      open.setAttribute("aria-label", label);
      open.title = label;
      open.replaceChildren(icon(box.hidden ? CHAT : CLOSE));
    });
    box.style.display = "none";
    document.body.append(box, open);
  }

  fetch(base + "config?lang=" + lang, { credentials: "omit" })
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(response.status))))
    .then(show)
    .catch(() => console.warn("Knowledge Chat: this page may not show the chat widget " + base));
})();
