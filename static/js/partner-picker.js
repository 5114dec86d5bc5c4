// The placement form's partner picker: as one types a name, the shared <datalist> offers the
// matching partners from the directory (referrals.partners_json). Without this script the
// datalist still offers the partners rendered with the page, and a typed name or directory
// address is resolved by the server.
(function () {
  "use strict";
  var inputs = document.querySelectorAll("input[data-picker-source]");
  var list = document.getElementById("partner-options");
  if (!inputs.length || !list || !window.fetch) {
    return;
  }
  var timer = null;
  var latest = 0;

  function fill(partners) {
    var options = document.createDocumentFragment();
    partners.forEach(function (partner) {
      var option = document.createElement("option");
      option.value = partner.name;
      options.appendChild(option);
    });
    list.replaceChildren(options);
  }

  function ask(input) {
    var text = input.value.trim();
    if (text.length < 2) {
      return;
    }
    var asked = ++latest;
    var url = input.dataset.pickerSource + "?q=" + encodeURIComponent(text);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { partners: [] }; })
      .then(function (body) {
        if (asked === latest) {  // an older, slower answer never replaces a newer one
          fill(body.partners || []);
        }
      })
      .catch(function () { /* keep the choices already offered */ });
  }

  inputs.forEach(function (input) {
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { ask(input); }, 150);
    });
  });
})();
