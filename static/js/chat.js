// The chat page's sidebar (search, rename, delete, the drawer on phones), its knowledge-base menu,
// and the actions on messages: rate, edit (copying is chat_copy.js, versions chat_versions.js).
// Clicks anywhere on the page are routed here. Loaded after chat_common.js, chat_copy.js and
// chat_versions.js, and before chat_answer.js, which asks and streams the answers.
"use strict";

(function () {
  const chat = window.chat;
  const { form, strings, el, icon, post, copyText, copyMessage, switchVersion } = chat;
  const app = document.getElementById("app");

  // ---- Feedback: thumbs up or down, then an optional comment

  function feedbackUrl(article) {
    return form.dataset.feedbackUrl.replace("{id}", article.dataset.messageId);
  }

  async function rate(button) {
    const article = button.closest(".msg-assistant");
    const pressed = button.getAttribute("aria-pressed") === "true";
    const rating = pressed ? "" : button.dataset.rating;
    const comment = article.querySelector(".feedback-form");
    try {
      await post(feedbackUrl(article), { rating, feedback: comment.feedback.value });
    } catch {
      return;
    }
    for (const other of article.querySelectorAll(".action-rate")) {
      other.setAttribute("aria-pressed", String(other.dataset.rating === rating));
    }
    comment.hidden = !rating;
    if (rating) comment.feedback.focus();
  }

  async function sendFeedback(comment) {
    const article = comment.closest(".msg-assistant");
    const rating = article.querySelector(".action-rate[aria-pressed=true]")?.dataset.rating || "";
    await post(feedbackUrl(article), { rating, feedback: comment.feedback.value });
    comment.hidden = true;
    const thanks = el("p", "feedback-thanks", icon("check"), strings.thanks);
    comment.after(thanks);
    setTimeout(() => thanks.remove(), 2500);
  }

  // ---- Save to FAQ: the admin's FAQ form, filled with this answer and its question, in a new tab

  function saveToFaq(button) {
    const article = button.closest(".msg-assistant");
    const url = form.dataset.saveFaqUrl + "?from_message=" + encodeURIComponent(article.dataset.messageId);
    window.open(url, "_blank", "noopener");
  }

  // ---- Editing the last question

  function editQuestion(button) {
    const question = button.closest(".msg-user");
    const article = question.nextElementSibling;
    if (chat.isStreaming() || question.querySelector(".edit-box") || !article) return;
    const bubble = question.querySelector(".bubble");
    const area = el("textarea", "", bubble.textContent);
    area.rows = 3;
    area.setAttribute("aria-label", strings.send);
    const cancel = el("button", "button button-small", strings.cancel);
    const send = el("button", "button button-small button-primary", strings.send);
    cancel.type = send.type = "button";
    const box = el("div", "edit-box", area, el("div", "edit-bar", cancel, send));
    question.classList.add("is-editing");
    question.prepend(box);
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
    const close = () => { box.remove(); question.classList.remove("is-editing"); };
    const submit = () => {
      const text = area.value.trim();
      if (!text) return;
      close();
      chat.askAgain(article, text);
    };
    cancel.addEventListener("click", close);
    send.addEventListener("click", submit);
    area.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });
  }

  // ---- Sidebar: the list is rendered by the server, searched as the user types

  const search = document.getElementById("search");
  let searchTimer = null;

  async function refreshSidebar() {
    const params = new URLSearchParams({ q: search.q.value, current: form?.conversation.value || "" });
    const response = await fetch(search.dataset.listUrl + "?" + params);
    if (response.ok) document.getElementById("conversation-list").innerHTML = await response.text();
  }

  function showConversation(meta) {
    document.getElementById("chat-title").textContent = meta.title;
    document.title = meta.title + " · " + strings.product;
    refreshSidebar();
  }

  function openDialog(id, button) {
    const dialog = document.getElementById(id);
    const dialogForm = dialog.querySelector("form");
    dialogForm.action = button.dataset.url;
    const subject = dialog.querySelector(".dialog-subject");
    const title = dialog.querySelector("input[name=title]");
    if (subject) subject.textContent = button.dataset.title;
    if (title) title.value = button.dataset.title;
    dialog.showModal();
    title?.select();
  }

  function toggleNav() {
    const open = app.classList.toggle("nav-is-open");
    app.querySelector(".scrim").hidden = !open;
    app.querySelector(".nav-open").setAttribute("aria-expanded", String(open));
  }

  // ---- Knowledge bases: at least one stays ticked; the summary names those ticked

  const kbMenu = document.getElementById("kb-menu");

  function onKnowledgeBaseChange(event) {
    const boxes = [...kbMenu.querySelectorAll("input[type=checkbox]")];
    if (!boxes.some((box) => box.checked)) event.target.checked = true;
    const names = boxes.filter((box) => box.checked).map((box) => box.nextElementSibling.textContent);
    document.getElementById("kb-summary").textContent = names.join(strings.listSeparator);
  }

  // ---- Clicks anywhere on the page

  const actions = [
    ["a.cite", (target, event) => { event.preventDefault(); chat.showCitation(target); }],
    [".retry-button", (target) => chat.askAgain(target.closest(".msg-assistant"))],
    [".action-regenerate", (target) => chat.askAgain(target.closest(".msg-assistant"))],
    [".follow-up", (target) => chat.askFollowUp(target)],
    [".reload-button", () => location.reload()],
    [".action-copy", copyMessage],
    [".code-copy", (target) => copyText(target.closest(".highlight").querySelector("pre").innerText, target)],
    [".action-rate", rate],
    [".action-save-faq", saveToFaq],
    [".feedback-cancel", (target) => { target.closest(".feedback-form").hidden = true; }],
    [".action-edit", editQuestion],
    [".version-prev, .version-next", switchVersion],
    [".rename-button", (target) => openDialog("rename-dialog", target)],
    [".delete-button", (target) => openDialog("delete-dialog", target)],
    [".share-button", (target) => openDialog("share-dialog", target)],
    ["[data-close]", (target) => target.closest("dialog").close()],
    ["[data-nav-toggle]", toggleNav],
  ];

  function onClick(event) {
    if (kbMenu?.open && !kbMenu.contains(event.target)) kbMenu.open = false;
    for (const [selector, act] of actions) {
      const target = event.target.closest(selector);
      if (target) return act(target, event);
    }
  }

  function onFeedbackSubmit(event) {
    if (!event.target.matches(".feedback-form")) return;
    event.preventDefault();
    sendFeedback(event.target).catch(() => {});
  }

  function showConnection() {
    document.getElementById("offline").hidden = navigator.onLine;
  }

  document.addEventListener("click", onClick);
  document.addEventListener("submit", onFeedbackSubmit);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && kbMenu?.open) kbMenu.open = false;
  });
  window.addEventListener("online", showConnection);
  window.addEventListener("offline", showConnection);
  search.q.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(refreshSidebar, 200);
  });
  kbMenu?.addEventListener("change", onKnowledgeBaseChange);
  showConnection();

  chat.showConversation = showConversation;
})();
