// The chat page's scrolling: the thread follows an answer as it streams unless the reader has
// scrolled up (then a button jumps back to the end), and a finished answer taller than the view is
// shown from its start. Loaded after chat_common.js and before chat_answer.js, which uses it.
"use strict";

(function () {
  const chat = window.chat;
  const thread = document.getElementById("thread");
  const jumpButton = document.getElementById("jump");
  let followBottom = true;
  const ANSWER_HEADROOM_PX = 16; // space kept above an answer shown from its start

  function scrollToEnd(force) {
    if (force) followBottom = true;
    if (followBottom) thread.scrollTop = thread.scrollHeight;
  }

  // A finished answer taller than the view is shown from its start: read from its end it makes
  // no sense (a retrieval-only answer arrives whole, and the page followed it to its end).
  function showAnswerStart(article) {
    if (!article || article.offsetHeight + ANSWER_HEADROOM_PX <= thread.clientHeight) return;
    followBottom = false;
    const above = article.getBoundingClientRect().top - thread.getBoundingClientRect().top;
    thread.scrollTop += above - ANSWER_HEADROOM_PX;
  }

  function onThreadScroll() {
    followBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
    jumpButton.hidden = followBottom;
  }

  thread.addEventListener("scroll", onThreadScroll, { passive: true });
  jumpButton.addEventListener("click", () => scrollToEnd(true));

  chat.scrollToEnd = scrollToEnd;
  chat.showAnswerStart = showAnswerStart;
  chat.isFollowing = () => followBottom;
})();
