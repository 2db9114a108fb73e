// The chat widget's panel (/widget/<key>/, framed by the host page): the chat page's answer
// rendering (chat_answer.js) with what the panel adds. Before a question is sent, the recent turns
// on the page go in the form as its history (the server keeps no conversation for the widget);
// a token-mode widget's token comes from the host page's loader by postMessage; and the few clicks
// the panel has (citations, retry, copying code) are routed here. Loaded after chat_common.js,
// chat_scroll.js, chat_copy.js and chat_versions.js, and before chat_answer.js.
"use strict";

(function () {
  const chat = window.chat;
  const { form, copyText } = chat;
  const MAX_TURNS = 6; // questions and answers, as the server takes them
  const MAX_CHARS = 4000;

  function recentTurns() {
    const turns = [];
    for (const message of document.querySelectorAll("#messages .msg")) {
      const user = message.classList.contains("msg-user");
      const text = (user ? message.querySelector(".bubble") : message.querySelector(".answer"))?.innerText.trim();
      if (text) turns.push({ role: user ? "user" : "assistant", content: text.slice(0, MAX_CHARS) });
    }
    return turns.slice(-MAX_TURNS);
  }

  // In the capture phase, so that the history is in the form when chat_answer.js reads it.
  document.addEventListener("submit", (event) => {
    if (event.target === form) form.history.value = JSON.stringify(recentTurns());
  }, true);

  window.addEventListener("message", (event) => {
    if (event.source === window.parent && event.data?.type === "knowledge-chat-token") {
      form.token.value = String(event.data.token || "");
    }
  });
  if (window.parent !== window) window.parent.postMessage({ type: "knowledge-chat-ready" }, "*");

  const actions = [
    ["a.cite", (target, event) => { event.preventDefault(); chat.showCitation(target); }],
    [".retry-button", (target) => chat.askAgain(target.closest(".msg-assistant"))],
    [".code-copy", (target) => copyText(target.closest(".highlight").querySelector("pre").innerText, target)],
  ];
  document.addEventListener("click", (event) => {
    for (const [selector, act] of actions) {
      const target = event.target.closest(selector);
      if (target) return act(target, event);
    }
  });
})();
