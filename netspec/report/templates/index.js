// netspec index: sort the comparison table by a column (click again to reverse). Works from file://.
(function () {
  "use strict";
  var table = document.getElementById("networks-table");
  if (!table) return;
  var tbody = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var column = -1, direction = 1;
  function value(row, i) {
    var v = row.cells[i].getAttribute("data-v");
    if (v === null) v = row.cells[i].textContent;
    return headers[i].getAttribute("data-kind") === "num" ? parseFloat(v) || 0 : v.toLowerCase();
  }
  headers.forEach(function (th, i) {
    if (!th.classList.contains("sortable")) return;
    th.addEventListener("click", function () {
      if (column === i) direction = -direction;
      else { column = i; direction = th.getAttribute("data-kind") === "num" ? -1 : 1; }
      var rows = Array.prototype.slice.call(tbody.rows).sort(function (a, b) {
        var x = value(a, i), y = value(b, i);
        return (x < y ? -1 : x > y ? 1 : 0) * direction;
      });
      rows.forEach(function (row) { tbody.appendChild(row); });
      headers.forEach(function (h, j) {
        h.classList.toggle("sorted-asc", j === column && direction > 0);
        h.classList.toggle("sorted-desc", j === column && direction < 0);
      });
    });
  });
})();
