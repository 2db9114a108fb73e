// A shared conversation (read-only): citation markers as on the chat page, a click opening the source.
(function () {
  "use strict";

  window.citations.decorate(document.getElementById("messages"));
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.cite");
    if (!link) return;
    event.preventDefault();
    window.citations.show(link);
  });
})();
