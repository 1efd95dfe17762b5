/* otel-dask-prov run report: renders the JSON in #report-data.
 * Hand-written, no libraries, no network; every string from the data reaches the
 * DOM through textContent or attributes, never as markup.
 *
 * Hooks the tests rely on (keep them):
 *   sections #summary #failures #run #timeline #groups #files, and #task-view;
 *   the task stream is "#timeline canvas";
 *   a group-graph node is <g class="group-node" data-group="i">, a groups-table row
 *   tr[data-group="i"]; an expanded group's tasks are #group-tasks tr[data-attempt="i"];
 *   every failure entry is .failure with a link a[data-attempt="i"];
 *   an open task view is #task-view[data-attempt="i"] (hidden otherwise), its key in
 *   .task-key, and location.hash is #task=i (loading with that hash opens it);
 *   window.reportReady === true once everything is drawn (window.reportReadyAt holds
 *   performance.now() at that moment). Render errors are not caught. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var RUN = DATA.run || {};
  var LIMITS = DATA.limits || {};
  var PROCESSES = DATA.processes || [];
  var COMPUTATIONS = DATA.computations || [];
  var GROUPS = DATA.groups || [];
  var EDGES = DATA.group_edges || [];
  var THREADS = DATA.threads || [];
  var ATTEMPTS = DATA.attempts || [];
  var FILES = DATA.files || [];

  var FAILURE_OUTCOMES = ["error", "error-retried", "worker-lost", "dependency-error", "unfinished"];
  var OUTCOME_ORDER = ["success", "error", "error-retried", "worker-lost", "dependency-error",
    "unfinished", "cancelled", "released"];
  var OUTCOME_LABEL = {
    "success": "succeeded", "error": "failed", "error-retried": "failed, retried",
    "worker-lost": "worker lost", "dependency-error": "not run (input failed)",
    "unfinished": "unfinished", "cancelled": "cancelled", "released": "released"
  };
  var OUTCOME_COLOR = {
    "success": "#2f9e44", "error": "#d62728", "error-retried": "#f08c00", "worker-lost": "#7048e8",
    "dependency-error": "#a61e4d", "unfinished": "#fab005", "cancelled": "#868e96", "released": "#adb5bd"
  };
  var PAGE_SIZE = 50;
  var LIST_LIMIT = 50;

  function isFailure(outcome) { return FAILURE_OUTCOMES.indexOf(outcome) >= 0; }

  /* ---------- DOM helpers ---------- */

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var name in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, name)) continue;
        var value = attrs[name];
        if (value === null || value === undefined || value === false) continue;
        if (name === "class") node.className = value;
        else if (name === "text") node.textContent = value;
        else if (name.slice(0, 2) === "on" && typeof value === "function") node.addEventListener(name.slice(2), value);
        else node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    if (children === null || children === undefined) return node;
    if (!Array.isArray(children)) children = [children];
    for (var i = 0; i < children.length; i++) {
      var child = children[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else if (typeof child === "object") node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    }
    return node;
  }

  var SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    if (attrs) for (var name in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, name)) node.setAttribute(name, attrs[name]);
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  /* ---------- formatting ---------- */

  var INT = new Intl.NumberFormat("en-US");
  function fmtInt(n) { return n === null || n === undefined ? "—" : INT.format(n); }

  function fmtNum(x, digits) {
    if (x >= 100) return x.toFixed(0);
    if (x >= 10) return x.toFixed(Math.max(0, digits - 2));
    return x.toFixed(Math.max(0, digits - 1));
  }

  function fmtDur(s) {
    if (s === null || s === undefined || isNaN(s)) return "—";
    if (s < 0) return "−" + fmtDur(-s);
    if (s === 0) return "0 s";
    if (s < 1e-3) return fmtNum(s * 1e6, 2) + " µs";
    if (s < 1) return fmtNum(s * 1e3, 2) + " ms";
    if (s < 60) return fmtNum(s, 3) + " s";
    var r;
    if (s < 3600) { r = Math.round(s); return Math.floor(r / 60) + " min" + (r % 60 ? " " + (r % 60) + " s" : ""); }
    if (s < 86400) { r = Math.round(s / 60); return Math.floor(r / 60) + " h" + (r % 60 ? " " + (r % 60) + " min" : ""); }
    r = Math.round(s / 3600);
    return Math.floor(r / 24) + " d" + (r % 24 ? " " + (r % 24) + " h" : "");
  }

  function fmtBytes(b) {
    if (b === null || b === undefined || isNaN(b)) return "—";
    if (b < 1024) return fmtInt(b) + " B";
    var units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    var x = b, i = -1;
    do { x /= 1024; i++; } while (x >= 1024 && i < units.length - 1);
    return fmtNum(x, 2) + " " + units[i];
  }

  function fmtOffset(s) { return s === null || s === undefined ? "—" : "+" + fmtDur(s); }

  function fmtDate(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
  }

  function plural(n, one, many) { return fmtInt(n) + " " + (n === 1 ? one : (many || one + "s")); }

  function duration(a) { return a.start !== null && a.start !== undefined && a.end !== null && a.end !== undefined ? a.end - a.start : null; }

  /* ---------- colours ---------- */

  function hash32(s) {
    var h = 0x811c9dc5;
    for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
    return h >>> 0;
  }
  /* each prefix takes the palette slot its hash names, or the next free one, so a run
   * with up to 24 prefixes has distinct colours and a prefix keeps its colour from run
   * to run unless it collides; beyond that, a colour from the hash alone */
  var PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
    "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5"];
  var colorCache = Object.create(null);
  (function assignPalette() {
    var seen = Object.create(null), prefixes = [];
    for (var g = 0; g < GROUPS.length; g++) {
      var p = GROUPS[g].prefix || GROUPS[g].name || "";
      if (!seen[p]) { seen[p] = true; prefixes.push(p); }
    }
    if (prefixes.length > PALETTE.length) return;
    prefixes.sort(function (x, y) { return hash32(x) - hash32(y) || (x < y ? -1 : 1); });
    var used = new Array(PALETTE.length);
    prefixes.forEach(function (p) {
      var slot = hash32(p) % PALETTE.length;
      while (used[slot]) slot = (slot + 1) % PALETTE.length;
      used[slot] = true;
      colorCache[p] = PALETTE[slot];
    });
  })();
  function prefixColor(prefix) {
    var key = prefix || "";
    if (colorCache[key]) return colorCache[key];
    var h = hash32(key);
    var hue = 15 + (h % 330);             /* keeps clear of the red used for failures */
    var sat = [52, 68, 84][(h >>> 12) % 3];
    var light = [44, 56, 68][(h >>> 20) % 3];
    return (colorCache[key] = "hsl(" + hue + "," + sat + "%," + light + "%)");
  }
  function groupColor(g) { var grp = GROUPS[g]; return grp ? prefixColor(grp.prefix || grp.name) : "#999"; }

  /* ---------- derived indexes ---------- */

  var keyToAttempt = Object.create(null);   /* key -> latest kept attempt */
  var attemptsOfKey = Object.create(null);  /* key -> its kept attempts, only for keys run more than once */
  var nextAttempt = Object.create(null);    /* attempt -> attempt that re-ran it */
  var groupAttempts = [];
  for (var gi = 0; gi < GROUPS.length; gi++) groupAttempts.push([]);
  for (var ai = 0; ai < ATTEMPTS.length; ai++) {
    var at = ATTEMPTS[ai];
    var prev = keyToAttempt[at.key];
    if (prev === undefined || (ATTEMPTS[prev].attempt || 0) <= (at.attempt || 0)) keyToAttempt[at.key] = ai;
    if (prev !== undefined) {
      if (!attemptsOfKey[at.key]) attemptsOfKey[at.key] = [prev];
      attemptsOfKey[at.key].push(ai);
    }
    if (at.previous !== null && at.previous !== undefined) nextAttempt[at.previous] = ai;
    if (at.group !== null && at.group !== undefined && groupAttempts[at.group]) groupAttempts[at.group].push(ai);
  }
  function groupFailures(g) {
    var o = (GROUPS[g] && GROUPS[g].outcomes) || {}, n = 0;
    for (var i = 0; i < FAILURE_OUTCOMES.length; i++) n += o[FAILURE_OUTCOMES[i]] || 0;
    return n;
  }
  /* names that several processes (or threads) share, e.g. worker-0 of two runs in one
   * report, get their process's host:port added */
  function counts(list, fn) {
    var c = Object.create(null);
    list.forEach(function (x, i) { var k = fn(x, i); c[k] = (c[k] || 0) + 1; });
    return c;
  }
  function baseName(p) {
    var proc = PROCESSES[p];
    if (!proc) return p === null || p === undefined ? "—" : "process " + p;
    return proc.name || proc.address || proc.id || "process " + p;
  }
  function shortAddress(p) {
    var proc = PROCESSES[p];
    var a = proc && proc.address ? String(proc.address).replace(/^[a-z]+:\/\//, "") : null;
    return a || (proc && proc.pid ? "pid " + proc.pid : "#" + p);
  }
  var nameCount = counts(PROCESSES, function (x, i) { return baseName(i); });
  var labelCount = counts(THREADS, function (t) { return t.label || t.thread; });
  function processName(p) {
    var n = baseName(p);
    return PROCESSES[p] && nameCount[n] > 1 && n !== PROCESSES[p].address ? n + " (" + shortAddress(p) + ")" : n;
  }
  function threadLabel(t) {
    var th = THREADS[t];
    if (!th) return "—";
    var l = th.label || th.thread;
    return labelCount[l] > 1 && th.worker !== null && th.worker !== undefined ? l + " (" + shortAddress(th.worker) + ")" : l;
  }
  function groupName(g) { var grp = GROUPS[g]; return grp ? grp.name : "—"; }

  /* ---------- links ---------- */

  function shortKey(key) { key = String(key); return key.length > 90 ? key.slice(0, 60) + "…" + key.slice(-20) : key; }
  function taskLink(i, text) {
    var a = ATTEMPTS[i];
    return el("a", { href: "#task=" + i, "data-attempt": i, class: "task-link", title: a ? a.key : null },
      text !== undefined ? text : (a ? shortKey(a.key) : "attempt " + i));
  }
  function keyLink(key) {
    var i = keyToAttempt[key];
    return i === undefined ? el("code", { class: "key", title: key, text: shortKey(key) }) : taskLink(i, shortKey(key));
  }
  function groupLink(g) {
    if (!GROUPS[g]) return muted("no group");
    return el("a", { href: "#group=" + g, "data-group-link": g, class: "group-link" },
      [el("span", { class: "swatch", style: "background:" + groupColor(g) }), groupName(g)]);
  }
  function outcomeBadge(outcome) {
    return el("span", { class: "badge outcome-" + (outcome || "unknown"), title: outcome || "unknown" },
      OUTCOME_LABEL[outcome] || outcome || "unknown");
  }
  function details(summary, body, open) {
    return el("details", { open: !!open }, [el("summary", null, summary), body]);
  }
  function pre(text, cls) { return el("pre", { class: cls || null, text: text }); }
  function muted(text) { return el("span", { class: "muted", text: text }); }

  /* ---------- generic table: sortable columns, paging ---------- */

  /* columns: [{title, value(row) -> sort value, cell(row) -> node|string, numeric, sortable}] */
  function makeTable(opts) {
    var rows = opts.rows.slice();
    var columns = opts.columns;
    var pageSize = opts.pageSize || PAGE_SIZE;
    var sortCol = opts.sortColumn === undefined ? -1 : opts.sortColumn;
    var sortDir = opts.sortDir || 1;
    var page = 0;
    var wrap = el("div", { class: "table-wrap" });
    var table = el("table", { class: "data " + (opts.className || "") });
    var thead = el("thead");
    var headRow = el("tr");
    var tbody = el("tbody");
    var pager = el("div", { class: "pager" });
    columns.forEach(function (col, c) {
      var th = el("th", { class: col.numeric ? "num" : null, scope: "col" }, col.title);
      if (col.value && col.sortable !== false) {
        th.classList.add("sortable");
        th.tabIndex = 0;
        th.setAttribute("aria-sort", "none");
        var activate = function () {
          if (sortCol === c) sortDir = -sortDir;
          else { sortCol = c; sortDir = col.numeric ? -1 : 1; }
          page = 0; sort(); render();
        };
        th.addEventListener("click", activate);
        th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); activate(); } });
      }
      headRow.appendChild(th);
    });
    thead.appendChild(headRow);
    table.appendChild(thead);
    table.appendChild(tbody);
    wrap.appendChild(table);
    wrap.appendChild(pager);

    function sort() {
      if (sortCol < 0) return;
      var fn = columns[sortCol].value;
      var keyed = rows.map(function (r, i) { return [fn(r), i, r]; });
      keyed.sort(function (a, b) {
        var x = a[0], y = b[0];
        var xn = x === null || x === undefined, yn = y === null || y === undefined;
        if (xn || yn) return xn && yn ? a[1] - b[1] : (xn ? 1 : -1);   /* unknowns last */
        if (x < y) return -sortDir;
        if (x > y) return sortDir;
        return a[1] - b[1];
      });
      rows = keyed.map(function (k) { return k[2]; });
    }
    function render() {
      var ths = headRow.children;
      for (var c = 0; c < ths.length; c++) {
        ths[c].setAttribute("aria-sort", c === sortCol ? (sortDir > 0 ? "ascending" : "descending") : "none");
        ths[c].classList.toggle("sorted-asc", c === sortCol && sortDir > 0);
        ths[c].classList.toggle("sorted-desc", c === sortCol && sortDir < 0);
      }
      var pages = Math.max(1, Math.ceil(rows.length / pageSize));
      if (page >= pages) page = pages - 1;
      var frag = document.createDocumentFragment();
      var end = Math.min(rows.length, (page + 1) * pageSize);
      for (var i = page * pageSize; i < end; i++) {
        var row = rows[i];
        var tr = el("tr", opts.rowAttrs ? opts.rowAttrs(row) : null);
        for (var c2 = 0; c2 < columns.length; c2++) {
          tr.appendChild(el("td", { class: columns[c2].numeric ? "num" : null }, columns[c2].cell(row)));
        }
        frag.appendChild(tr);
      }
      clear(tbody).appendChild(frag);
      if (!rows.length) tbody.appendChild(el("tr", null, el("td", { colspan: columns.length, class: "muted" }, opts.empty || "Nothing to show.")));
      clear(pager);
      if (rows.length > pageSize) {
        pager.appendChild(el("button", { type: "button", disabled: page === 0, onclick: function () { page--; render(); } }, "‹ Previous"));
        pager.appendChild(el("span", { class: "muted" },
          fmtInt(page * pageSize + 1) + "–" + fmtInt(end) + " of " + fmtInt(rows.length)));
        pager.appendChild(el("button", { type: "button", disabled: page >= pages - 1, onclick: function () { page++; render(); } }, "Next ›"));
      } else if (rows.length > 0 && opts.showCount) {
        pager.appendChild(el("span", { class: "muted" }, plural(rows.length, opts.showCount)));
      }
    }
    sort();
    render();
    return wrap;
  }

  /* a list that shows its first `limit` items and a button for the rest */
  function limitedList(items, renderItem, limit, cls) {
    limit = limit || LIST_LIMIT;
    var ul = el("ul", { class: cls || null });
    function add(from, to) { for (var i = from; i < to; i++) ul.appendChild(renderItem(items[i], i)); }
    add(0, Math.min(limit, items.length));
    var box = el("div", { class: "limited" }, ul);
    if (items.length > limit) {
      var more = el("button", { type: "button", class: "more" }, "Show all " + fmtInt(items.length));
      more.addEventListener("click", function () { add(limit, items.length); more.remove(); });
      box.appendChild(more);
    }
    return box;
  }

  /* inline list of task links with "+N more" */
  function linkList(indexes, limit) {
    limit = limit || 8;
    var span = el("span", { class: "link-list" });
    function add(from, to) {
      for (var i = from; i < to; i++) {
        if (span.childNodes.length) span.appendChild(document.createTextNode(", "));
        span.appendChild(ATTEMPTS[indexes[i]] ? taskLink(indexes[i]) : muted("attempt " + indexes[i]));
      }
    }
    if (!indexes || !indexes.length) return muted("—");
    add(0, Math.min(limit, indexes.length));
    if (indexes.length > limit) {
      var more = el("button", { type: "button", class: "more inline" }, "+" + fmtInt(indexes.length - limit) + " more");
      more.addEventListener("click", function () { more.remove(); add(limit, indexes.length); });
      var box = el("span", null, [span, " ", more]);
      return box;
    }
    return span;
  }

  /* ---------- summary ---------- */

  function renderSummary() {
    var root = document.getElementById("summary");
    var failed = RUN.failed_tasks || 0, retried = RUN.retried_tasks || 0, lost = RUN.lost_workers || 0;
    var status;
    if (failed > 0) status = el("span", { class: "status status-bad" }, plural(failed, "task") + " failed" + (retried ? ", " + plural(retried, "task") + " retried" : ""));
    else if (retried > 0 || lost > 0) status = el("span", { class: "status status-warn" }, "All tasks succeeded, " + plural(retried, "task") + " retried");
    else if (!RUN.tasks && !ATTEMPTS.length) status = el("span", { class: "status" }, "No tasks recorded");
    else status = el("span", { class: "status status-ok" }, "All tasks succeeded");

    root.appendChild(el("div", { class: "title-row" }, [el("h1", { text: DATA.title || "Dask run report" }), status]));
    root.appendChild(el("p", { class: "run-times" }, [
      el("span", null, ["Started ", el("strong", { text: fmtDate(RUN.start) })]),
      el("span", null, ["ended ", el("strong", { text: fmtDate(RUN.end) })]),
      el("span", null, ["took ", el("strong", { text: fmtDur(RUN.duration) })])
    ]));

    var stats = [["Computations", RUN.computations], ["Tasks", RUN.tasks], ["Attempts", RUN.attempts],
      ["Workers", RUN.workers], ["Threads", RUN.threads], ["Failed tasks", failed], ["Retried tasks", retried],
      ["Lost workers", lost]];
    root.appendChild(el("dl", { class: "stats" }, stats.map(function (s) {
      var bad = (s[0] === "Failed tasks" || s[0] === "Lost workers") && s[1] > 0;
      var warn = s[0] === "Retried tasks" && s[1] > 0;
      return el("div", { class: "stat" + (bad ? " stat-bad" : warn ? " stat-warn" : "") },
        [el("dt", { text: s[0] }), el("dd", { text: fmtInt(s[1] || 0) })]);
    })));

    /* attempt outcomes as one stacked bar */
    var outcomes = RUN.outcomes || {};
    var total = 0, names = [];
    for (var name in outcomes) if (outcomes[name]) { total += outcomes[name]; if (OUTCOME_ORDER.indexOf(name) < 0) OUTCOME_ORDER.push(name); }
    OUTCOME_ORDER.forEach(function (n) { if (outcomes[n]) names.push(n); });
    if (total > 0) {
      var bar = el("div", { class: "outcome-bar", role: "img", "aria-label": "Attempt outcomes" });
      var legend = el("ul", { class: "legend outcome-legend" });
      names.forEach(function (n) {
        bar.appendChild(el("span", { style: "flex-grow:" + outcomes[n] + ";background:" + (OUTCOME_COLOR[n] || "#999"), title: n + ": " + fmtInt(outcomes[n]) }));
        legend.appendChild(el("li", null, [el("span", { class: "swatch", style: "background:" + (OUTCOME_COLOR[n] || "#999") }),
          (OUTCOME_LABEL[n] || n) + " " + fmtInt(outcomes[n])]));
      });
      root.appendChild(el("div", { class: "outcomes" }, [el("span", { class: "label", text: "Attempt outcomes" }), bar, legend]));
    }

    var notes = [];
    if (LIMITS.sampled) {
      notes.push("Showing a sample of " + fmtInt(LIMITS.attempts_kept !== undefined ? LIMITS.attempts_kept : ATTEMPTS.length) +
        " of " + fmtInt(RUN.attempts) + " attempts in the timeline and task lists; counts and the group graph are exact." +
        " Every failed attempt is kept.");
    }
    if (LIMITS.computations_kept !== undefined && RUN.computations !== undefined && LIMITS.computations_kept < RUN.computations) {
      notes.push("The computations table lists " + fmtInt(LIMITS.computations_kept) + " of " + fmtInt(RUN.computations) + " computations.");
    }
    if (LIMITS.files_kept !== undefined && LIMITS.files !== undefined && LIMITS.files_kept < LIMITS.files) {
      notes.push("The files table lists " + fmtInt(LIMITS.files_kept) + " of " + fmtInt(LIMITS.files) + " files.");
    }
    notes.forEach(function (n) { root.appendChild(el("p", { class: "note sample-note", text: n })); });

    var inputs = DATA.inputs || [];
    if (inputs.length) {
      var tbl = el("table", { class: "data compact" }, [
        el("thead", null, el("tr", null, [el("th", { text: "Trace file" }), el("th", { class: "num", text: "Size" }), el("th", { text: "SHA-256" })])),
        el("tbody", null, inputs.map(function (f) {
          return el("tr", null, [el("td", null, el("code", { text: f.path })), el("td", { class: "num", text: fmtBytes(f.size) }),
            el("td", null, el("code", { class: "hash", text: f.sha256 || "—" }))]);
        }))
      ]);
      root.appendChild(details("Made from " + plural(inputs.length, "trace file") + (DATA.tool ? " by " + DATA.tool : ""), el("div", { class: "table-wrap" }, tbl)));
    }
  }

  /* ---------- failures ---------- */

  function exceptionLine(exc) {
    if (!exc) return null;
    var msg = (exc.message || "").split("\n")[0];
    if (msg.length > 300) msg = msg.slice(0, 300) + "…";
    return el("span", { class: "exception" }, [el("strong", { text: exc.type || "Exception" }), msg ? ": " + msg : ""]);
  }
  function where(a, skipWorker) {
    var parts = [];
    if (!skipWorker && a.worker !== null && a.worker !== undefined) parts.push("on " + processName(a.worker));
    if (a.start !== null && a.start !== undefined) parts.push("at " + fmtOffset(a.start));
    return parts.length ? muted(" " + parts.join(" ")) : null;
  }

  function renderFailures() {
    var root = document.getElementById("failures");
    var erred = [], retriedKeys = [], seenRetry = Object.create(null), depErr = [], unfinished = [];
    var lostByWorker = new Map();
    for (var i = 0; i < ATTEMPTS.length; i++) {
      var a = ATTEMPTS[i];
      if (a.outcome === "error") erred.push(i);
      else if (a.outcome === "dependency-error") depErr.push(i);
      else if (a.outcome === "unfinished") unfinished.push(i);
      if (a.outcome === "worker-lost") {
        var w = a.worker === null || a.worker === undefined ? -1 : a.worker;
        if (!lostByWorker.has(w)) lostByWorker.set(w, []);
        lostByWorker.get(w).push(i);
      }
      if ((a.attempt > 1 || a.outcome === "error-retried" || a.outcome === "worker-lost" ||
        (a.previous !== null && a.previous !== undefined)) && !seenRetry[a.key]) {
        seenRetry[a.key] = true;
        retriedKeys.push(a.key);
      }
    }
    PROCESSES.forEach(function (p, idx) { if (p.lost && !lostByWorker.has(idx)) lostByWorker.set(idx, []); });

    var any = erred.length || retriedKeys.length || depErr.length || unfinished.length || lostByWorker.size ||
      (RUN.failed_tasks || 0) > 0 || (RUN.retried_tasks || 0) > 0 || (RUN.lost_workers || 0) > 0;
    if (!any) {
      root.appendChild(el("p", { class: "no-failures" }, !RUN.tasks && !ATTEMPTS.length ? "No failures (no task was recorded)." :
        "No failures: every task succeeded on its first attempt and no worker was lost."));
      return;
    }
    var intro = [];
    if (RUN.failed_tasks) intro.push(plural(RUN.failed_tasks, "task") + " failed");
    if (RUN.retried_tasks) intro.push(plural(RUN.retried_tasks, "task") + " ran more than once");
    if (RUN.lost_workers) intro.push(plural(RUN.lost_workers, "worker") + " lost");
    if (intro.length) root.appendChild(el("p", { class: "lead" + (RUN.failed_tasks || RUN.lost_workers ? "" : " lead-warn") }, intro.join(" · ") + "."));

    function sub(title, help, content) {
      root.appendChild(el("div", { class: "failure-block" }, [el("h3", { text: title }), help ? el("p", { class: "help", text: help }) : null, content]));
    }

    /* clusters of attempts sharing a label, largest first, each listing a few tasks */
    function clustered(list, keyOf, head, item, cls, single) {
      var clusters = new Map();
      list.forEach(function (i) {
        var k = keyOf(i);
        if (!clusters.has(k)) clusters.set(k, []);
        clusters.get(k).push(i);
      });
      var sorted = Array.from(clusters.values()).sort(function (x, y) { return y.length - x.length; });
      return limitedList(sorted, function (members) {
        if (members.length === 1 && single) return single(members[0]);
        var groupsHit = new Set(members.map(function (i) { return ATTEMPTS[i].group; }));
        return el("li", { class: "cluster " + cls }, [
          el("div", { class: "cluster-head" }, [head(members[0]), " ", muted("— " + plural(members.length, "task") +
            (groupsHit.size > 1 ? " in " + plural(groupsHit.size, "group") : ""))]),
          limitedList(members, item, 5, "failure-list")
        ]);
      }, 10, "clusters");
    }

    if (erred.length) {
      sub("Failed tasks (" + fmtInt(erred.length) + ")", "These tasks raised an exception on their last attempt; the same errors are listed together.",
        clustered(erred, function (i) {
          var exc = ATTEMPTS[i].exception || {};
          return (exc.type || "Exception") + "\u0000" + (exc.message || "").split("\n")[0];
        }, function (i) {
          return exceptionLine(ATTEMPTS[i].exception || { type: "Exception", message: "(no exception recorded)" });
        }, function (i) {
          var a = ATTEMPTS[i];
          var exc = a.exception || {};
          return el("li", { class: "failure failure-error" }, [taskLink(i), " ", muted("in "), groupLink(a.group), " ",
            el("span", { class: "exc-type", text: exc.type || "Exception" }), where(a)]);
        }, "cluster-error", function (i) {
          var a = ATTEMPTS[i];
          return el("li", { class: "failure failure-error" }, [
            el("div", null, [taskLink(i), " ", muted("in "), groupLink(a.group), where(a)]),
            el("div", null, exceptionLine(a.exception || { type: "Exception", message: "(no exception recorded)" }))]);
        }));
    }

    if (retriedKeys.length) {
      sub("Retried tasks (" + fmtInt(retriedKeys.length) + ")",
        "These tasks ran more than once: after an error (Dask retries), or because their worker or result was lost.",
        limitedList(retriedKeys, function (key) {
          /* the chain, oldest first: follow previous links back from the latest attempt */
          /* every kept attempt of the key, in order (previous links can point outside a sample) */
          var chain = (attemptsOfKey[key] || [keyToAttempt[key]]).slice().sort(function (x, y) {
            var ax = ATTEMPTS[x], ay = ATTEMPTS[y];
            return (ax.attempt || 0) - (ay.attempt || 0) || (ax.start || 0) - (ay.start || 0) || x - y;
          });
          var items = [];
          chain.forEach(function (i, n) {
            var a = ATTEMPTS[i];
            if (n) items.push(el("span", { class: "arrow", "aria-hidden": "true" }, " → "));
            items.push(el("span", { class: "chain-step" }, [
              taskLink(i, "attempt " + (a.attempt || n + 1)), " ", outcomeBadge(a.outcome),
              a.rerun_reason && n ? muted(" (" + a.rerun_reason + ")") : null
            ]));
          });
          var first = ATTEMPTS[chain[0]];
          var exc = null;
          for (var k = 0; k < chain.length; k++) if (ATTEMPTS[chain[k]].exception) { exc = ATTEMPTS[chain[k]].exception; break; }
          return el("li", { class: "failure failure-retried" }, [
            el("div", null, [el("code", { class: "key", text: key }), " ", muted("in "), groupLink(first.group)]),
            el("div", { class: "chain" }, items),
            exc ? el("div", null, exceptionLine(exc)) : null
          ]);
        }, 10, "failure-list"));
    }

    if (depErr.length) {
      sub("Tasks that never ran (" + fmtInt(depErr.length) + ")",
        "These tasks did not run because a task they needed failed; they are listed by the failed task.",
        clustered(depErr, function (i) { return ATTEMPTS[i].blame || ""; }, function (i) {
          var b = ATTEMPTS[i].blame;
          return el("span", null, [muted("Because this failed: "), b ? keyLink(b) : muted("(not recorded)")]);
        }, function (i) {
          var a = ATTEMPTS[i];
          return el("li", { class: "failure failure-dependency" }, [taskLink(i), " ", muted("in "), groupLink(a.group)]);
        }, "cluster-dependency", function (i) {
          var a = ATTEMPTS[i];
          return el("li", { class: "failure failure-dependency" }, [
            el("div", null, [taskLink(i), " ", muted("in "), groupLink(a.group)]),
            el("div", null, [muted("because this failed: "), a.blame ? keyLink(a.blame) : muted("(not recorded)")])]);
        }));
    }

    if (lostByWorker.size) {
      var blocks = el("div", { class: "lost-workers" });
      lostByWorker.forEach(function (list, w) {
        var proc = PROCESSES[w];
        var head = el("h4", null, [w < 0 ? "Unknown worker" : processName(w),
          proc && proc.address ? muted(" " + proc.address) : null, proc && proc.host ? muted(" on " + proc.host) : null]);
        var body = list.length
          ? [el("p", { class: "help" }, "Running on it when it was lost (" + fmtInt(list.length) + "):"),
            limitedList(list, function (i) {
              var a = ATTEMPTS[i];
              return el("li", { class: "failure failure-lost" }, [taskLink(i), " ", muted("in "), groupLink(a.group),
                where(a, true), nextAttempt[i] !== undefined ? [muted(" — re-ran as "), taskLink(nextAttempt[i], "attempt " + ATTEMPTS[nextAttempt[i]].attempt)] : null]);
            }, 10, "failure-list")]
          : el("p", { class: "help" }, "No task was recorded as running on it when it was lost.");
        blocks.appendChild(el("div", { class: "lost-worker", "data-worker": w }, [head, body]));
      });
      sub("Lost workers (" + fmtInt(lostByWorker.size) + ")", "These worker processes died or disconnected during the run; Dask re-ran their tasks elsewhere.", blocks);
    }

    if (unfinished.length) {
      sub("Unfinished tasks (" + fmtInt(unfinished.length) + ")", "These tasks started but the trace ends before they finished.",
        limitedList(unfinished, function (i) {
          var a = ATTEMPTS[i];
          return el("li", { class: "failure failure-unfinished" }, [taskLink(i), " ", muted("in "), groupLink(a.group), where(a)]);
        }, LIST_LIMIT, "failure-list"));
    }
  }

  /* ---------- run: computations and processes ---------- */

  /* the line of a computation's code that submitted it: code_line (1-based, when the
   * writer knows it), else a line calling compute/persist/submit, else the function */
  var SUBMIT_RE = /\.(compute|persist|submit|map|gather|result)\(|\b(compute|persist)\(/;
  function submitLine(c) {
    var lines = String(c.code).split("\n");
    if (c.code_line && lines[c.code_line - 1] !== undefined) return c.code_line - 1;
    var hits = [];
    lines.forEach(function (l, n) { if (SUBMIT_RE.test(l)) hits.push(n); });
    return hits.length === 1 ? hits[0] : -1;
  }
  function codeSummary(c) {
    var lines = String(c.code).split("\n"), n = submitLine(c), text;
    if (n >= 0) text = lines[n].trim();
    else {
      var first = "";
      for (var k = 0; k < lines.length && !first; k++) first = lines[k].trim();
      var def = /^(?:async\s+)?def\s+([A-Za-z_][\w]*)/.exec(first);
      text = def ? "in " + def[1] + "()" : first;
    }
    return text.length > 64 ? text.slice(0, 63) + "…" : text;
  }
  function codePre(c) {
    var lines = String(c.code).split("\n"), n = submitLine(c);
    if (n < 0) return pre(c.code, "code");
    return el("pre", { class: "code" }, [lines.slice(0, n).join("\n") + (n ? "\n" : ""), el("mark", { text: lines[n] }),
      n + 1 < lines.length ? "\n" + lines.slice(n + 1).join("\n") : ""]);
  }

  function renderRun() {
    var root = document.getElementById("run");
    root.appendChild(el("h3", { text: "Computations" }));
    root.appendChild(el("p", { class: "help", text: "Each call that sent work to the scheduler (compute(), persist(), …)." }));
    var compIdx = COMPUTATIONS.map(function (c, i) { return i; });
    root.appendChild(makeTable({
      rows: compIdx, className: "computations", sortColumn: 1, sortDir: 1, empty: "No computations recorded.",
      rowAttrs: function (i) { return { "data-computation": i }; },
      columns: [
        { title: "#", value: function (i) { return i; }, cell: function (i) { return String(i + 1); }, numeric: true },
        { title: "Start", value: function (i) { return COMPUTATIONS[i].start; }, cell: function (i) { return fmtOffset(COMPUTATIONS[i].start); }, numeric: true },
        { title: "Duration", value: function (i) { return duration(COMPUTATIONS[i]); }, cell: function (i) { return fmtDur(duration(COMPUTATIONS[i])); }, numeric: true },
        { title: "Tasks", value: function (i) { return COMPUTATIONS[i].tasks; }, cell: function (i) { return fmtInt(COMPUTATIONS[i].tasks); }, numeric: true },
        { title: "Failed", value: function (i) { return COMPUTATIONS[i].erred; }, cell: function (i) { var n = COMPUTATIONS[i].erred || 0; return n ? el("span", { class: "bad", text: fmtInt(n) }) : "0"; }, numeric: true },
        { title: "Outcome", value: function (i) { return COMPUTATIONS[i].outcome; }, cell: function (i) { return outcomeBadge(COMPUTATIONS[i].outcome); } },
        { title: "Code", cell: function (i) {
          var c = COMPUTATIONS[i];
          if (!c.code) return muted("—");
          return details(el("code", { text: codeSummary(c) }), codePre(c));
        } },
        { title: "Where", value: function (i) { var c = COMPUTATIONS[i]; return c.cell || c.file || null; }, cell: function (i) {
          var c = COMPUTATIONS[i];
          if (c.cell) return el("span", null, ["notebook cell ", el("code", { text: c.cell })]);
          if (c.file) return el("code", { text: c.file + (c.line !== null && c.line !== undefined ? ":" + c.line : "") });
          return muted("—");
        } },
        { title: "Client", value: function (i) { return processName(COMPUTATIONS[i].client); }, cell: function (i) { var c = COMPUTATIONS[i].client; return c === null || c === undefined ? muted("—") : processName(c); } }
      ]
    }));

    root.appendChild(el("h3", { text: "Processes" }));
    root.appendChild(el("p", { class: "help", text: "The scheduler, workers and clients that took part, with their software versions." }));
    var procIdx = PROCESSES.map(function (p, i) { return i; });
    var roleOrder = { scheduler: 0, client: 1, worker: 2 };
    root.appendChild(makeTable({
      rows: procIdx, className: "processes", sortColumn: 0, sortDir: 1, pageSize: 100, empty: "No processes recorded.",
      rowAttrs: function (i) { return { "data-process": i, class: PROCESSES[i].lost ? "lost" : null }; },
      columns: [
        { title: "Role", value: function (i) { var r = PROCESSES[i].role; return (r in roleOrder ? roleOrder[r] : 9) * 1e6 + i; }, cell: function (i) {
          var p = PROCESSES[i];
          return [p.role || "—", p.lost ? [" ", el("span", { class: "badge outcome-worker-lost", text: "lost" })] : null];
        } },
        { title: "Name", value: function (i) { return PROCESSES[i].name; }, cell: function (i) { return PROCESSES[i].name || "—"; } },
        { title: "Address", value: function (i) { return PROCESSES[i].address; }, cell: function (i) { var a = PROCESSES[i].address; return a ? el("code", { text: a }) : muted("—"); } },
        { title: "Host", value: function (i) { return PROCESSES[i].host; }, cell: function (i) { return PROCESSES[i].host || "—"; } },
        { title: "PID", value: function (i) { return PROCESSES[i].pid; }, cell: function (i) { var p = PROCESSES[i].pid; return p === null || p === undefined ? "—" : String(p); }, numeric: true },
        { title: "Python", value: function (i) { return PROCESSES[i].python; }, cell: function (i) { return PROCESSES[i].python || "—"; } },
        { title: "Dask", value: function (i) { return PROCESSES[i].dask; }, cell: function (i) { return PROCESSES[i].dask || "—"; } },
        { title: "distributed", value: function (i) { return PROCESSES[i].distributed; }, cell: function (i) { return PROCESSES[i].distributed || "—"; } },
        { title: "OS", value: function (i) { return PROCESSES[i].os; }, cell: function (i) { return PROCESSES[i].os || "—"; } },
        { title: "Packages", cell: function (i) {
          var pk = PROCESSES[i].packages || [];
          if (!pk.length) return muted("—");
          return details(plural(pk.length, "package"), el("ul", { class: "packages" }, pk.map(function (p) { return el("li", null, el("code", { text: p })); })));
        } }
      ]
    }));
  }

  /* ---------- timeline (canvas task stream) ---------- */

  var timeline = null;

  function renderTimeline() {
    var root = document.getElementById("timeline");
    root.appendChild(el("p", { class: "help" },
      "One row per worker thread; each bar is one task attempt, coloured by task group. " +
      "Failed attempts are outlined red and hatched, attempts on a lost worker are outlined purple. " +
      "Scroll to zoom, drag to pan, click a bar for details." +
      (LIMITS.sampled ? " It shows the sample of " + fmtInt(ATTEMPTS.length) + " of " + fmtInt(RUN.attempts) + " attempts (with every failure)." : "")));
    var resetBtn = el("button", { type: "button", class: "reset" }, "Reset zoom");
    var range = el("span", { class: "muted range" });
    var toolbar = el("div", { class: "toolbar" }, [resetBtn, range]);
    var wrap = el("div", { class: "timeline-wrap" });
    var canvas = el("canvas", { tabindex: 0, "aria-label": "Task stream: task attempts over time per worker thread" });
    wrap.appendChild(canvas);
    root.appendChild(toolbar);
    root.appendChild(wrap);
    var legend = el("div", { class: "timeline-legend" });
    root.appendChild(legend);

    /* rows: the threads of each worker; attempts with no thread get a row per worker */
    var rows = [];          /* {label, worker, list: [attempt indexes], starts: Float64Array} */
    var rowOfThread = new Map(), rowOfWorker = new Map();
    var threadOrder = THREADS.map(function (t, i) { return i; });
    threadOrder.sort(function (x, y) {
      var wx = THREADS[x].worker, wy = THREADS[y].worker;
      if (wx !== wy) return (wx === null ? 1e9 : wx) - (wy === null ? 1e9 : wy);
      return x - y;
    });
    var placed = 0, tMin = 0, tMax = RUN.duration || 0;
    var rowLists = [];
    function rowFor(a) {
      if (a.thread !== null && a.thread !== undefined && THREADS[a.thread]) {
        if (!rowOfThread.has(a.thread)) return -1;
        return rowOfThread.get(a.thread);
      }
      var w = a.worker === null || a.worker === undefined ? -1 : a.worker;
      if (!rowOfWorker.has(w)) {
        rowOfWorker.set(w, rows.length);
        rows.push({ label: w < 0 ? "no worker recorded" : processName(w) + " · no thread", worker: w });
        rowLists.push([]);
      }
      return rowOfWorker.get(w);
    }
    threadOrder.forEach(function (t) {
      rowOfThread.set(t, rows.length);
      var w = THREADS[t].worker;
      rows.push({ label: threadLabel(t), worker: w === null || w === undefined ? -1 : w });
      rowLists.push([]);
    });
    for (var i = 0; i < ATTEMPTS.length; i++) {
      var a = ATTEMPTS[i];
      if (a.start === null || a.start === undefined) continue;
      var r = rowFor(a);
      if (r < 0) continue;
      rowLists[r].push(i);
      placed++;
      if (a.start < tMin) tMin = a.start;
      var e = a.end === null || a.end === undefined ? a.start : a.end;
      if (e > tMax) tMax = e;
    }
    /* drop empty rows of threads that never ran anything (only when there are many rows) */
    if (tMax <= tMin) tMax = tMin + 1;
    rows.forEach(function (row, r) {
      var list = rowLists[r];
      list.sort(function (x, y) { return ATTEMPTS[x].start - ATTEMPTS[y].start; });
      row.list = list;
      row.starts = new Float64Array(list.length);
      /* running max of ends, for hit testing overlapping bars */
      row.maxEnd = new Float64Array(list.length);
      var m = -Infinity;
      for (var k = 0; k < list.length; k++) {
        var at = ATTEMPTS[list[k]];
        row.starts[k] = at.start;
        var en = at.end === null || at.end === undefined ? tMax : at.end;
        if (en > m) m = en;
        row.maxEnd[k] = m;
      }
    });

    if (!placed) {
      wrap.replaceChild(el("p", { class: "muted", text: "No task attempt has a recorded start time." }), canvas);
      toolbar.remove();
      return;
    }

    /* draw lists bucketed by group, so each colour is set once per frame */
    var byGroup = new Map();
    rows.forEach(function (row, r) {
      row.list.forEach(function (i) {
        var g = ATTEMPTS[i].group;
        if (!byGroup.has(g)) byGroup.set(g, []);
        byGroup.get(g).push(i);
      });
    });
    var attemptRow = new Int32Array(ATTEMPTS.length).fill(-1);
    rows.forEach(function (row, r) { row.list.forEach(function (i) { attemptRow[i] = r; }); });
    var marked = [];
    for (var j = 0; j < ATTEMPTS.length; j++) {
      if (attemptRow[j] >= 0 && (isFailure(ATTEMPTS[j].outcome) || ATTEMPTS[j].outcome === "cancelled")) marked.push(j);
    }

    var GUTTER = 170, AXIS = 26, PAD_R = 12;
    var LABEL_FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
    var nrows = rows.length;
    var rowH = nrows <= 30 ? 20 : Math.max(3, Math.min(20, Math.floor(720 / nrows)));
    var cssH = AXIS + nrows * rowH + 4;
    var view = { t0: tMin, t1: tMax + (tMax - tMin) * 0.01 };
    var full = { t0: view.t0, t1: view.t1 };
    var ctx = canvas.getContext("2d");
    var cssW = 0, dpr = 1;
    var hover = -1, selected = -1, selectedGroup = -1;
    var hatch = null;

    function makeHatch(color) {
      var c = document.createElement("canvas");
      c.width = c.height = 6;
      var x = c.getContext("2d");
      x.strokeStyle = color; x.lineWidth = 1.5;
      x.beginPath(); x.moveTo(0, 6); x.lineTo(6, 0); x.moveTo(-1, 1); x.lineTo(1, -1); x.moveTo(5, 7); x.lineTo(7, 5); x.stroke();
      return ctx.createPattern(c, "repeat");
    }

    function resize() {
      dpr = window.devicePixelRatio || 1;
      cssW = Math.max(280, wrap.clientWidth);
      /* wide enough for the longest label, within a third of the width */
      ctx.font = LABEL_FONT;
      var widest = 0;
      rows.forEach(function (row) {
        var label = rowH >= 13 ? row.label : row.worker < 0 ? "unknown" : processName(row.worker);
        var w = ctx.measureText(label).width;
        if (w > widest) widest = w;
      });
      GUTTER = Math.round(Math.min(Math.max(90, widest + 18), 300, Math.max(80, cssW * 0.33)));
      canvas.style.width = cssW + "px";
      canvas.style.height = cssH + "px";
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
      hatch = makeHatch("rgba(201,42,42,0.85)");
      draw();
    }
    function plotW() { return Math.max(10, cssW - GUTTER - PAD_R); }
    function xOf(t) { return GUTTER + (t - view.t0) / (view.t1 - view.t0) * plotW(); }
    function tOf(x) { return view.t0 + (x - GUTTER) / plotW() * (view.t1 - view.t0); }

    var CLOCK_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
    function niceStep(span, target) {
      var raw = span / target;
      if (raw > 45) {
        for (var c = 0; c < CLOCK_STEPS.length; c++) if (CLOCK_STEPS[c] >= raw) return CLOCK_STEPS[c];
        return Math.ceil(raw / 604800) * 604800;
      }
      var p = Math.pow(10, Math.floor(Math.log10(raw))), n = raw / p;
      return (n < 1.5 ? 1 : n < 3.5 ? 2 : n < 7.5 ? 5 : 10) * p;
    }
    function tickLabel(t, step) {
      if (step >= 60) return (t < 0 ? "−" : "") + fmtDur(Math.abs(t));
      if (step >= 1) return t.toFixed(0) + " s";
      if (step >= 0.001) { var d = Math.min(3, Math.max(0, -Math.floor(Math.log10(step)))); return t.toFixed(d) + " s"; }
      return (t * 1e3).toFixed(Math.min(6, Math.max(0, -Math.floor(Math.log10(step * 1e3))))) + " ms";
    }

    var frame = 0;
    function schedule() {
      /* keep some of the run in view: at most a quarter of the view beyond either end */
      var span = view.t1 - view.t0, fs = full.t1 - full.t0;
      if (span > fs * 4) { span = fs * 4; view.t1 = view.t0 + span; }
      var lo = full.t0 - span * 0.25, hi = full.t1 + span * 0.25;
      if (view.t0 < lo && view.t1 < hi) { view.t0 = lo; view.t1 = lo + span; }
      if (view.t1 > hi && view.t0 > lo) { view.t1 = hi; view.t0 = hi - span; }
      if (!frame) frame = requestAnimationFrame(function () { frame = 0; draw(); });
    }

    function barRect(i) {
      var a = ATTEMPTS[i], r = attemptRow[i];
      var end = a.end === null || a.end === undefined ? tMax : a.end;
      var x0 = xOf(a.start), x1 = xOf(end);
      var pad = rowH >= 8 ? 1 : 0;
      return { x: x0, y: AXIS + r * rowH + pad, w: Math.max(1, x1 - x0), h: Math.max(1, rowH - 2 * pad) };
    }

    function draw() {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, cssW, cssH);
      var span = view.t1 - view.t0, pw = plotW();
      /* row stripes and worker separators */
      ctx.fillStyle = "#f8f9fa";
      for (var r = 0; r < nrows; r++) if (r % 2) ctx.fillRect(GUTTER, AXIS + r * rowH, pw, rowH);
      /* grid + axis */
      var step = niceStep(span, Math.max(2, pw / 110));
      ctx.strokeStyle = "#e9ecef"; ctx.lineWidth = 1;
      ctx.fillStyle = "#495057"; ctx.font = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
      ctx.textBaseline = "middle"; ctx.textAlign = "center";
      ctx.beginPath();
      var ticks = [];
      for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
        var x = Math.round(xOf(t)) + 0.5;
        ctx.moveTo(x, AXIS - 4); ctx.lineTo(x, cssH);
        ticks.push([x, t]);
      }
      ctx.stroke();
      /* bars, clipped to the plot */
      ctx.save();
      ctx.beginPath(); ctx.rect(GUTTER, AXIS, pw, nrows * rowH); ctx.clip();
      byGroup.forEach(function (list, g) {
        var dim = selectedGroup >= 0 && g !== selectedGroup;
        ctx.globalAlpha = dim ? 0.18 : 1;
        ctx.fillStyle = groupColor(g);
        for (var k = 0; k < list.length; k++) {
          var i = list[k], a = ATTEMPTS[i];
          var end = a.end === null || a.end === undefined ? tMax : a.end;
          if (end < view.t0 || a.start > view.t1) continue;
          var b = barRect(i);
          ctx.fillRect(b.x, b.y, b.w, b.h);
        }
      });
      ctx.globalAlpha = 1;
      /* failures and lost attempts on top */
      for (var m = 0; m < marked.length; m++) {
        var mi = marked[m], ma = ATTEMPTS[mi];
        var mend = ma.end === null || ma.end === undefined ? tMax : ma.end;
        if (mend < view.t0 || ma.start > view.t1) continue;
        var mb = barRect(mi);
        var o = ma.outcome;
        if (o === "error" || o === "error-retried" || o === "dependency-error") {
          ctx.fillStyle = hatch; ctx.fillRect(mb.x, mb.y, mb.w, mb.h);
          ctx.strokeStyle = "#c92a2a"; ctx.lineWidth = 1.5; ctx.setLineDash([]);
        } else if (o === "worker-lost") {
          ctx.strokeStyle = "#5f3dc4"; ctx.lineWidth = 1.5; ctx.setLineDash([3, 2]);
        } else {
          ctx.strokeStyle = "#e67700"; ctx.lineWidth = 1.2; ctx.setLineDash([2, 2]);
        }
        ctx.strokeRect(mb.x + 0.5, mb.y + 0.5, Math.max(1, mb.w - 1), Math.max(1, mb.h - 1));
      }
      ctx.setLineDash([]);
      [hover, selected].forEach(function (i, n) {
        if (i < 0 || attemptRow[i] < 0) return;
        var hb = barRect(i);
        ctx.strokeStyle = n ? "#000" : "#212529"; ctx.lineWidth = n ? 2.5 : 1.5;
        ctx.strokeRect(hb.x - 1, hb.y - 1, hb.w + 2, hb.h + 2);
      });
      ctx.restore();
      /* gutter labels */
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, GUTTER - 2, cssH);
      ctx.textAlign = "right"; ctx.fillStyle = "#343a40";
      ctx.textAlign = "center"; ctx.fillStyle = "#495057";
      ticks.forEach(function (tk) {
        var label = Math.abs(tk[1]) < step / 1e6 ? "0 s" : tickLabel(tk[1], step);
        var half = ctx.measureText(label).width / 2;
        if (tk[0] - half < GUTTER) { if (tk[0] >= GUTTER - 0.5) { ctx.textAlign = "left"; ctx.fillText(label, tk[0] + 2, AXIS / 2 - 1); ctx.textAlign = "center"; } return; }
        if (tk[0] + half > cssW) return;
        ctx.fillText(label, tk[0], AXIS / 2 - 1);
      });
      ctx.textAlign = "right"; ctx.fillStyle = "#343a40";
      var showEach = rowH >= 13;
      ctx.font = (showEach ? Math.min(12, rowH - 3) : 11) + "px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
      var lastWorker = null;
      ctx.strokeStyle = "#ced4da"; ctx.lineWidth = 1;
      for (var rr = 0; rr < nrows; rr++) {
        var row = rows[rr], y = AXIS + rr * rowH;
        if (row.worker !== lastWorker) {
          if (rr) { ctx.beginPath(); ctx.moveTo(0, Math.round(y) + 0.5); ctx.lineTo(cssW, Math.round(y) + 0.5); ctx.stroke(); }
          if (!showEach) {
            var span2 = 0;
            while (rr + span2 < nrows && rows[rr + span2].worker === row.worker) span2++;
            if (span2 * rowH >= 11) ctx.fillText(fitText(row.worker < 0 ? "unknown" : processName(row.worker), GUTTER - 10), GUTTER - 8, y + span2 * rowH / 2);
          }
          lastWorker = row.worker;
        }
        if (showEach) ctx.fillText(fitText(row.label, GUTTER - 10), GUTTER - 8, y + rowH / 2);
      }
      range.textContent = "Showing " + fmtDur(Math.max(0, view.t0)) + " – " + fmtDur(view.t1) + " of " + fmtDur(tMax);
    }
    var fitCache = new Map();
    function fitText(s, w) {
      var k = s + "|" + ctx.font + "|" + w;
      if (fitCache.has(k)) return fitCache.get(k);
      var out = s;
      if (ctx.measureText(s).width > w) {
        /* keep both ends: the worker's name and the thread number */
        var lo = 0, hi = s.length;
        var cut = function (n) { var head = Math.ceil(n / 2); return s.slice(0, head) + "…" + s.slice(s.length - (n - head)); };
        while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (ctx.measureText(cut(mid)).width <= w) lo = mid; else hi = mid - 1; }
        out = cut(lo);
      }
      fitCache.set(k, out);
      return out;
    }

    function hit(x, y) {
      if (x < GUTTER || y < AXIS) return -1;
      var r = Math.floor((y - AXIS) / rowH);
      if (r < 0 || r >= nrows) return -1;
      var row = rows[r], t = tOf(x), tol = 3 * (view.t1 - view.t0) / plotW();
      /* last attempt starting at or before t + tol */
      var lo = 0, hi = row.starts.length - 1, idx = -1;
      while (lo <= hi) { var mid = (lo + hi) >> 1; if (row.starts[mid] <= t + tol) { idx = mid; lo = mid + 1; } else hi = mid - 1; }
      var best = -1, bestDist = Infinity;
      for (var k = idx; k >= 0 && row.maxEnd[k] >= t - tol; k--) {
        var a = ATTEMPTS[row.list[k]];
        var end = a.end === null || a.end === undefined ? tMax : a.end;
        if (end < t - tol) continue;
        var d = t < a.start ? a.start - t : t > end ? t - end : 0;
        if (d < bestDist) { bestDist = d; best = row.list[k]; if (d === 0) break; }
      }
      return best;
    }

    var tooltip = document.getElementById("tooltip");
    function showTooltip(i, clientX, clientY) {
      if (i < 0) { tooltip.hidden = true; return; }
      var a = ATTEMPTS[i];
      clear(tooltip);
      append(tooltip, [
        el("div", { class: "tt-key", text: a.key }),
        el("div", null, [el("span", { class: "swatch", style: "background:" + groupColor(a.group) }), groupName(a.group)]),
        el("div", null, [fmtDur(duration(a)), " · ", outcomeBadge(a.outcome), a.attempt > 1 ? " · attempt " + a.attempt : ""]),
        el("div", { class: "muted", text: "from " + fmtOffset(a.start) + " on " + threadLabel(a.thread) +
          (COMPUTATIONS[a.computation] ? " · computation #" + (a.computation + 1) : "") })
      ]);
      tooltip.hidden = false;
      var tw = tooltip.offsetWidth, th = tooltip.offsetHeight;
      var x = clientX + 14, y = clientY + 14;
      if (x + tw > window.innerWidth - 8) x = Math.max(8, clientX - tw - 14);
      if (y + th > window.innerHeight - 8) y = Math.max(8, clientY - th - 14);
      tooltip.style.left = x + "px";
      tooltip.style.top = y + "px";
    }

    function local(e) { var rect = canvas.getBoundingClientRect(); return { x: e.clientX - rect.left, y: e.clientY - rect.top }; }

    var drag = null;
    canvas.addEventListener("mousedown", function (e) {
      if (e.button !== 0) return;
      drag = { x: e.clientX, t0: view.t0, t1: view.t1, moved: false };
      e.preventDefault();
    });
    window.addEventListener("mousemove", function (e) {
      if (drag) {
        var dx = e.clientX - drag.x;
        if (Math.abs(dx) > 3) drag.moved = true;
        if (drag.moved) {
          var dt = dx / plotW() * (drag.t1 - drag.t0);
          view.t0 = drag.t0 - dt; view.t1 = drag.t1 - dt;
          canvas.classList.add("dragging");
          tooltip.hidden = true;
          schedule();
        }
      }
    });
    window.addEventListener("mouseup", function (e) {
      if (!drag) return;
      var wasDrag = drag.moved;
      drag = null;
      canvas.classList.remove("dragging");
      if (!wasDrag && e.target === canvas) {
        var p = local(e), i = hit(p.x, p.y);
        if (i >= 0) openTask(i);
      }
    });
    canvas.addEventListener("mousemove", function (e) {
      if (drag && drag.moved) return;
      var p = local(e), i = hit(p.x, p.y);
      canvas.style.cursor = i >= 0 ? "pointer" : "grab";
      if (i !== hover) { hover = i; schedule(); }
      showTooltip(i, e.clientX, e.clientY);
    });
    canvas.addEventListener("mouseleave", function () { if (hover >= 0) { hover = -1; schedule(); } tooltip.hidden = true; });
    canvas.addEventListener("wheel", function (e) {
      var p = local(e);
      if (p.x < GUTTER) return;
      e.preventDefault();
      var t = tOf(p.x);
      var f = Math.pow(1.0015, e.deltaY * (e.deltaMode === 1 ? 30 : 1));
      var span = (view.t1 - view.t0) * f;
      var minSpan = 1e-6, maxSpan = (full.t1 - full.t0) * 4;
      span = Math.min(maxSpan, Math.max(minSpan, span));
      var ratio = (t - view.t0) / (view.t1 - view.t0);
      view.t0 = t - ratio * span; view.t1 = view.t0 + span;
      schedule();
    }, { passive: false });
    canvas.addEventListener("keydown", function (e) {
      var span = view.t1 - view.t0, mid = (view.t0 + view.t1) / 2;
      if (e.key === "+" || e.key === "=") { view.t0 = mid - span / 3; view.t1 = mid + span / 3; }
      else if (e.key === "-") { view.t0 = mid - span; view.t1 = mid + span; }
      else if (e.key === "ArrowLeft") { view.t0 -= span / 10; view.t1 -= span / 10; }
      else if (e.key === "ArrowRight") { view.t0 += span / 10; view.t1 += span / 10; }
      else if (e.key === "0") { view.t0 = full.t0; view.t1 = full.t1; }
      else return;
      e.preventDefault(); schedule();
    });
    resetBtn.addEventListener("click", function () { view.t0 = full.t0; view.t1 = full.t1; schedule(); });
    var resizeTimer = 0;
    window.addEventListener("resize", function () { clearTimeout(resizeTimer); resizeTimer = setTimeout(resize, 100); });

    /* legend: the prefixes by total time */
    var prefixes = new Map();
    GROUPS.forEach(function (g, gIdx) {
      var p = g.prefix || g.name;
      prefixes.set(p, (prefixes.get(p) || 0) + (g.time || 0) + 1e-9 * (groupAttempts[gIdx].length));
    });
    var sortedPrefixes = Array.from(prefixes.entries()).sort(function (x, y) { return y[1] - x[1]; });
    legend.appendChild(limitedList(sortedPrefixes, function (e) {
      return el("li", null, [el("span", { class: "swatch", style: "background:" + prefixColor(e[0]) }), e[0]]);
    }, 24, "legend"));
    var marks = el("ul", { class: "legend marks" }, [
      el("li", null, [el("span", { class: "swatch swatch-failed" }), "failed"]),
      el("li", null, [el("span", { class: "swatch swatch-lost" }), "worker lost"]),
      el("li", null, [el("span", { class: "swatch swatch-unfinished" }), "unfinished / cancelled"])
    ]);
    legend.appendChild(marks);

    timeline = {
      select: function (i) { selected = i; schedule(); },
      focusGroup: function (g) { selectedGroup = g; schedule(); },
      reveal: function (i) {
        var a = ATTEMPTS[i];
        if (!a || attemptRow[i] < 0) return;
        var end = a.end === null || a.end === undefined ? tMax : a.end;
        if (a.start < view.t0 || end > view.t1) {
          var span = view.t1 - view.t0;
          if (end - a.start > span) span = (end - a.start) * 1.5;
          var mid = (a.start + end) / 2;
          view.t0 = mid - span / 2; view.t1 = mid + span / 2;
        }
        selected = i; schedule();
      }
    };
    resize();
  }

  /* ---------- task groups: layered DAG in SVG, table, expanded group ---------- */

  var graph = null;
  var groupTasksPanel = null;

  function layoutGroups() {
    var n = GROUPS.length;
    var outs = [], ins = [];
    for (var i = 0; i < n; i++) { outs.push([]); ins.push([]); }
    var edges = [];
    EDGES.forEach(function (e) {
      var a = e[0], b = e[1];
      if (a === b || a < 0 || b < 0 || a >= n || b >= n) return;
      edges.push(e);
      outs[a].push(b); ins[b].push(a);
    });
    /* longest-path layering with Kahn's algorithm; nodes left on a cycle are placed after */
    var indeg = new Int32Array(n), layer = new Int32Array(n), done = new Uint8Array(n);
    for (i = 0; i < n; i++) indeg[i] = ins[i].length;
    var queue = [];
    for (i = 0; i < n; i++) if (!indeg[i]) queue.push(i);
    var head = 0;
    while (head < queue.length) {
      var v = queue[head++];
      done[v] = 1;
      var o = outs[v];
      for (var k = 0; k < o.length; k++) {
        var w = o[k];
        if (layer[v] + 1 > layer[w]) layer[w] = layer[v] + 1;
        if (--indeg[w] === 0) queue.push(w);
      }
    }
    if (queue.length < n) {
      /* a cycle (should not happen): place the rest after their finished producers */
      for (i = 0; i < n; i++) if (!done[i]) {
        var l = 0;
        ins[i].forEach(function (u) { if (done[u] && layer[u] + 1 > l) l = layer[u] + 1; });
        layer[i] = l; done[i] = 1;
      }
    }
    /* pull sources right, next to their first consumer, so inputs sit beside what reads them */
    for (i = 0; i < n; i++) {
      if (!ins[i].length && outs[i].length) {
        var minL = Infinity;
        outs[i].forEach(function (w2) { if (layer[w2] < minL) minL = layer[w2]; });
        if (minL - 1 > layer[i]) layer[i] = minL - 1;
      }
    }
    var nLayers = 0;
    for (i = 0; i < n; i++) if (layer[i] + 1 > nLayers) nLayers = layer[i] + 1;
    var layers = [];
    for (i = 0; i < nLayers; i++) layers.push([]);
    var order = [];
    for (i = 0; i < n; i++) order.push(i);
    order.sort(function (x, y) {
      var sx = GROUPS[x].start, sy = GROUPS[y].start;
      sx = sx === null || sx === undefined ? Infinity : sx; sy = sy === null || sy === undefined ? Infinity : sy;
      return sx - sy || x - y;
    });
    order.forEach(function (g) { layers[layer[g]].push(g); });
    var pos = new Float64Array(n);
    function number() { layers.forEach(function (L) { L.forEach(function (g, idx) { pos[g] = idx; }); }); }
    number();
    /* barycentre ordering: a few down and up sweeps */
    function sweep(L, neighbours) {
      var bary = new Map();
      L.forEach(function (g) {
        var nb = neighbours[g], s = 0, c = 0;
        for (var q = 0; q < nb.length; q++) { s += pos[nb[q]] / Math.max(1, layers[layer[nb[q]]].length); c++; }
        bary.set(g, c ? s / c : pos[g] / Math.max(1, L.length));
      });
      L.sort(function (x, y) { return bary.get(x) - bary.get(y) || pos[x] - pos[y]; });
      L.forEach(function (g, idx) { pos[g] = idx; });
    }
    var sweeps = n > 1500 ? 2 : 4;
    for (var s = 0; s < sweeps; s++) {
      for (i = 1; i < nLayers; i++) sweep(layers[i], ins);
      for (i = nLayers - 2; i >= 0; i--) sweep(layers[i], outs);
    }
    return { layer: layer, layers: layers, pos: pos, edges: edges };
  }

  function renderGroups() {
    var root = document.getElementById("groups");
    root.appendChild(el("p", { class: "help" },
      "Each box is a task group (the tasks one operation made, e.g. every chunk of a sum); an arrow goes from the group " +
      "that produced data to the group that used it, thicker when more tasks depend on it. Click a group to list its tasks. " +
      "Scroll to zoom, drag to pan."));
    if (!GROUPS.length) { root.appendChild(el("p", { class: "muted", text: "No task groups recorded." })); return; }

    var NODE_W = 200, NODE_H = 46, COL_GAP = 70, ROW_GAP = 16;
    var L = layoutGroups();
    var maxRows = 0;
    L.layers.forEach(function (layerList) { if (layerList.length > maxRows) maxRows = layerList.length; });
    if (maxRows <= 2) COL_GAP = 44;     /* a chain: its arrows are straight and need little room */
    var totalH = maxRows * (NODE_H + ROW_GAP);
    var xs = new Float64Array(GROUPS.length), ys = new Float64Array(GROUPS.length);
    L.layers.forEach(function (layerList, li) {
      var off = (totalH - layerList.length * (NODE_H + ROW_GAP)) / 2;
      layerList.forEach(function (g, idx) { xs[g] = li * (NODE_W + COL_GAP); ys[g] = off + idx * (NODE_H + ROW_GAP); });
    });
    var width = L.layers.length * (NODE_W + COL_GAP) - COL_GAP, height = Math.max(NODE_H, totalH - ROW_GAP);

    var toolbar = el("div", { class: "toolbar" });
    var fitBtn = el("button", { type: "button", class: "reset" }, "Fit graph");
    toolbar.appendChild(fitBtn);
    toolbar.appendChild(muted(plural(GROUPS.length, "group") + ", " + plural(L.edges.length, "dependency", "dependencies")));
    root.appendChild(toolbar);

    var svgEl = svg("svg", { class: "group-graph", role: "img", "aria-label": "Task group graph", preserveAspectRatio: "xMidYMid meet" });
    var defs = svg("defs");
    var marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "9", markerHeight: "9", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" });
    marker.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#868e96" }));
    defs.appendChild(marker);
    var markerHi = svg("marker", { id: "arrow-hi", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "10", markerHeight: "10", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" });
    markerHi.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#1c7ed6" }));
    defs.appendChild(markerHi);
    svgEl.appendChild(defs);
    var viewport = svg("g", { class: "viewport" });
    svgEl.appendChild(viewport);
    var edgeLayer = svg("g", { class: "edges" }), nodeLayer = svg("g", { class: "nodes" });
    viewport.appendChild(edgeLayer); viewport.appendChild(nodeLayer);

    /* edges are made and attached only while they cross the view: 10,000 curves cost
     * more layout time than everything else on the page */
    var edgesOf = [];
    for (var g0 = 0; g0 < GROUPS.length; g0++) edgesOf.push([]);
    var edgeBoxes = new Float64Array(L.edges.length * 4);
    var edgeEls = new Array(L.edges.length), edgeShown = new Uint8Array(L.edges.length);
    L.edges.forEach(function (e, k) {
      var a = e[0], b = e[1];
      var x1 = xs[a] + NODE_W, y1 = ys[a] + NODE_H / 2, x2 = xs[b], y2 = ys[b] + NODE_H / 2;
      edgeBoxes[4 * k] = Math.min(x1, x2) - 60;
      edgeBoxes[4 * k + 1] = Math.min(y1, y2);
      edgeBoxes[4 * k + 2] = Math.max(x1, x2) + 60;
      edgeBoxes[4 * k + 3] = Math.max(y1, y2) + (x2 > x1 ? 0 : NODE_H);
      edgesOf[a].push(k); edgesOf[b].push(k);
    });
    function edgeEl(k) {
      if (edgeEls[k]) return edgeEls[k];
      var e = L.edges[k], a = e[0], b = e[1], count = e[2] || 1;
      var x1 = xs[a] + NODE_W, y1 = ys[a] + NODE_H / 2, x2 = xs[b], y2 = ys[b] + NODE_H / 2;
      var d;
      if (x2 > x1) {
        var dx = Math.max(30, (x2 - x1) / 2);
        d = "M" + x1 + "," + y1 + " C" + (x1 + dx) + "," + y1 + " " + (x2 - dx) + "," + y2 + " " + x2 + "," + y2;
      } else {
        /* back or same-layer edge (only with a cycle): loop below */
        var yb = Math.max(y1, y2) + NODE_H;
        d = "M" + x1 + "," + y1 + " C" + (x1 + 60) + "," + yb + " " + (x2 - 60) + "," + yb + " " + x2 + "," + y2;
      }
      return (edgeEls[k] = svg("path", { d: d, class: "edge", "data-edge": k, "stroke-width": (1 + Math.min(6, Math.log2(count))).toFixed(2), "marker-end": "url(#arrow)" }));
    }
    function showEdges(v) {
      var m = 20, x0 = v.x - m, x1 = v.x + v.w + m, y0 = v.y - m, y1 = v.y + v.h + m;
      var frag = document.createDocumentFragment();
      for (var k = 0; k < L.edges.length; k++) {
        var vis = !(edgeBoxes[4 * k + 2] < x0 || edgeBoxes[4 * k] > x1 || edgeBoxes[4 * k + 3] < y0 || edgeBoxes[4 * k + 1] > y1);
        if (vis && !edgeShown[k]) { frag.appendChild(edgeEl(k)); edgeShown[k] = 1; }
        else if (!vis && edgeShown[k] && !edgeEls[k].classList.contains("hi")) { edgeEls[k].remove(); edgeShown[k] = 0; }
      }
      edgeLayer.appendChild(frag);
    }
    /* an edge's title is made when the pointer first reaches it */
    edgeLayer.addEventListener("mouseover", function (e) {
      var p = e.target;
      if (!p.getAttribute || p.getAttribute("data-edge") === null || p.firstChild) return;
      var ed = L.edges[+p.getAttribute("data-edge")];
      var t = svg("title");
      t.textContent = groupName(ed[0]) + " → " + groupName(ed[1]) + ": " + plural(ed[2] || 1, "task dependency", "task dependencies");
      p.appendChild(t);
    });

    var nodeFrag = document.createDocumentFragment();
    var nodeEls = new Array(GROUPS.length);
    /* nodes go into the document in reading order, layer by layer from the top, so
     * Tab walks the graph as drawn and the first node is in the opening view */
    var readingOrder = [];
    L.layers.forEach(function (layerList) { layerList.forEach(function (g) { readingOrder.push(g); }); });
    readingOrder.forEach(function (g) {
      var grp = GROUPS[g];
      var fails = groupFailures(g);
      var node = svg("g", { class: "group-node" + (fails ? " has-failures" : ""), "data-group": g, transform: "translate(" + xs[g] + "," + ys[g] + ")", tabindex: "0", role: "button" });
      var title = svg("title");
      title.textContent = grp.name + "\n" + plural(grp.tasks || 0, "task") + ", " + fmtDur(grp.time) + " total" + (fails ? "\n" + plural(fails, "failed attempt") : "") +
        (grp.function ? "\n" + grp.function + (grp.file ? " (" + grp.file + (grp.line ? ":" + grp.line : "") + ")" : "") : "");
      node.appendChild(title);
      node.appendChild(svg("rect", { width: NODE_W, height: NODE_H, rx: 6, class: "node-box" }));
      node.appendChild(svg("rect", { width: 8, height: NODE_H, rx: 3, fill: groupColor(g), class: "node-colour" }));
      var name = svg("text", { x: 16, y: 19, class: "node-name" });
      var label = grp.name || "";
      name.textContent = label.length > 22 ? label.slice(0, 21) + "…" : label;
      node.appendChild(name);
      var stat = svg("text", { x: 16, y: 36, class: "node-stat" });
      stat.textContent = plural(grp.tasks || 0, "task") + " · " + fmtDur(grp.time);
      if (fails) {
        var ts = svg("tspan", { class: "node-fail" });
        ts.textContent = " · " + fmtInt(fails) + " failed";
        stat.appendChild(ts);
      }
      node.appendChild(stat);
      nodeEls[g] = node;
      nodeFrag.appendChild(node);
    });
    nodeLayer.appendChild(nodeFrag);

    var zoomNote = el("span", { class: "muted", hidden: true }, "The graph is large: it opens on its first groups; use “Fit graph” for an overview.");
    toolbar.appendChild(zoomNote);
    var graphWrap = el("div", { class: "graph-wrap" }, svgEl);
    root.appendChild(graphWrap);

    /* viewBox pan and zoom */
    var PAD = 20;
    var home = { x: -PAD, y: -PAD, w: width + 2 * PAD, h: height + 2 * PAD };
    var vb = { x: home.x, y: home.y, w: home.w, h: home.h };
    var edgeFrame = 0;
    function applyVB(now) {
      svgEl.setAttribute("viewBox", vb.x + " " + vb.y + " " + vb.w + " " + vb.h);
      if (now === true) { showEdges(vb); return; }
      if (!edgeFrame) edgeFrame = requestAnimationFrame(function () { edgeFrame = 0; showEdges(vb); });
    }
    /* a small graph gets a shorter box; fitting never enlarges past 1:1 */
    svgEl.style.height = Math.round(Math.max(150, Math.min(560, window.innerHeight * 0.7, home.h))) + "px";
    function fit() {
      var cw = svgEl.clientWidth || home.w, ch = svgEl.clientHeight || home.h;
      var s = Math.max(home.w / cw, home.h / ch, 1);
      var w = cw * s, h = ch * s;
      vb = { x: home.x + (home.w - w) / 2, y: home.y + (home.h - h) / 2, w: w, h: h };
      applyVB();
    }
    /* a graph too big to read when fitted opens on its first layers at a readable scale */
    function initialView() {
      var cw = svgEl.clientWidth || 800, ch = svgEl.clientHeight || 500;
      var s = Math.max(home.w / cw, home.h / ch), READABLE = 1.3;
      if (s <= READABLE) { fit(); return; }
      var w = cw * READABLE, h = ch * READABLE;
      var first = L.layers[0] && L.layers[0].length ? L.layers[0][0] : 0;
      var cy = Math.min(Math.max(ys[first] + NODE_H / 2, home.y + h / 2), home.y + home.h - h / 2);
      if (home.h <= h) cy = home.y + home.h / 2;
      vb = { x: home.x, y: cy - h / 2, w: w, h: h };
      applyVB();
      zoomNote.hidden = false;
    }
    function scale() {
      var cw = svgEl.clientWidth || 1, ch = svgEl.clientHeight || 1;
      return Math.max(vb.w / cw, vb.h / ch);   /* user units per pixel with "meet" */
    }
    function toUser(e) {
      var rect = svgEl.getBoundingClientRect(), s = scale();
      var cx = vb.x + vb.w / 2, cy = vb.y + vb.h / 2;
      return { x: cx + (e.clientX - rect.left - rect.width / 2) * s, y: cy + (e.clientY - rect.top - rect.height / 2) * s };
    }
    svgEl.addEventListener("wheel", function (e) {
      e.preventDefault();
      var p = toUser(e);
      var f = Math.pow(1.0015, e.deltaY * (e.deltaMode === 1 ? 30 : 1));
      var nw = vb.w * f;
      if (nw < 100 && f < 1) return;
      if (nw > home.w * 8 && f > 1) return;
      vb.x = p.x - (p.x - vb.x) * f; vb.y = p.y - (p.y - vb.y) * f; vb.w *= f; vb.h *= f;
      applyVB();
    }, { passive: false });
    var drag = null, suppressClick = false;
    svgEl.addEventListener("mousedown", function (e) {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, vx: vb.x, vy: vb.y, s: scale(), moved: false };
      e.preventDefault();
    });
    window.addEventListener("mousemove", function (e) {
      if (!drag) return;
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 4) { drag.moved = true; svgEl.classList.add("dragging"); }
      if (drag.moved) { vb.x = drag.vx - dx * drag.s; vb.y = drag.vy - dy * drag.s; applyVB(); }
    });
    window.addEventListener("mouseup", function () {
      if (!drag) return;
      suppressClick = drag.moved;
      drag = null;
      svgEl.classList.remove("dragging");
    });
    svgEl.addEventListener("click", function (e) {
      if (suppressClick) { suppressClick = false; return; }
      var node = e.target.closest ? e.target.closest("g.group-node") : null;
      if (node) expandGroup(+node.getAttribute("data-group"), false);
    });
    svgEl.addEventListener("keydown", function (e) {
      var node = e.target.closest ? e.target.closest("g.group-node") : null;
      if (node && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); expandGroup(+node.getAttribute("data-group"), false); }
    });
    fitBtn.addEventListener("click", fit);
    initialView();
    showEdges(vb);

    var selectedNode = -1;
    graph = {
      select: function (g) {
        if (selectedNode >= 0) {
          nodeEls[selectedNode].classList.remove("selected");
          edgesOf[selectedNode].forEach(function (k) { var p = edgeEls[k]; if (p) { p.classList.remove("hi"); p.setAttribute("marker-end", "url(#arrow)"); } });
          applyVB();
        }
        selectedNode = g;
        if (g >= 0 && nodeEls[g]) {
          nodeEls[g].classList.add("selected");
          edgesOf[g].forEach(function (k) { var p = edgeEl(k); p.classList.add("hi"); p.setAttribute("marker-end", "url(#arrow-hi)"); edgeShown[k] = 1; edgeLayer.appendChild(p); });
        }
      },
      center: function (g) {
        var cx = xs[g] + NODE_W / 2, cy = ys[g] + NODE_H / 2;
        if (vb.w > home.w && vb.h > home.h) return;
        if (cx < vb.x || cx > vb.x + vb.w || cy < vb.y || cy > vb.y + vb.h) {
          vb.x = cx - vb.w / 2; vb.y = cy - vb.h / 2; applyVB();
        }
      }
    };

    /* the expanded group's tasks */
    groupTasksPanel = el("div", { id: "group-tasks", hidden: true, "aria-live": "polite" });
    root.appendChild(groupTasksPanel);

    /* the groups table */
    root.appendChild(el("h3", { text: "All task groups" }));
    var idx = GROUPS.map(function (g, i) { return i; });
    root.appendChild(makeTable({
      rows: idx, className: "groups-table clickable", sortColumn: 4, sortDir: -1,
      rowAttrs: function (g) { return { "data-group": g, tabindex: 0, class: groupFailures(g) ? "has-failures" : null }; },
      columns: [
        { title: "Group", value: function (g) { return GROUPS[g].name; }, cell: function (g) {
          return [el("span", { class: "swatch", style: "background:" + groupColor(g) }), el("span", { class: "group-name", text: GROUPS[g].name })];
        } },
        { title: "Tasks", value: function (g) { return GROUPS[g].tasks; }, cell: function (g) { return fmtInt(GROUPS[g].tasks); }, numeric: true },
        { title: "Attempts", value: function (g) { return GROUPS[g].attempts; }, cell: function (g) { return fmtInt(GROUPS[g].attempts); }, numeric: true },
        { title: "Start", value: function (g) { return GROUPS[g].start; }, cell: function (g) { return fmtOffset(GROUPS[g].start); }, numeric: true },
        { title: "Time", value: function (g) { return GROUPS[g].time; }, cell: function (g) { return fmtDur(GROUPS[g].time); }, numeric: true },
        { title: "Failures", value: function (g) { return groupFailures(g); }, cell: function (g) { var f = groupFailures(g); return f ? el("span", { class: "bad", text: fmtInt(f) }) : "0"; }, numeric: true },
        { title: "Read", value: function (g) { return GROUPS[g].read_bytes; }, cell: function (g) { return GROUPS[g].read_bytes ? fmtBytes(GROUPS[g].read_bytes) : muted("—"); }, numeric: true },
        { title: "Written", value: function (g) { return GROUPS[g].write_bytes; }, cell: function (g) { return GROUPS[g].write_bytes ? fmtBytes(GROUPS[g].write_bytes) : muted("—"); }, numeric: true },
        { title: "Results", value: function (g) { return GROUPS[g].result_bytes; }, cell: function (g) { return GROUPS[g].result_bytes ? fmtBytes(GROUPS[g].result_bytes) : muted("—"); }, numeric: true },
        { title: "Code", value: function (g) { return GROUPS[g].function; }, cell: function (g) { return codeLocation(GROUPS[g]); } }
      ]
    }));
  }

  function codeLocation(grp, full) {
    if (!grp || (!grp.function && !grp.file)) return muted("—");
    var parts = [];
    if (grp.function) parts.push(el("code", { text: grp.function }));
    if (grp.file) {
      var where = grp.file + (grp.line !== null && grp.line !== undefined ? ":" + grp.line : "");
      var shown = full ? where : String(grp.file).split("/").pop() + (grp.line !== null && grp.line !== undefined ? ":" + grp.line : "");
      parts.push(el("span", { class: "muted", title: where, text: " " + shown }));
    }
    return el("span", { class: "code-location" }, parts);
  }

  function expandGroup(g, scroll) {
    var grp = GROUPS[g];
    if (!grp || !groupTasksPanel) return;
    if (graph) { graph.select(g); graph.center(g); }
    if (timeline) timeline.focusGroup(g);
    var list = groupAttempts[g];
    var panel = clear(groupTasksPanel);
    panel.hidden = false;
    panel.setAttribute("data-group", g);
    var close = el("button", { type: "button", class: "close", "aria-label": "Close the group's task list" }, "×");
    close.addEventListener("click", function () {
      panel.hidden = true; panel.removeAttribute("data-group");
      if (graph) graph.select(-1);
      if (timeline) timeline.focusGroup(-1);
    });
    var fails = groupFailures(g);
    panel.appendChild(el("div", { class: "panel-head" }, [
      el("h3", null, [el("span", { class: "swatch", style: "background:" + groupColor(g) }), el("span", { class: "group-name", text: grp.name })]),
      close
    ]));
    var facts = [plural(grp.tasks || 0, "task"), plural(grp.attempts || 0, "attempt"), fmtDur(grp.time) + " of task time",
      "ran " + fmtOffset(grp.start) + " – " + fmtOffset(grp.end)];
    if (fails) facts.push(plural(fails, "failed attempt"));
    panel.appendChild(el("p", null, [facts.join(" · "), grp.function || grp.file ? [" · ", codeLocation(grp)] : null]));
    var outcomes = grp.outcomes || {}, ol = [];
    for (var o in outcomes) if (outcomes[o]) ol.push(el("li", null, [outcomeBadge(o), " " + fmtInt(outcomes[o])]));
    if (ol.length) panel.appendChild(el("ul", { class: "inline-list" }, ol));
    var io = [];
    if (grp.read_bytes) io.push("read " + fmtBytes(grp.read_bytes));
    if (grp.write_bytes) io.push("wrote " + fmtBytes(grp.write_bytes));
    if (grp.result_bytes) io.push("results " + fmtBytes(grp.result_bytes));
    if (io.length) panel.appendChild(el("p", { class: "muted", text: io.join(" · ") }));
    /* neighbours */
    var ups = [], downs = [];
    EDGES.forEach(function (e) { if (e[1] === g && e[0] !== g) ups.push(e); if (e[0] === g && e[1] !== g) downs.push(e); });
    function neighbours(label, es, end) {
      if (!es.length) return null;
      es.sort(function (x, y) { return y[2] - x[2]; });
      var shown = es.slice(0, 12);
      return el("p", { class: "neighbours" }, [muted(label), shown.map(function (e, k) { return [k ? ", " : "", groupLink(e[end]), muted(" ×" + fmtInt(e[2]))]; }),
        es.length > 12 ? muted(" and " + fmtInt(es.length - 12) + " more") : null]);
    }
    append(panel, [neighbours("Uses data from: ", ups, 0), neighbours("Feeds: ", downs, 1)]);
    if (LIMITS.sampled && list.length < (grp.attempts || 0)) {
      panel.appendChild(el("p", { class: "note", text: "Listing the " + fmtInt(list.length) + " sampled attempts of " + fmtInt(grp.attempts) + "." }));
    }
    panel.appendChild(makeTable({
      rows: list, className: "tasks clickable", sortColumn: 2, sortDir: 1, empty: "No attempt of this group is in the report.",
      rowAttrs: function (i) { return { "data-attempt": i, tabindex: 0, class: isFailure(ATTEMPTS[i].outcome) ? "has-failures" : null }; },
      columns: [
        { title: "Key", value: function (i) { return ATTEMPTS[i].key; }, cell: function (i) { return taskLink(i); } },
        { title: "Attempt", value: function (i) { return ATTEMPTS[i].attempt; }, cell: function (i) { return String(ATTEMPTS[i].attempt || 1); }, numeric: true },
        { title: "Start", value: function (i) { return ATTEMPTS[i].start; }, cell: function (i) { return fmtOffset(ATTEMPTS[i].start); }, numeric: true },
        { title: "Duration", value: function (i) { return duration(ATTEMPTS[i]); }, cell: function (i) { return fmtDur(duration(ATTEMPTS[i])); }, numeric: true },
        { title: "Outcome", value: function (i) { return ATTEMPTS[i].outcome; }, cell: function (i) { return outcomeBadge(ATTEMPTS[i].outcome); } },
        { title: "Worker / thread", value: function (i) { return threadLabel(ATTEMPTS[i].thread); }, cell: function (i) {
          var a = ATTEMPTS[i];
          return a.thread !== null && a.thread !== undefined ? threadLabel(a.thread) : a.worker !== null && a.worker !== undefined ? processName(a.worker) : muted("—");
        } },
        { title: "Result", value: function (i) { var r = ATTEMPTS[i].result; return r ? r.nbytes : null; }, cell: function (i) { var r = ATTEMPTS[i].result; return r && r.nbytes !== null && r.nbytes !== undefined ? fmtBytes(r.nbytes) : muted("—"); }, numeric: true }
      ]
    }));
    if (scroll !== false) panel.scrollIntoView({ block: "nearest" });
  }

  /* ---------- files ---------- */

  function renderFiles() {
    var root = document.getElementById("files");
    if (!FILES.length) { root.appendChild(el("p", { class: "muted", text: "No file access was recorded." })); return; }
    root.appendChild(el("p", { class: "help", text: "Files the tasks opened, and which tasks read or wrote them." }));
    var idx = FILES.map(function (f, i) { return i; });
    root.appendChild(makeTable({
      rows: idx, className: "files-table", sortColumn: 0, sortDir: 1,
      rowAttrs: function (i) { return { "data-file": i }; },
      columns: [
        { title: "Path", value: function (i) { return FILES[i].path; }, cell: function (i) { return el("code", { class: "path", text: FILES[i].path }); } },
        { title: "Reads", value: function (i) { return FILES[i].reads; }, cell: function (i) { return fmtInt(FILES[i].reads || 0); }, numeric: true },
        { title: "Writes", value: function (i) { return FILES[i].writes; }, cell: function (i) { return fmtInt(FILES[i].writes || 0); }, numeric: true },
        { title: "Read by", cell: function (i) { return linkList(FILES[i].read_by, 3); } },
        { title: "Written by", cell: function (i) { return linkList(FILES[i].written_by, 3); } },
        { title: "Darshan", cell: function (i) {
          var d = FILES[i].darshan;
          if (!d) return muted("—");
          var names = Object.keys(d);
          return details(plural(names.length, "counter"), el("table", { class: "data compact counters" }, el("tbody", null, names.map(function (n) {
            var v = d[n];
            var shown = typeof v === "number" ? (/BYTES/.test(n) ? fmtInt(v) + " (" + fmtBytes(v) + ")" : /TIME/.test(n) ? fmtDur(v) : fmtInt(v)) : String(v);
            return el("tr", null, [el("th", { scope: "row" }, el("code", { text: n })), el("td", { class: "num", text: shown })]);
          }))));
        } }
      ]
    }));
  }

  /* ---------- task view ---------- */

  var taskView = document.getElementById("task-view");
  var openIndex = -1;
  var lastFocus = null;

  function row(label, value) {
    return [el("dt", { text: label }), el("dd", null, value === null || value === undefined || value === "" ? muted("—") : value)];
  }

  function phaseBar(phases, total) {
    var names = Object.keys(phases || {}).filter(function (k) { return typeof phases[k] === "number" && phases[k] > 0; });
    if (!names.length) return null;
    var sum = 0;
    names.forEach(function (k) { sum += phases[k]; });
    var scaleTo = Math.max(sum, total || 0);
    var bar = el("div", { class: "phase-bar", role: "img", "aria-label": "Time by phase" });
    var legend = el("ul", { class: "legend" });
    var colors = ["#4dabf7", "#ffa94d", "#69db7c", "#da77f2", "#ff8787", "#ffd43b", "#38d9a9", "#a5d8ff"];
    names.forEach(function (k, n) {
      var c = colors[n % colors.length];
      bar.appendChild(el("span", { style: "width:" + (100 * phases[k] / scaleTo).toFixed(2) + "%;background:" + c, title: k + ": " + fmtDur(phases[k]) }));
      legend.appendChild(el("li", null, [el("span", { class: "swatch", style: "background:" + c }), k + " " + fmtDur(phases[k])]));
    });
    if (total && sum < total * 0.95) {
      legend.appendChild(el("li", { class: "muted" }, [el("span", { class: "swatch", style: "background:#f1f3f5;border:1px solid #dee2e6" }),
        "rest of the attempt " + fmtDur(total - sum)]));
    }
    return el("div", { class: "phases" }, [bar, legend]);
  }

  function openTask(i, fromHash) {
    var a = ATTEMPTS[i];
    if (!a) return;
    if (openIndex === i && !taskView.hidden) return;
    if (taskView.hidden) lastFocus = document.activeElement;
    openIndex = i;
    clear(taskView);
    taskView.setAttribute("data-attempt", i);
    taskView.hidden = false;
    document.body.classList.add("task-open");
    var close = el("button", { type: "button", class: "close", "aria-label": "Close task details" }, "×");
    close.addEventListener("click", closeTask);
    taskView.appendChild(el("div", { class: "panel-head" }, [el("h2", { id: "task-view-title" }, "Task"), close]));
    taskView.appendChild(el("p", { class: "task-key" }, el("code", { class: "key", text: a.key })));
    var status = [outcomeBadge(a.outcome)];
    if (a.attempt > 1 || a.previous !== null && a.previous !== undefined) status.push(" attempt " + (a.attempt || "?"));
    if (a.rerun_reason) status.push(muted(" (re-run: " + a.rerun_reason + ")"));
    taskView.appendChild(el("p", { class: "task-status" }, status));

    var dl = el("dl", { class: "facts" });
    var grp = GROUPS[a.group];
    append(dl, row("Group", a.group !== null && a.group !== undefined ? groupLink(a.group) : null));
    var attemptNav = [String(a.attempt || 1)];
    if (a.previous !== null && a.previous !== undefined) attemptNav.push(" · ", ATTEMPTS[a.previous] ? taskLink(a.previous, "previous attempt") : muted("previous attempt not in the report"));
    if (nextAttempt[i] !== undefined) attemptNav.push(" · ", taskLink(nextAttempt[i], "next attempt"));
    append(dl, row("Attempt", attemptNav));
    var proc = PROCESSES[a.worker];
    append(dl, row("Worker", a.worker !== null && a.worker !== undefined ? [processName(a.worker), proc && proc.address && proc.address !== processName(a.worker) ? muted(" " + proc.address) : null, proc && proc.lost ? [" ", el("span", { class: "badge outcome-worker-lost", text: "lost" })] : null] : null));
    append(dl, row("Thread", a.thread !== null && a.thread !== undefined ? threadLabel(a.thread) : null));
    var comp = COMPUTATIONS[a.computation];
    append(dl, row("Computation", comp ? ["#" + (a.computation + 1), comp.code ? [" ", el("code", { text: codeSummary(comp) })] : null,
      comp.file ? muted(" " + comp.file.split("/").pop() + (comp.line ? ":" + comp.line : "")) : comp.cell ? muted(" " + comp.cell) : null] : null));
    append(dl, row("Started", fmtOffset(a.start)));
    append(dl, row("Ended", fmtOffset(a.end)));
    append(dl, row("Duration", a.start !== null && a.start !== undefined && (a.end === null || a.end === undefined) ? "did not finish" : fmtDur(duration(a))));
    append(dl, row("Phases", phaseBar(a.phases, duration(a))));
    var io = a.io || {};
    if (io.read_bytes || io.write_bytes || io.read_calls || io.write_calls) {
      append(dl, row("I/O", "read " + fmtBytes(io.read_bytes || 0) + " in " + plural(io.read_calls || 0, "call") + ", wrote " + fmtBytes(io.write_bytes || 0) + " in " + plural(io.write_calls || 0, "call")));
    }
    append(dl, row("Code", grp ? codeLocation(grp, true) : null));
    if (a.result) {
      append(dl, row("Result", [el("code", { text: a.result.type || "?" }), a.result.nbytes !== null && a.result.nbytes !== undefined ? " · " + fmtBytes(a.result.nbytes) : "",
        a.result.hash ? [" · ", el("code", { class: "hash", title: "hash of the result", text: a.result.hash })] : null]));
    }
    if (a.blame) append(dl, row("Failed because", [muted("this task failed: "), keyLink(a.blame)]));
    taskView.appendChild(dl);

    if (a.exception) {
      var exc = a.exception;
      taskView.appendChild(el("h3", { text: "Exception" }));
      taskView.appendChild(el("p", { class: "exception" }, [el("strong", { text: exc.type || "Exception" }), exc.message ? ": " + exc.message : ""]));
      if (exc.traceback) taskView.appendChild(pre(exc.traceback, "traceback"));
    }
    var inputs = a.inputs || [];
    if (inputs.length) {
      taskView.appendChild(el("h3", { text: "Inputs (" + fmtInt(inputs.length) + ")" }));
      taskView.appendChild(limitedList(inputs, function (k) { return el("li", null, keyLink(k)); }, 30, "inputs"));
    }
    var args = a.arguments || [];
    if (args.length) {
      taskView.appendChild(el("h3", { text: "Arguments" }));
      taskView.appendChild(el("div", { class: "table-wrap" }, el("table", { class: "data compact" }, [
        el("thead", null, el("tr", null, [el("th", { text: "Argument" }), el("th", { text: "Type" }), el("th", { text: "Value" })])),
        el("tbody", null, args.map(function (x) {
          return el("tr", null, [el("td", null, el("code", { text: x.role })), el("td", null, el("code", { text: x.type || "" })),
            el("td", null, x.value === null || x.value === undefined ? muted("—") : el("code", { class: "value", text: x.value }))]);
        }))
      ])));
    }
    var files = a.files || [];
    if (files.length) {
      taskView.appendChild(el("h3", { text: "Files" }));
      taskView.appendChild(limitedList(files, function (f) {
        return el("li", null, [el("span", { class: "badge file-mode", text: f.mode === "w" ? "wrote" : f.mode === "r" ? "read" : f.mode || "?" }), " ", el("code", { class: "path", text: f.path })]);
      }, 30, "files-list"));
    }
    if (a.id) taskView.appendChild(el("p", { class: "muted small" }, ["Provenance id ", el("code", { text: a.id })]));

    if (timeline) timeline.reveal(i);
    if (!fromHash && location.hash !== "#task=" + i) location.hash = "task=" + i;
    taskView.scrollTop = 0;
    /* the panel takes the focus, not its close button: an Enter that opened the task
     * would otherwise go on to press that button */
    taskView.focus({ preventScroll: true });
  }

  function closeTask() {
    if (taskView.hidden) return;
    taskView.hidden = true;
    taskView.removeAttribute("data-attempt");
    document.body.classList.remove("task-open");
    openIndex = -1;
    if (timeline) timeline.select(-1);
    if (/^#task=/.test(location.hash)) {
      if (history.replaceState) history.replaceState(null, "", location.href.split("#")[0]);
      else location.hash = "";
    }
    if (lastFocus && lastFocus.focus) lastFocus.focus({ preventScroll: true });
  }

  function route(fromLoad) {
    var m = /^#task=(\d+)$/.exec(location.hash);
    if (m) { openTask(+m[1], true); return; }
    var g = /^#group=(\d+)$/.exec(location.hash);
    if (g && GROUPS[+g[1]]) { closeTask(); expandGroup(+g[1]); return; }
    if (!fromLoad) closeTask();
  }

  /* ---------- search ---------- */

  function setupSearch() {
    var input = document.getElementById("search-input");
    var results = document.getElementById("search-results");
    var lower = null, timer = 0, active = -1;
    function run() {
      var q = input.value.trim().toLowerCase();
      clear(results);
      active = -1;
      if (!q) { results.hidden = true; return; }
      if (!lower) lower = ATTEMPTS.map(function (a) { return String(a.key).toLowerCase(); });
      var found = [], total = 0;
      for (var i = 0; i < lower.length; i++) {
        if (lower[i].indexOf(q) >= 0) { total++; if (found.length < 30) found.push(i); }
      }
      if (!found.length) results.appendChild(el("li", { class: "muted", text: "No task key contains “" + input.value.trim() + "”" + (LIMITS.sampled ? " among the sampled attempts." : ".") }));
      found.forEach(function (i) {
        var a = ATTEMPTS[i];
        results.appendChild(el("li", { role: "option" }, el("a", { href: "#task=" + i, "data-attempt": i, class: "task-link" }, [
          el("span", { class: "swatch", style: "background:" + groupColor(a.group) }), el("code", { text: a.key }), " ", outcomeBadge(a.outcome),
          a.attempt > 1 ? muted(" attempt " + a.attempt) : null])));
      });
      if (total > found.length) results.appendChild(el("li", { class: "muted", text: fmtInt(total - found.length) + " more; type more of the key" }));
      results.hidden = false;
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 80); });
    input.addEventListener("focus", function () { if (input.value.trim()) run(); });
    input.addEventListener("keydown", function (e) {
      var links = results.querySelectorAll("a[data-attempt]");
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        if (!links.length) return;
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : -1) + links.length) % links.length;
        links.forEach(function (l, k) { l.classList.toggle("active", k === active); });
      } else if (e.key === "Enter") {
        e.preventDefault();
        clearTimeout(timer); run();
        links = results.querySelectorAll("a[data-attempt]");
        if (links.length) { openTask(+links[Math.max(0, active)].getAttribute("data-attempt")); results.hidden = true; }
      } else if (e.key === "Escape") { results.hidden = true; input.blur(); }
    });
    document.addEventListener("click", function (e) {
      if (!results.hidden && !e.target.closest(".search")) results.hidden = true;
    });
    results.addEventListener("click", function () { setTimeout(function () { results.hidden = true; }, 0); });
  }

  /* ---------- wiring ---------- */

  function setupLinks() {
    document.addEventListener("click", function (e) {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
      var t = e.target;
      if (!t.closest) return;
      var link = t.closest("a[data-attempt]");
      if (link) { e.preventDefault(); openTask(+link.getAttribute("data-attempt")); return; }
      var glink = t.closest("a[data-group-link]");
      if (glink) { e.preventDefault(); expandGroup(+glink.getAttribute("data-group-link")); return; }
      if (t.closest("a, button, summary, input, details")) return;
      var tr = t.closest("tr[data-attempt]");
      if (tr) { openTask(+tr.getAttribute("data-attempt")); return; }
      var gr = t.closest("tr[data-group]");
      if (gr) { expandGroup(+gr.getAttribute("data-group")); return; }
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !taskView.hidden) { closeTask(); return; }
      if (e.key !== "Enter") return;
      var t = e.target;
      if (!t || !t.matches) return;
      if (t.matches("tr[data-attempt]")) openTask(+t.getAttribute("data-attempt"));
      else if (t.matches("tr[data-group]")) expandGroup(+t.getAttribute("data-group"));
    });
    window.addEventListener("hashchange", function () { route(false); });
  }

  function renderFooter() {
    var f = document.getElementById("footer");
    append(f, ["Made by ", DATA.tool || "otel-dask-prov", " from OpenTelemetry traces. Times are seconds since the run started",
      RUN.start ? " (" + fmtDate(RUN.start) + ")" : "", "."]);
  }

  renderSummary();
  renderFailures();
  renderRun();
  renderTimeline();
  renderGroups();
  renderFiles();
  renderFooter();
  setupLinks();
  setupSearch();
  route(true);
  if (window.performance) window.reportReadyAt = performance.now();
  window.reportReady = true;
})();
