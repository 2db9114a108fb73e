// The chat page's answers: the composer sends a question, the answer's Server-Sent Events are
// read from the POST response and rendered with the markup of _message.html (reasoning, answer,
// sources, follow-up questions); stop, retry, regenerate and resend. Loaded last, after
// chat_common.js, chat_scroll.js, chat_copy.js, chat_versions.js and chat.js.
"use strict";

(function () {
  const chat = window.chat;
  const { form, strings, el, icon, post, csrfToken, showConversation, scrollToEnd, showAnswerStart } = chat;
  const messages = document.getElementById("messages");
  let stream = null; // {controller, view} while an answer streams
  const PREVIEW_EVERY_MS = 500;

  function text(key, n) {
    return strings[key].replace("{n}", n);
  }

  function fromTemplate(id) {
    return document.getElementById(id).content.cloneNode(true);
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

  // A new answer goes after `previous`, the last version of the answer it is another version of;
  // without one it answers a new question, shown above it.
  function appendAnswer(question, previous) {
    document.getElementById("welcome")?.remove();
    const typing = el("div", "typing", el("span"), el("span"), el("span"));
    const body = el("div", "msg-body", typing);
    const article = el("article", "msg msg-assistant", icon("logo", "logo msg-avatar"), body);
    if (previous) {
      previous.after(article);
    } else {
      const asked = el("article", "msg msg-user", el("div", "bubble", question), fromTemplate("question-actions"));
      messages.append(asked, article);
    }
    return { article, body, typing, answer: null, reasoning: null, failed: false, text: "", done: false };
  }

  // The answer's text arrives as plain text at its end ("tail"); every so often the server renders
  // what has arrived as Markdown, and the tail continues after it.
  function answerText(view) {
    if (!view.answer) {
      view.tail = document.createTextNode("");
      view.answer = el("div", "answer prose is-plain is-streaming", view.tail);
      view.typing.remove();
      view.body.append(view.answer);
    }
    return view.tail;
  }

  // Plain prose reads the same as text; a preview is worth a request once Markdown shows up.
  const MARKDOWN = /(^|\n) {0,3}([#>|*+-] |\d+[.)] |```|~~~)|\*\*|__|`/;

  function schedulePreview(view) {
    if (view.previewing || view.done || !form.dataset.previewUrl) return; // the chat widget has none
    view.markdown ||= MARKDOWN.test(view.text);
    if (!view.markdown) return;
    view.previewing = true;
    // A busy server answers slowly: then preview less often, so previews never crowd out answers.
    const every = Math.max(PREVIEW_EVERY_MS, 10 * (view.previewMs || 0));
    const wait = Math.max(0, (view.previewed || 0) + every - Date.now());
    setTimeout(async () => {
      const text = view.text;
      const sent = Date.now();
      try {
        const { html } = await post(form.dataset.previewUrl, { text });
        view.previewMs = Date.now() - sent;
        if (!view.done) showPreview(view, html, text.length);
      } catch {
        // the plain text stays; the finished answer is rendered anyway
      } finally {
        view.previewing = false;
        view.previewed = Date.now();
        if (!view.done && view.text.length > text.length) schedulePreview(view);
      }
    }, wait);
  }

  // Inside a code block still open (the server closed it for the preview) the tail is code too.
  function showPreview(view, html, length) {
    view.answer.classList.remove("is-plain");
    view.answer.innerHTML = html; // sanitised by the server
    view.tail = document.createTextNode(view.text.slice(length));
    const fences = view.text.slice(0, length).match(/^ {0,3}(`{3,}|~{3,})/gm) || [];
    const openCode = fences.length % 2 ? view.answer.querySelector(".highlight:last-child code") : null;
    if (openCode) {
      let last = openCode;
      while (last.lastChild) last = last.lastChild;
      if (last.nodeType === Node.TEXT_NODE) last.data = last.data.replace(/\n$/, ""); // the highlighter's own
      openCode.append(view.tail);
    } else {
      view.answer.append(el("span", "answer-tail", view.tail));
    }
    decorateCode(view.answer.parentElement);
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
      pane.label.textContent = text("thought", Math.max(1, pane.seconds()));
    }
    if (serverSeconds != null) pane.label.textContent = text("thought", serverSeconds);
  }

  function settle(view) {
    view.done = true;
    finishReasoning(view);
    view.typing.remove();
    view.answer?.classList.remove("is-streaming");
  }

  // After a lost connection the server still finishes and saves the answer: reloading shows it.
  function failureBox(message, reload = false) {
    const retry = reload
      ? el("button", "button button-small reload-button", icon("retry"), strings.reload)
      : el("button", "button button-small retry-button", icon("retry"), strings.retry);
    retry.type = "button";
    const box = el("div", "error-box", icon("alert"), el("p", "", message), retry);
    box.setAttribute("role", "alert");
    return box;
  }

  function showFailure(view, message, reload = false) {
    settle(view);
    view.failed = true;
    view.body.append(failureBox(message, reload));
  }

  // A regenerate the server refused (over the answer limit, say) added no version: the one shown
  // before comes back, switcher and all, with the server's reason under it.
  function showRefusedVersion(view, shown, message) {
    view.article.remove();
    shown.hidden = false;
    const box = failureBox(message);
    box.classList.add("is-refusal");
    shown.querySelector(".msg-body").append(box);
  }

  function showGrounding(view, grounding) {
    const text = { general: strings.general, "not-found": strings.notFound, faq: strings.faq }[grounding];
    if (!text || !view.answer) return;
    const look = { general: [" is-general", "alert"], faq: [" is-faq", "check"] }[grounding] || ["", "book"];
    view.answer.before(el("p", "grounding-note" + look[0], icon(look[1]), text));
  }

  // A fallback answered: the model asked was unavailable.
  function showFallback(view, note) {
    if (note && view.answer) view.answer.before(el("p", "grounding-note is-fallback", icon("spark"), note));
  }

  function showStopped(view) {
    settle(view);
    view.body.append(el("p", "status-note", strings.stopped));
  }

  // ---- Stream events

  const handlers = {
    // Retrieval has started: said beside the dots until the passages are found (then the dots wait
    // for the model) or the answer starts.
    searching(view) {
      view.typing.append(el("div", "typing-label", strings.searching));
    },
    passages(view) {
      view.typing.querySelector(".typing-label")?.remove();
    },
    meta(view, data) {
      history.replaceState(null, "", data.conversation_url);
      // Forms that come back to this page (language switch, dialogs) come back to the conversation.
      for (const next of document.querySelectorAll("input[name=next]")) next.value = data.conversation_url;
      form.conversation.value = data.conversation_id;
      view.article.id = "m-" + data.message_id;
      view.article.dataset.messageId = data.message_id;
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
      view.text += data.text;
      schedulePreview(view);
    },
    // The content policy stopped the answer: nothing of it, or of its reasoning, stays on the page.
    withdrawn(view, data) {
      view.done = true; // a preview of the withdrawn text still on its way is not shown
      clearInterval(view.reasoning?.timer);
      view.reasoning?.details.remove();
      view.reasoning = null;
      answerText(view);
      view.tail = document.createTextNode(data.text);
      view.answer.classList.add("is-plain");
      view.answer.replaceChildren(view.tail);
      view.text = data.text;
    },
    error(view, data) {
      showFailure(view, data.message || strings.requestFailed);
    },
    done(view, data) {
      view.done = true;
      finishReasoning(view, data.thought_seconds);
      if (data.mode === "retrieval-only") view.reasoning?.details.remove();
      view.article.id = "m-" + data.message_id;
      if (data.html) {
        answerText(view);
        view.answer.classList.remove("is-plain");
        view.answer.innerHTML = data.html; // sanitised by the server
      }
      settle(view);
      showFallback(view, data.fallback_note);
      showGrounding(view, data.grounding);
      if (data.status === "stopped") showStopped(view);
      if (data.status === "failed" && !view.failed) showFailure(view, strings.requestFailed);
      if (data.citations?.length && data.mode !== "retrieval-only") {
        view.body.append(renderSources(data.message_id, data.citations));
      }
      view.article.dataset.messageId = data.message_id;
      if (data.status !== "failed") view.body.append(fromTemplate("answer-actions")); // it has Retry
      chat.numberVersions(chat.versionsOf(view.article));
      decorate(view.article);
      if (chat.isFollowing()) showAnswerStart(view.article);
    },
    // Follow-up questions come after the answer is done (the composer is free again by then): shown
    // while it is still the last answer on the page.
    suggestions(view, data) {
      if (!view.article.isConnected || view.article.nextElementSibling) return;
      view.body.querySelector(".follow-ups")?.remove();
      view.body.append(renderFollowUps(data.questions));
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
        const response = await fetch(url, { method: "POST", headers: { "X-CSRFToken": csrfToken() } });
        if (response.ok) return;
      } catch (error) {
        // fall through to aborting
      }
    }
    current.controller.abort();
  }

  // `previous`: the answer to add a version to (regenerate), asked without a question; `shown`:
  // the version shown until then, shown again if the server refuses to answer.
  async function ask(question, url = form.action, previous = null, shown = null) {
    // A new question leaves the earlier answers' follow-ups behind (a regenerated answer's other
    // versions keep theirs: they are of the same question).
    if (!previous) for (const offered of messages.querySelectorAll(".follow-ups")) offered.remove();
    const view = appendAnswer(question, previous);
    const body = new FormData(form);
    if (previous) body.delete("question");
    else body.set("question", question);
    stream = { controller: new AbortController(), view };
    updateSendButton();
    scrollToEnd(true);
    let done = false;
    try {
      const response = await fetch(url, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": csrfToken(), Accept: "text/event-stream" },
        signal: stream.controller.signal,
      });
      await checkResponse(response);
      await readEvents(response, (name, data) => {
        if (name === "meta") stream.messageId = data.message_id;
        handlers[name]?.(view, data);
        scrollToEnd(false);
        if (name === "done") {
          // The answer is complete: the next question may be asked while follow-ups are written.
          done = true;
          release(view);
        }
      });
      if (!done && !view.failed) connectionLost(view);
    } catch (error) {
      if (done) return; // only the follow-up questions were still to come
      if (error.name === "AbortError") showStopped(view);
      else if (error.userMessage && shown) showRefusedVersion(view, shown, error.userMessage);
      else if (error.userMessage) showFailure(view, error.userMessage);
      else if (!view.failed) connectionLost(view);
    } finally {
      release(view);
      scrollToEnd(false);
    }
  }

  function release(view) {
    if (stream?.view === view) stream = null;
    updateSendButton();
  }

  // A follow-up question clicked is asked as if typed, leaving what the composer holds alone.
  function askFollowUp(button) {
    if (stream || !form) return;
    ask(button.textContent.trim());
  }

  function connectionLost(view) {
    const saved = Boolean(stream?.messageId);
    showFailure(view, saved ? strings.connectionLostSaved : strings.connectionLost, saved);
  }

  // A login page instead of a stream means the session expired; JSON carries the server's reason,
  // as {"error": "…"} from the chat's views or {"error": {"message": "…"}} when refused before them.
  async function checkResponse(response) {
    const type = response.headers.get("Content-Type") || "";
    if (response.ok && type.startsWith("text/event-stream")) return;
    const payload = type.startsWith("application/json") ? await response.json().catch(() => ({})) : {};
    const error = new Error(response.statusText);
    error.userMessage = payload.error?.message || payload.error || payload.message || payload.detail ||
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

  // Retry, regenerate and edit: the last question is asked again (as edited). When the server has
  // saved an answer to it, the resend endpoint answers: regenerating adds a version beside the
  // others, shown; an edited question replaces the question and its answers. Otherwise it is a
  // new question.
  function askAgain(article, edited) {
    const question = chat.questionOf(article);
    if (stream || !form || !question) return;
    const asked = question.querySelector(".bubble").textContent.trim();
    const text = edited ?? asked;
    const versions = chat.versionsOf(article);
    const kept = versions.filter((version) => version.dataset.messageId); // the others never reached the server
    const saved = kept.length > 0 && form.conversation.value;
    const resendUrl = form.dataset.resendUrl.replace("{id}", form.conversation.value);
    if (saved && text === asked) {
      const shown = kept.find((version) => !version.hidden) || kept.at(-1);
      for (const version of versions) {
        if (kept.includes(version)) version.hidden = true;
        else version.remove();
      }
      for (const version of kept) version.querySelector(".error-box.is-refusal")?.remove();
      return ask(text, resendUrl, kept.at(-1), shown);
    }
    for (const version of versions) version.remove();
    question.remove();
    ask(text, saved ? resendUrl : form.action);
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
        Object.assign(link, { href: citation.document_url, target: "_blank", rel: "noopener noreferrer" });
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

  // Plain text from the model, as buttons: never HTML.
  function renderFollowUps(questions) {
    const section = el("section", "follow-ups", el("h3", "follow-ups-title", strings.followUps));
    section.setAttribute("aria-label", strings.followUps);
    for (const question of questions) {
      const button = el("button", "follow-up", icon("follow-up"), el("span", "", question));
      button.type = "button";
      section.append(button);
    }
    return section;
  }

  function decorate(root) {
    window.citations.decorate(root);
    decorateCode(root);
  }

  // Code blocks get a bar with their language and a copy button.
  function decorateCode(root) {
    for (const block of root.querySelectorAll(".answer .highlight")) {
      if (block.querySelector(".code-bar")) continue;
      const language = block.querySelector(".filename");
      const copy = el("button", "code-copy", icon("copy"), el("span", "", strings.copy));
      copy.type = "button";
      block.prepend(el("div", "code-bar", el("span", "code-lang", language?.textContent || ""), copy));
      language?.remove();
    }
  }

  chat.askAgain = askAgain;
  chat.askFollowUp = askFollowUp;
  chat.showCitation = window.citations.show;
  chat.isStreaming = () => Boolean(stream);

  decorate(messages);
  scrollToEnd(true);
  showAnswerStart([...messages.querySelectorAll(".msg-assistant")].pop());
  if (form) {
    form.addEventListener("submit", onSubmit);
    form.question.addEventListener("keydown", onKeyDown);
    form.question.addEventListener("input", () => { autoGrow(); updateSendButton(); });
    updateSendButton();
  }
})();
