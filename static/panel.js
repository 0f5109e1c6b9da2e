// Behaviour every page of the panel shares. The Content-Security-Policy allows no inline handler, so
// the markup only says what it wants (data-* attributes) and this file does it.
(function () {
  "use strict";

  // Signed out (the login page after "Wyloguj", or a session that ended): nothing the tab kept of the
  // panel stays behind, htmx's history cache of its pages included.
  if (document.body.hasAttribute("data-signed-out")) {
    window.sessionStorage.clear();
  }

  // A select that takes effect as soon as it is changed (the language in the top bar).
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-submit-on-change]") && field.form) field.form.submit();
  });
})();
