// The server dialog on "Pobieranie dokumentów przez e-mail" (templates/servers/_dialog.html and
// _confirm_delete.html). The server sends it as <dialog open>, which works without JavaScript but sits
// in the page flow under the table; here it becomes modal: fixed in the viewport, the page behind dimmed,
// its first error (or first field) in view, and Escape does what its Zamknij / Anuluj link does.
(function () {
  "use strict";
  if (window.ekpanelServerDialog) return; // the page may be loaded twice into one window
  window.ekpanelServerDialog = true;

  var opener = null; // href of the link that opened the dialog: focus goes back there after it closes

  // Typed into, or sent back with errors (what was typed is in it): closing would lose work.
  function hasWork(dialog) {
    return dialog.dataset.dirty === "1" || dialog.querySelector(".field.has-error") !== null;
  }

  function mayLeave(dialog) {
    return !hasWork(dialog) || window.confirm(dialog.dataset.confirmLeave || "?");
  }

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
    dialog.addEventListener("input", function () {
      dialog.dataset.dirty = "1";
    });
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      if (mayLeave(dialog)) leave(dialog);
    });
    // Zamknij / Anuluj: asked first too. Capturing, so htmx on the link never sees a refused click.
    dialog.addEventListener(
      "click",
      function (event) {
        var link = event.target.closest && event.target.closest("[data-dialog-close]");
        if (link && !dialog.dataset.leaving && !mayLeave(dialog)) {
          event.preventDefault();
          event.stopImmediatePropagation();
        } else if (link) {
          dialog.dataset.leaving = "1";
        }
      },
      true
    );
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

  // Remember which link opened the dialog; when the panel comes back without one, focus it again.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    var target = event.detail.target;
    if (source && target && target.id === "server-dialog" && !source.closest("#server-dialog")) {
      opener = source.getAttribute("href");
    }
  });
  function afterSwap() {
    if (makeModal() || document.querySelector("dialog#server-dialog") || !opener) return;
    var again = document.querySelector('#company-panel a[href="' + CSS.escape(opener) + '"]');
    opener = null;
    if (again) again.focus();
  }
  document.addEventListener("htmx:afterSettle", afterSwap);
  document.addEventListener("htmx:historyRestore", makeModal);

  // IMAP: the port follows the encryption (993 for SSL/TLS, 143 otherwise) until a port is typed.
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field.name === "port" && field.closest("#server-form")) field.dataset.typed = "1";
  });
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.name !== "encryption" || !select.closest("#server-form")) return;
    var port = select.form.elements.port;
    if (port && !port.dataset.typed) port.value = select.value === "ssl" ? 993 : 143;
  });
})();
