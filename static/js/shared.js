// A shared conversation: a citation marker opens its source card below the answer and scrolls to it.
(function () {
  "use strict";

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.cite");
    if (!link) return;
    const card = document.getElementById(link.hash.slice(1));
    if (!card) return;
    event.preventDefault();
    card.querySelector("details").open = true;
    card.scrollIntoView({ behavior: "smooth", block: "nearest" });
  });
})();
