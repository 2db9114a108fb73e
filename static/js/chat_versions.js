// The versions of an answer on the chat page: the articles after its question, all but one hidden,
// numbered "‹ 2/3 ›" and switched without a reload. Loaded after chat_common.js and before chat.js
// (which routes the clicks here) and chat_answer.js (which adds versions).
"use strict";

(function () {
  const chat = window.chat;
  const { form, el, post } = chat;

  function questionOf(article) {
    let node = article.previousElementSibling;
    while (node && !node.classList.contains("msg-user")) node = node.previousElementSibling;
    return node;
  }

  function versionsOf(article) {
    const versions = [];
    let node = questionOf(article)?.nextElementSibling;
    while (node?.classList.contains("msg-assistant")) {
      versions.push(node);
      node = node.nextElementSibling;
    }
    return versions;
  }

  // "‹ 2/3 ›" on each version, once there are several (the server numbers those it renders).
  function numberVersions(versions) {
    versions.forEach((article, index) => {
      let switcher = article.querySelector(".versions");
      if (!switcher && versions.length > 1) {
        switcher = document.getElementById("answer-versions").content.firstElementChild.cloneNode(true);
        let actions = article.querySelector(".msg-actions");
        if (!actions) article.querySelector(".msg-body").append(actions = el("div", "msg-actions"));
        actions.prepend(switcher);
      }
      if (!switcher) return;
      switcher.querySelector(".version-label").textContent = `${index + 1}/${versions.length}`;
      switcher.querySelector(".version-prev").disabled = index === 0;
      switcher.querySelector(".version-next").disabled = index === versions.length - 1;
    });
  }

  function showOnly(versions, chosen) {
    for (const version of versions) version.hidden = version !== chosen;
  }

  // Shown at once; the server remembers the choice, so the next question's history and a reload
  // follow what the user sees (if it cannot, the version shown before comes back).
  async function switchVersion(button) {
    if (!form || chat.isStreaming()) return; // without the composer there is nothing to go on from
    const article = button.closest(".msg-assistant");
    const versions = versionsOf(article);
    const forward = button.classList.contains("version-next");
    const chosen = versions[versions.indexOf(article) + (forward ? 1 : -1)];
    if (!chosen) return;
    showOnly(versions, chosen);
    const same = chosen.querySelector(forward ? ".version-next" : ".version-prev");
    (same.disabled ? chosen.querySelector(forward ? ".version-prev" : ".version-next") : same).focus();
    try {
      await post(form.dataset.showUrl.replace("{id}", chosen.dataset.messageId), {});
    } catch {
      showOnly(versions, article);
    }
  }

  chat.questionOf = questionOf;
  chat.versionsOf = versionsOf;
  chat.numberVersions = numberVersions;
  chat.switchVersion = switchVersion;
})();
