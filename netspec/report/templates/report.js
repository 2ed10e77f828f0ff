// netspec report: fold/unfold blocks, sort, filter, and move between the graph and the table.
// Plain DOM code; it works from file:// and needs nothing else.
(function () {
  "use strict";
  var page = JSON.parse(document.getElementById("page-data").textContent);
  var table = document.getElementById("layers-table");
  if (!table) return;
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var scopes = rows.filter(function (r) { return r.classList.contains("scope"); });
  var layers = rows.filter(function (r) { return r.classList.contains("layer"); });
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filterBox = document.getElementById("layer-filter");
  var counter = document.getElementById("row-count");
  var collapsed = new Set();
  var sortColumn = -1, sortDirection = 1, filterText = "";

  function ancestors(path) {
    var found = [];
    while (path) {
      found.push(path);
      var dot = path.lastIndexOf(".");
      path = dot < 0 ? "" : path.slice(0, dot);
    }
    return found;
  }

  function foldedAway(row) {
    return ancestors(row.getAttribute("data-parent") || "").some(function (p) { return collapsed.has(p); });
  }

  function matches(row) {
    if (!filterText) return true;
    var text = (row.cells[0].getAttribute("data-v") || "") + " " + row.textContent;
    return text.toLowerCase().indexOf(filterText) >= 0;
  }

  function sortValue(row, column) {
    var cell = row.cells[column];
    var v = cell.getAttribute("data-v");
    if (v === null) v = cell.textContent;
    return headers[column].getAttribute("data-kind") === "num" ? parseFloat(v) || 0 : v.toLowerCase();
  }

  function render() {
    var flat = sortColumn >= 0 || filterText !== "";
    var order = rows;
    if (sortColumn >= 0) {
      order = layers.slice().sort(function (a, b) {
        var x = sortValue(a, sortColumn), y = sortValue(b, sortColumn);
        return (x < y ? -1 : x > y ? 1 : 0) * sortDirection;
      });
    }
    var fragment = document.createDocumentFragment();
    order.forEach(function (row) { fragment.appendChild(row); });
    if (sortColumn >= 0) scopes.forEach(function (row) { fragment.appendChild(row); });
    tbody.appendChild(fragment);
    var shown = 0;
    rows.forEach(function (row) {
      var hide = flat ? row.classList.contains("scope") || !matches(row) : foldedAway(row);
      row.classList.toggle("hidden", hide);
      if (!hide && row.classList.contains("layer")) shown += 1;
    });
    scopes.forEach(function (row) {
      var closed = collapsed.has(row.getAttribute("data-path"));
      row.classList.toggle("closed", closed);
      row.querySelector("button.tog").setAttribute("aria-expanded", closed ? "false" : "true");
    });
    headers.forEach(function (th, i) {
      th.classList.toggle("sorted-asc", i === sortColumn && sortDirection > 0);
      th.classList.toggle("sorted-desc", i === sortColumn && sortDirection < 0);
    });
    if (counter) counter.textContent = shown + " of " + layers.length + " layer rows shown" + (flat ? " (flat)" : "");
  }

  function collapseAll() { collapsed = new Set(scopes.map(function (r) { return r.getAttribute("data-path"); })); }

  scopes.forEach(function (row) {
    row.cells[0].addEventListener("click", function () {
      var path = row.getAttribute("data-path");
      if (collapsed.has(path)) collapsed.delete(path); else collapsed.add(path);
      render();
    });
  });
  headers.forEach(function (th, i) {
    if (!th.classList.contains("sortable")) return;
    th.addEventListener("click", function () {
      if (sortColumn === i) sortDirection = -sortDirection;
      else { sortColumn = i; sortDirection = th.getAttribute("data-kind") === "num" ? -1 : 1; }
      render();
    });
  });
  filterBox.addEventListener("input", function () { filterText = filterBox.value.trim().toLowerCase(); render(); });
  document.getElementById("expand-all").addEventListener("click", function () { collapsed.clear(); render(); });
  document.getElementById("collapse-all").addEventListener("click", function () { collapseAll(); render(); });
  document.getElementById("spec-order").addEventListener("click", function () {
    sortColumn = -1; filterText = ""; filterBox.value = ""; render();
  });

  // ---- moving between the charts, the graph and the table

  var highlighted = null;
  function reveal(row) {
    if (!row) return;
    if (row.classList.contains("hidden") && (sortColumn >= 0 || filterText)) {
      sortColumn = -1; filterText = ""; filterBox.value = "";
    }
    ancestors(row.getAttribute("data-parent") || "").forEach(function (p) { collapsed.delete(p); });
    render();
    if (highlighted) highlighted.classList.remove("hl");
    highlighted = row;
    row.classList.add("hl");
    row.scrollIntoView({ block: "center" });
  }

  function rowFor(elementId) {
    var attribute = elementId.indexOf("c-") === 0 ? "data-cel" : "data-el";
    for (var i = 0; i < layers.length; i++) {
      if (layers[i].getAttribute(attribute) === elementId) return layers[i];
    }
    return null;
  }

  Array.prototype.forEach.call(document.querySelectorAll(".diagram g.node"), function (node) {
    node.addEventListener("click", function (event) {
      event.preventDefault();
      reveal(rowFor(node.id));
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("svg.chart [data-target]"), function (mark) {
    mark.addEventListener("click", function () { reveal(document.getElementById(mark.getAttribute("data-target"))); });
  });

  var fullView = document.getElementById("diagram-full");
  var collapsedView = document.getElementById("diagram-collapsed");
  var repeatsBox = document.getElementById("collapse-repeats");
  function showRepeatsCollapsed(on) {
    if (!collapsedView) return;
    fullView.hidden = on;
    collapsedView.hidden = !on;
  }
  if (repeatsBox) repeatsBox.addEventListener("change", function () { showRepeatsCollapsed(repeatsBox.checked); });

  var flashed = null;
  Array.prototype.forEach.call(table.querySelectorAll("a.to-node"), function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var row = link.closest("tr");
      var useCollapsed = collapsedView && !collapsedView.hidden;
      var id = useCollapsed ? row.getAttribute("data-cel") : row.getAttribute("data-el");
      var node = id && document.getElementById(id);
      if (!node) return;
      if (flashed) flashed.classList.remove("flash");
      flashed = node;
      node.classList.add("flash");
      node.scrollIntoView({ block: "center", inline: "center" });
    });
  });

  function followHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id && document.getElementById(id);
    if (target && target.parentNode === tbody) reveal(target);
  }
  window.addEventListener("hashchange", followHash);

  if (page.collapse) {
    collapseAll();
    page.open.forEach(function (path) { collapsed.delete(path); });
  }
  render();
  followHash();
})();
