/* Small enhancements on every page; each part does nothing where its markup is absent, and
   every page works without them: the menu stays open, the filters stay unfolded. */
(function () {
  "use strict";

  var NARROW = window.matchMedia("(max-width: 768px)");

  /* The compact menu of narrow screens: a real button, aria-expanded, Escape closes it. */
  function setUpMenu() {
    var button = document.querySelector(".menu-button");
    var menu = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) { return; }
    function setOpen(open) { button.setAttribute("aria-expanded", open ? "true" : "false"); }
    button.hidden = false;
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && NARROW.matches) { setOpen(false); button.focus(); }
    });
  }

  /* Filters fold away on narrow screens unless one of them is in use. */
  function foldFilters() {
    if (!NARROW.matches) { return; }
    document.querySelectorAll("details[data-fold-narrow]").forEach(function (details) {
      if (details.getAttribute("data-fold-narrow") !== "keep-open") { details.open = false; }
    });
  }

  /* After a refused submit: focus the error summary; its links focus their fields. */
  function setUpErrorSummary() {
    var summary = document.getElementById("error-summary");
    if (!summary) { return; }
    summary.querySelectorAll("a[href^='#']").forEach(function (link) {
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (!field) { return; }
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var folded = field.closest("details");
        if (folded) { folded.open = true; }
        field.focus();
        field.scrollIntoView({ block: "center" });
      });
    });
    summary.focus();
  }

  setUpMenu();
  foldFilters();
  setUpErrorSummary();
}());
