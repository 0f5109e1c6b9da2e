// The server dialog on "Pobieranie dokumentów przez e-mail" (templates/servers/_dialog.html and
// _confirm_delete.html). The server sends it as <dialog open>, which works without JavaScript but sits
// in the page flow under the table; here it becomes modal: fixed in the viewport, the page behind dimmed,
// its first error (or first field) in view, and Escape does what its Zamknij / Anuluj link does.
(function () {
  "use strict";
  if (window.ekpanelServerDialog) return; // the page may be loaded twice into one window
  window.ekpanelServerDialog = true;

  function leave(dialog) {
    // The link, not dialog.close(): it also restores the address and the panel behind the dialog.
    var link = dialog.querySelector("[data-dialog-close]");
    if (link && !dialog.dataset.leaving) {
      dialog.dataset.leaving = "1";
      link.click();
    }
  }

  function focusFirst(dialog) {
    var error = dialog.querySelector(".field.has-error");
    var target = error
      ? error.querySelector("input, select, textarea")
      : dialog.querySelector("[autofocus], form .field input:not([type=hidden]), form .field select, form .field textarea");
    if (error) error.scrollIntoView({ block: "nearest" });
    if (target) target.focus({ preventScroll: !!error });
  }

  function makeModal() {
    var dialog = document.getElementById("server-dialog");
    if (!dialog || dialog.tagName !== "DIALOG" || dialog.matches(":modal")) return null;
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      leave(dialog);
    });
    // The browser may close it anyway (Escape pressed twice quickly): follow the link all the same.
    dialog.addEventListener("close", function () {
      if (dialog.isConnected && !dialog.open) leave(dialog);
    });
    if (dialog.open) dialog.close(); // a dialog shown without showModal() must be closed first
    dialog.showModal();
    dialog.scrollTop = 0;
    focusFirst(dialog);
    return dialog;
  }

  // On a page load the messages (e.g. "Zapisano zgodę administratora…") are at the top of the page,
  // behind the dialog: they belong in it. htmx responses put them in the dialog already.
  var dialog = makeModal();
  var title = dialog && dialog.querySelector("h3");
  if (title) {
    var messages = document.querySelectorAll("main > .flash");
    for (var i = messages.length - 1; i >= 0; i--) title.after(messages[i]);
  }

  document.addEventListener("htmx:afterSettle", makeModal);
  document.addEventListener("htmx:historyRestore", makeModal);
})();
