// The chat page: sends a question, reads the answer's Server-Sent Events from the POST
// response, and renders reasoning, answer and sources with the markup of _message.html.
"use strict";

(function () {
  const app = document.getElementById("app");
  const thread = document.getElementById("thread");
  const messages = document.getElementById("messages");
  const jumpButton = document.getElementById("jump");
  const form = document.getElementById("composer");
  const strings = document.getElementById("chat-strings").dataset;
  let stream = null; // {controller, view} while an answer streams
  let followBottom = true;

  function text(key, n) {
    return strings[key].replace("{n}", n);
  }

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

  // ---- Scrolling: follow the answer unless the reader has scrolled up.

  function scrollToEnd(force) {
    if (force) followBottom = true;
    if (followBottom) thread.scrollTop = thread.scrollHeight;
  }

  function onThreadScroll() {
    followBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
    jumpButton.hidden = followBottom;
  }

  // ---- Composer

  function autoGrow() {
    form.question.style.height = "auto";
    form.question.style.height = form.question.scrollHeight + "px";
  }

  function updateSendButton() {
    const button = form.querySelector(".send-button");
    button.disabled = !stream && !form.question.value.trim();
    button.title = stream ? strings.stop : strings.send;
    button.setAttribute("aria-label", button.title);
    form.classList.toggle("is-streaming", Boolean(stream));
  }

  function onKeyDown(event) {
    // isComposing: Enter also confirms a Chinese input-method candidate.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    if (!stream) form.requestSubmit();
  }

  function onSubmit(event) {
    event.preventDefault();
    if (stream) return stop(stream);
    const question = form.question.value.trim();
    if (!question) return;
    form.question.value = "";
    autoGrow();
    ask(question);
  }

  // ---- The answer being streamed ("view"): typing dots, then reasoning pane and answer.

  function appendExchange(question) {
    document.getElementById("welcome")?.remove();
    const typing = el("div", "typing", el("span"), el("span"), el("span"));
    const body = el("div", "msg-body", typing);
    const article = el("article", "msg msg-assistant", icon("logo", "logo msg-avatar"), body);
    messages.append(el("article", "msg msg-user", el("div", "bubble", question)), article);
    return { article, body, typing, answer: null, reasoning: null, failed: false };
  }

  function answerText(view) {
    if (!view.answer) {
      view.answer = el("div", "answer prose is-plain is-streaming", "");
      view.typing.remove();
      view.body.append(view.answer);
    }
    return view.answer.firstChild;
  }

  function startReasoning(view) {
    const label = el("span", "reasoning-label", text("thinking", 0));
    const body = el("div", "reasoning-text", "");
    const summary = el("summary", "", icon("spark"), label, icon("chevron", "icon reasoning-chevron"));
    const details = el("details", "reasoning is-thinking", summary, body);
    details.open = true;
    view.typing.remove();
    view.body.prepend(details);
    const started = Date.now();
    const seconds = () => Math.round((Date.now() - started) / 1000);
    const timer = setInterval(() => { label.textContent = text("thinking", seconds()); }, 250);
    view.reasoning = { details, label, body, timer, seconds, thinking: true };
  }

  // Collapses the pane when the answer starts; the server's own count wins when it has one.
  function finishReasoning(view, serverSeconds) {
    const pane = view.reasoning;
    if (!pane) return;
    if (pane.thinking) {
      clearInterval(pane.timer);
      pane.thinking = false;
      pane.details.open = false;
      pane.details.classList.remove("is-thinking");
      pane.label.textContent = text("thought", pane.seconds());
    }
    if (serverSeconds != null) pane.label.textContent = text("thought", serverSeconds);
  }

  function settle(view) {
    finishReasoning(view);
    view.typing.remove();
    view.answer?.classList.remove("is-streaming");
  }

  function showFailure(view, message) {
    settle(view);
    view.failed = true;
    const retry = el("button", "button button-small retry-button", icon("retry"), strings.retry);
    retry.type = "button";
    const box = el("div", "error-box", icon("alert"), el("p", "", message), retry);
    box.setAttribute("role", "alert");
    view.body.append(box);
  }

  function showGrounding(view, grounding) {
    const text = { general: strings.general, "not-found": strings.notFound }[grounding];
    if (!text || !view.answer) return;
    const general = grounding === "general";
    const note = el("p", "grounding-note" + (general ? " is-general" : ""), icon(general ? "alert" : "book"), text);
    view.answer.before(note);
  }

  function showStopped(view) {
    settle(view);
    view.body.append(el("p", "status-note", strings.stopped));
  }

  // ---- Stream events

  const handlers = {
    meta(view, data) {
      history.replaceState(null, "", data.conversation_url);
      form.conversation.value = data.conversation_id;
      view.article.id = "m-" + data.message_id;
      showConversation(data);
    },
    reasoning(view, data) {
      if (!view.reasoning) startReasoning(view);
      view.reasoning.body.firstChild.appendData(data.text);
    },
    content(view, data) {
      if (data.replaces_reasoning) {
        // A distill's reply without a closing tag: what streamed as reasoning was the answer.
        clearInterval(view.reasoning?.timer);
        view.reasoning?.details.remove();
        view.reasoning = null;
      }
      finishReasoning(view);
      answerText(view).appendData(data.text);
    },
    error(view, data) {
      showFailure(view, data.message || strings.requestFailed);
    },
    done(view, data) {
      finishReasoning(view, data.thought_seconds);
      if (data.mode === "retrieval-only") view.reasoning?.details.remove();
      view.article.id = "m-" + data.message_id;
      if (data.html) {
        answerText(view);
        view.answer.classList.remove("is-plain");
        view.answer.innerHTML = data.html; // sanitised by the server
      }
      settle(view);
      showGrounding(view, data.grounding);
      if (data.status === "stopped") showStopped(view);
      if (data.status === "failed" && !view.failed) showFailure(view, strings.requestFailed);
      if (data.citations?.length && data.mode !== "retrieval-only") {
        view.body.append(renderSources(data.message_id, data.citations));
      }
      decorateCitations(view.article);
    },
  };

  // ---- Sending, and reading the Server-Sent Events of the response

  // The server stops the model and keeps the partial answer; the stream then ends with "done".
  // Before the answer has an id (or if the request fails) only this page can stop listening.
  async function stop(current) {
    if (current.messageId && !current.stopping) {
      current.stopping = true;
      try {
        const url = form.dataset.stopUrl.replace("{id}", current.messageId);
        const response = await fetch(url, { method: "POST", headers: { "X-CSRFToken": form.csrfmiddlewaretoken.value } });
        if (response.ok) return;
      } catch (error) {
        // fall through to aborting
      }
    }
    current.controller.abort();
  }

  async function ask(question) {
    const view = appendExchange(question);
    const body = new FormData(form);
    body.set("question", question);
    stream = { controller: new AbortController(), view };
    updateSendButton();
    scrollToEnd(true);
    let done = false;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": form.csrfmiddlewaretoken.value, Accept: "text/event-stream" },
        signal: stream.controller.signal,
      });
      await checkResponse(response);
      await readEvents(response, (name, data) => {
        done = done || name === "done";
        if (name === "meta") stream.messageId = data.message_id;
        handlers[name]?.(view, data);
        scrollToEnd(false);
      });
      if (!done && !view.failed) showFailure(view, strings.connectionLost);
    } catch (error) {
      if (error.name === "AbortError") showStopped(view);
      else if (!view.failed) showFailure(view, error.userMessage || strings.connectionLost);
    } finally {
      stream = null;
      updateSendButton();
      scrollToEnd(false);
    }
  }

  // A login page instead of a stream means the session expired; JSON carries the server's reason.
  async function checkResponse(response) {
    const type = response.headers.get("Content-Type") || "";
    if (response.ok && type.startsWith("text/event-stream")) return;
    const payload = type.startsWith("application/json") ? await response.json().catch(() => ({})) : {};
    const error = new Error(response.statusText);
    error.userMessage = payload.error || payload.message || payload.detail ||
      (type.startsWith("text/html") ? strings.sessionExpired : strings.requestFailed);
    throw error;
  }

  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseFrame(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) onEvent(event.name, event.data);
      }
    }
  }

  function parseFrame(frame) {
    let name = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      if (!line || line.startsWith(":")) continue; // ":" lines are keep-alive comments
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    try {
      return data.length ? { name, data: JSON.parse(data.join("\n")) } : null;
    } catch {
      return null;
    }
  }

  function retry(button) {
    const article = button.closest(".msg-assistant");
    const question = article.previousElementSibling;
    if (stream || !form || !question?.classList.contains("msg-user")) return;
    article.remove();
    question.remove();
    ask(question.textContent.trim());
  }

  // ---- Sources and citation markers

  function renderSources(messageId, citations) {
    const list = el("ol", "source-list");
    for (const citation of citations) {
      const meta = el("span", "source-meta", el("span", "source-doc", citation.document));
      if (citation.location) meta.append(el("span", "source-loc", citation.location));
      const body = el("div", "source-body", el("blockquote", "source-text", citation.text));
      if (citation.document_url) {
        const link = el("a", "source-open", strings.openDocument, icon("external"));
        Object.assign(link, { href: citation.document_url, target: "_blank", rel: "noopener" });
        body.append(link);
      }
      const summary = el("summary", "", el("span", "source-n", String(citation.n)), meta,
        icon("chevron", "icon source-chevron"));
      const item = el("li", "source", el("details", "", summary, body));
      item.id = "cite-" + messageId + "-" + citation.n;
      list.append(item);
    }
    const section = el("section", "sources", el("h3", "sources-title", strings.sources), list);
    section.setAttribute("aria-label", strings.sources);
    return section;
  }

  // Markers arrive as "[n]": show bare numbers, with the source's title on hover.
  function decorateCitations(root) {
    for (const link of root.querySelectorAll("a.cite")) {
      link.textContent = link.textContent.replace(/[[\]]/g, "");
      const title = document.getElementById(link.hash.slice(1))?.querySelector(".source-doc");
      if (title) link.title = title.textContent;
    }
  }

  function showCitation(link) {
    const card = document.getElementById(link.hash.slice(1));
    if (!card) return;
    card.querySelector("details").open = true;
    card.scrollIntoView({ behavior: "smooth", block: "nearest" });
    card.classList.remove("is-highlighted");
    void card.offsetWidth; // restarts the highlight when the same marker is clicked again
    card.classList.add("is-highlighted");
    setTimeout(() => card.classList.remove("is-highlighted"), 1800);
  }

  // ---- Sidebar

  function showConversation(meta) {
    const list = document.getElementById("conversation-list");
    let link = list.querySelector('[data-conversation-id="' + meta.conversation_id + '"]');
    if (!link) {
      link = el("a", "conversation-link");
      link.href = meta.conversation_url;
      link.dataset.conversationId = meta.conversation_id;
      list.querySelector(".conversation-empty")?.remove();
    }
    for (const other of list.querySelectorAll(".is-current")) {
      other.classList.remove("is-current");
      other.removeAttribute("aria-current");
    }
    link.textContent = link.title = meta.title;
    link.classList.add("is-current");
    link.setAttribute("aria-current", "page");
    list.prepend(link.parentElement || el("li", "", link));
    document.getElementById("chat-title").textContent = meta.title;
    document.title = meta.title + " · " + strings.product;
  }

  function toggleNav() {
    const open = app.classList.toggle("nav-is-open");
    app.querySelector(".scrim").hidden = !open;
    app.querySelector(".nav-open").setAttribute("aria-expanded", String(open));
  }

  function onClick(event) {
    const target = event.target.closest("a.cite, .retry-button, [data-nav-toggle]");
    if (!target) return;
    if (target.matches("a.cite")) {
      event.preventDefault();
      showCitation(target);
    } else if (target.matches(".retry-button")) {
      retry(target);
    } else {
      toggleNav();
    }
  }

  document.addEventListener("click", onClick);
  thread.addEventListener("scroll", onThreadScroll, { passive: true });
  jumpButton.addEventListener("click", () => scrollToEnd(true));
  decorateCitations(messages);
  scrollToEnd(true);
  if (form) {
    form.addEventListener("submit", onSubmit);
    form.question.addEventListener("keydown", onKeyDown);
    form.question.addEventListener("input", () => { autoGrow(); updateSendButton(); });
    updateSendButton();
  }
})();
