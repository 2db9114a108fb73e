// Citation markers in answers, for the chat page and the shared page alike: markers arrive as "[n]"
// and show as bare numbers with the source's title on hover; a click opens the source's card.
"use strict";

(function () {
  function decorate(root) {
    for (const link of root.querySelectorAll("a.cite")) {
      link.textContent = link.textContent.replace(/[[\]]/g, "");
      const title = document.getElementById(link.hash.slice(1))?.querySelector(".source-doc");
      if (title) link.title = title.textContent;
    }
  }

  function show(link) {
    const card = document.getElementById(link.hash.slice(1));
    if (!card) return;
    card.querySelector("details").open = true;
    card.scrollIntoView({ behavior: "smooth", block: "nearest" });
    card.classList.remove("is-highlighted");
    void card.offsetWidth; // restarts the highlight when the same marker is clicked again
    card.classList.add("is-highlighted");
    setTimeout(() => card.classList.remove("is-highlighted"), 1800);
  }

  window.citations = { decorate, show };
})();
