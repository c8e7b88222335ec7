// The SSL Configuration form: only contiguous TLS methods can be chosen.
// A box whose change would leave a gap (or no method at all) is greyed out;
// the server refuses a gap anyway, so the page works without this script.
(function () {
  "use strict";
  function refresh(cell) {
    var boxes = Array.prototype.slice.call(cell.querySelectorAll("input[type=checkbox]"));
    var on = boxes.map(function (b) { return b.checked; });
    boxes.forEach(function (b, i) {
      var next = on.slice();
      next[i] = !next[i];
      var first = next.indexOf(true), last = next.lastIndexOf(true), ok = first >= 0;
      for (var j = first; ok && j <= last; j++) { if (!next[j]) { ok = false; } }
      b.disabled = !ok;
      b.parentNode.classList.toggle("greyed", !ok);
    });
  }
  var cells = document.querySelectorAll("td.methods");
  Array.prototype.forEach.call(cells, function (cell) {
    cell.addEventListener("change", function () { refresh(cell); });
    refresh(cell);
  });
  // Disabled boxes are not submitted: enable them at submit, as they were.
  var form = document.getElementById("ssl-form");
  if (form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.querySelectorAll("input[type=checkbox]"), function (b) { b.disabled = false; });
    });
  }
})();
