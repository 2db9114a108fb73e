// The API keys page: focusing the new key selects all of it, ready to copy.
(function () {
  "use strict";

  const secret = document.querySelector(".keys-secret");
  if (secret) secret.addEventListener("focus", () => secret.select());
})();
