// The shared links page: the new link is selected when focused, and "Copy link" copies it.
(function () {
  "use strict";

  const link = document.getElementById("new-link");
  if (!link) return;
  link.addEventListener("focus", () => link.select());

  const button = document.querySelector(".shares-copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(link.value);
    } catch {
      link.select();
      document.execCommand("copy");
    }
    button.querySelector("span").textContent = button.dataset.copied;
    button.querySelector("use").setAttribute("href", "#i-check");
  });
})();
