// Przekazane dokumenty - e-mail (templates/documents/): what the list does beyond plain htmx attributes.
(function () {
  "use strict";

  // "Zaznacz wszystkie": the header checkbox (un)checks every row's checkbox it names.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-select-all]")) return;
    document.querySelectorAll(box.dataset.selectAll).forEach(function (row) {
      row.checked = box.checked;
    });
  });

  // htmx leaves 4xx answers unswapped. A refused refresh (429) carries its message and the progress of
  // the checks already running: it is swapped like any answer. htmx fires the event on the target.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 429 && event.target.closest("[data-swap-too-many-requests]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Every check of a refresh is done (the progress panel's last answer fires documents-refreshed): the
  // list reloads, marking what came in since the refresh began.
  document.addEventListener("documents-refreshed", function (event) {
    var reload = document.querySelector("[data-reload-after-refresh]");
    if (!reload) return;
    reload.setAttribute("hx-vals", JSON.stringify({ highlight: event.detail.since }));
    htmx.trigger(reload, "reload-after-refresh");
  });
})();
