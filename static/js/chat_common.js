// Shared by the chat page's scripts, and loaded before them: the page's translated strings and
// composer, and small helpers to build elements and post to the server. The scripts meet on
// window.chat: chat.js adds the sidebar and the actions on messages, chat_scroll.js the scrolling,
// chat_copy.js copying, chat_versions.js the versions of an answer, chat_answer.js the answers.
"use strict";

(function () {
  // el("p", "class", child, "text", ...): an element with its children.
  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    node.append(...children);
    return node;
  }

  function icon(name, className = "icon") {
    const template = document.createElement("template");
    template.innerHTML = `<svg class="${className}" aria-hidden="true"><use href="#i-${name}"/></svg>`;
    return template.content.firstChild;
  }

  async function post(url, fields) {
    const body = new FormData();
    for (const [name, value] of Object.entries(fields)) body.set(name, value);
    const response = await fetch(url, { method: "POST", body, headers: { "X-CSRFToken": csrfToken() } });
    if (!response.ok) throw new Error(response.statusText);
    return response.json();
  }

  // The chat widget's panel has none: its ticket, in its form, stands for it.
  function csrfToken() {
    return document.querySelector("[name=csrfmiddlewaretoken]")?.value || "";
  }

  window.chat = {
    form: document.getElementById("composer"),
    strings: document.getElementById("chat-strings").dataset,
    el,
    icon,
    post,
    csrfToken,
  };
})();
