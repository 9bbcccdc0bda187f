// Homeward workspace: small improvements to pages that work without JavaScript.
// No inline script (the Content-Security-Policy forbids it): everything is here.
(function () {
  "use strict";

  // Move the focus to the error summary, so a screen reader announces it.
  var summary = document.querySelector("[data-focus]");
  if (summary) { summary.focus(); }

  // Household rows: add and remove in the page instead of posting the form.
  function renumber(container) {
    var rows = container.querySelectorAll("[data-row]");
    rows.forEach(function (row, i) {
      row.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(/\[\d+\]/, "[" + i + "]");
      });
      row.querySelectorAll("[id]").forEach(function (el) {
        el.id = el.id.replace(/-\d+-/, "-" + i + "-");
      });
      row.querySelectorAll("label[for]").forEach(function (el) {
        el.htmlFor = el.htmlFor.replace(/-\d+-/, "-" + i + "-");
      });
      var legend = row.querySelector("legend");
      if (legend) { legend.textContent = legend.textContent.replace(/\d+/, String(i + 1)); }
      var remove = row.querySelector("[data-remove-row]");
      if (remove) { remove.value = "remove-member-" + i; remove.textContent = remove.textContent.replace(/\d+/, String(i + 1)); }
    });
  }
  document.querySelectorAll("[data-add-row]").forEach(function (button) {
    var container = document.querySelector('[data-rows="' + button.getAttribute("data-add-row") + '"]');
    if (!container) { return; }
    var template = null;
    button.addEventListener("click", function (ev) {
      var first = container.querySelector("[data-row]");
      if (!first && !template) { return; } // no row to copy: the server adds one
      ev.preventDefault();
      var row = (first || template).cloneNode(true);
      row.querySelectorAll("input").forEach(function (el) {
        if (el.type === "checkbox") { el.checked = false; } else { el.value = ""; }
        el.removeAttribute("aria-invalid");
      });
      row.querySelectorAll("select").forEach(function (el) { el.selectedIndex = 0; el.removeAttribute("aria-invalid"); });
      row.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
      row.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
      container.appendChild(row);
      renumber(container);
      var input = row.querySelector("input");
      if (input) { input.focus(); }
    });
    container.addEventListener("click", function (ev) {
      var remove = ev.target.closest("[data-remove-row]");
      if (!remove) { return; }
      ev.preventDefault();
      var row = remove.closest("[data-row]");
      if (!template) { template = row.cloneNode(true); }
      row.remove();
      renumber(container);
      button.focus();
    });
  });

  // The plan editor: a running total against the household's cap.
  var total = document.querySelector("[data-total]");
  var plan = document.querySelector("[data-plan]");
  if (total && plan) {
    var cap = parseFloat(total.getAttribute("data-cap"));
    var second = parseFloat(total.getAttribute("data-second"));
    var update = function () {
      var sum = 0;
      plan.querySelectorAll("[data-amount]").forEach(function (el) {
        var v = parseFloat(String(el.value).replace(/\s/g, "").replace(",", "."));
        if (!isNaN(v)) { sum += v; }
      });
      var text = total.getAttribute("data-label") + ": " + sum.toFixed(2) + " " + total.getAttribute("data-currency") +
        " / " + cap.toFixed(2) + ".";
      if (sum > cap) { text += " " + total.getAttribute("data-over"); }
      else if (sum > second) { text += " " + total.getAttribute("data-second-note"); }
      total.textContent = text;
      total.className = sum > cap ? "warning" : (sum > second ? "notice" : "");
    };
    plan.addEventListener("input", update);
    update();
  }
})();
