// Copying on the chat page: a question, an answer (its citation markers as "[n]" and the sources
// it cites after it) or a code block, with a moment's "Copied" on the button. Loaded after
// chat_common.js and before chat.js, which routes the clicks here.
"use strict";

(function () {
  const chat = window.chat;
  const { strings, el } = chat;

  async function copyText(value, button) {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      const area = el("textarea", "visually-hidden", value);
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    const use = button.querySelector("use");
    const label = button.querySelector("span");
    use.setAttribute("href", "#i-check");
    if (label) label.textContent = strings.copied;
    button.classList.add("is-done");
    setTimeout(() => {
      use.setAttribute("href", "#i-copy");
      if (label) label.textContent = strings.copy;
      button.classList.remove("is-done");
    }, 1500);
  }

  function copyMessage(button) {
    const article = button.closest(".msg");
    const bubble = article.querySelector(".bubble");
    const text = bubble ? bubble.innerText.trim() : answerForCopy(article);
    if (text) copyText(text, button);
  }

  // A copied answer keeps its markers as "[n]" and ends with the sources it cites, numbered alike.
  function answerForCopy(article) {
    const answer = article.querySelector(".answer");
    if (!answer) return "";
    const links = [...answer.querySelectorAll("a.cite")];
    const shown = links.map((link) => link.textContent);
    links.forEach((link, i) => { link.textContent = "[" + shown[i] + "]"; });
    const text = answer.innerText.trim();
    links.forEach((link, i) => { link.textContent = shown[i]; });
    const sources = [...article.querySelectorAll(".sources .source")].map((source) => {
      const where = source.querySelector(".source-loc")?.textContent;
      const title = source.querySelector(".source-doc").textContent + (where ? " — " + where : "");
      return "[" + source.querySelector(".source-n").textContent + "] " + title;
    });
    return sources.length ? text + "\n\n" + strings.sources + "\n" + sources.join("\n") : text;
  }

  chat.copyText = copyText;
  chat.copyMessage = copyMessage;
})();
