// Transcript viewer: side by side per prompt and sample, one column per model, in pages.
// Model text is untrusted: it only ever reaches the page through textContent, never innerHTML,
// and no link or attribute is ever built from it.
(function () {
  "use strict";
  var holder = document.getElementById("tx-data");
  if (!holder) { return; }
  var $ = function (id) { return document.getElementById(id); };
  if (holder.getAttribute("data-encoding") === "gzip-base64") {
    // large studies: the transcripts are gzip-compressed (base64) and inflated here, off the first paint
    $("tx-count").textContent = "loading transcripts…";
    if (typeof DecompressionStream === "undefined") {
      $("tx-count").textContent = "this browser cannot unpack the transcripts (it lacks DecompressionStream); " +
        "open the report in a current Chrome, Edge, Firefox or Safari, or read them from the database.";
      return;
    }
    setTimeout(function () {
      var bin = atob(holder.textContent.trim());
      var bytes = new Uint8Array(bin.length);
      for (var k = 0; k < bin.length; k++) { bytes[k] = bin.charCodeAt(k); }
      var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      new Response(stream).text().then(function (text) { viewer(JSON.parse(text)); }, function (err) {
        $("tx-count").textContent = "could not unpack the transcripts: " + err;
      });
    }, 0);
  } else {
    viewer(JSON.parse(holder.textContent));
  }
})();

function viewer(D) {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  };
  // rows: [cell, sample, model, outcome, answer, reasoning, followup, provider_code, parsed answer,
  //        parsed answer after the follow-up, choice options as this trial showed them,
  //        the parsed letter's option], sorted by cell, sample, model
  var groups = [];
  var last = null;
  for (var i = 0; i < D.rows.length; i++) {
    var r = D.rows[i];
    if (!last || last.cell !== r[0] || last.sample !== r[1]) {
      last = { cell: r[0], sample: r[1], by: {} };
      groups.push(last);
    }
    last.by[r[2]] = r;
  }
  var state = { page: 0, list: groups };
  var num = function (id) { var v = $(id).value; return v === "" ? null : parseInt(v, 10); };

  function applyFilters() {
    var fm = num("f-model"), fi = num("f-item"), fl = num("f-lang"), ff = num("f-framing"), fo = num("f-outcome");
    var q = $("f-text").value.trim().toLowerCase();
    var out = [];
    for (var g = 0; g < groups.length; g++) {
      var G = groups[g], c = D.cells[G.cell];
      if (fi !== null && c[0] !== fi) { continue; }
      if (fl !== null && c[1] !== fl) { continue; }
      if (ff !== null && c[2] !== ff) { continue; }
      var rows = fm === null ? Object.keys(G.by).map(function (k) { return G.by[k]; }) : (G.by[fm] ? [G.by[fm]] : []);
      if (!rows.length) { continue; }
      if (fo !== null && !rows.some(function (x) { return x[3] === fo; })) { continue; }
      if (q && !rows.some(function (x) {
        return (x[4] && x[4].toLowerCase().indexOf(q) >= 0) || (x[6] && x[6].toLowerCase().indexOf(q) >= 0);
      }) && c[4].toLowerCase().indexOf(q) < 0) { continue; }
      out.push(G);
    }
    state.list = out;
    state.page = 0;
    render();
  }

  function modelCell(r) {
    var td = el("td");
    if (!r) { td.appendChild(el("span", "muted", "not run")); return td; }
    var outcome = D.outcomes[r[3]];
    td.appendChild(el("span", "badge o-" + outcome, outcome + (r[7] ? " · " + r[7] : "")));
    if (r[8] !== null && r[8] !== undefined) {
      td.appendChild(el("span", "badge parsed", "parsed: " + (r[11] ? r[11] : r[8])));
    }
    if (r[10]) {  // choice options in the order this trial showed them (shuffled per trial)
      var opts = el("details", "options-seen");
      opts.appendChild(el("summary", null, "options as this model saw them"));
      opts.appendChild(el("div", "txt", r[10]));
      td.appendChild(opts);
    }
    td.setAttribute("data-outcome", outcome);
    if (r[5]) {
      var det = el("details", "reasoning");
      det.appendChild(el("summary", null, "reasoning (" + r[5].length.toLocaleString() + " characters)"));
      det.appendChild(el("div", "txt", r[5]));
      td.appendChild(det);
    }
    td.appendChild(el("div", "txt answer", r[4] === null ? "" : r[4]));
    if (r[6] !== null && r[6] !== undefined) {
      var f = el("div", "follow");
      f.appendChild(el("div", "muted", "after the follow-up" +
        (r[9] !== null && r[9] !== undefined ? " (parsed: " + r[9] + ")" : "") + ":"));
      f.appendChild(el("div", "txt followup", r[6]));
      td.appendChild(f);
    }
    return td;
  }

  function render() {
    var fm = num("f-model");
    var cols = fm === null ? D.models.map(function (_, k) { return k; }) : [fm];
    var head = $("tx-head"), body = $("tx-body");
    head.textContent = ""; body.textContent = "";
    var hr = el("tr");
    hr.appendChild(el("th", null, "prompt"));
    cols.forEach(function (k) {
      var th = el("th", "origin-" + D.origins[k], D.models[k]);
      th.title = "origin: " + D.origins[k];
      hr.appendChild(th);
    });
    head.appendChild(hr);
    var n = state.list.length, pages = Math.max(1, Math.ceil(n / D.page));
    if (state.page >= pages) { state.page = pages - 1; }
    var start = state.page * D.page, end = Math.min(n, start + D.page);
    var frag = document.createDocumentFragment();
    for (var g = start; g < end; g++) {
      var G = state.list[g], c = D.cells[G.cell];
      var tr = el("tr", "tx-row");
      tr.setAttribute("data-item", D.items[c[0]]);
      tr.setAttribute("data-lang", D.langs[c[1]]);
      tr.setAttribute("data-framing", D.framings[c[2]]);
      var info = el("td", "cell-info");
      var line = el("div");
      line.appendChild(el("strong", null, D.items[c[0]]));
      line.appendChild(document.createTextNode(" "));
      line.appendChild(el("span", "badge", D.langs[c[1]]));
      line.appendChild(el("span", "badge", D.framings[c[2]]));
      if (c[3] > 0) { line.appendChild(el("span", "badge", "paraphrase " + c[3])); }
      line.appendChild(el("span", "badge", "sample " + G.sample));
      info.appendChild(line);
      info.appendChild(el("div", "prompt", c[4]));
      if (c[5]) { info.appendChild(el("div", "prompt follow", "follow-up: " + c[5])); }
      if (Object.keys(G.by).some(function (k) { return G.by[k][10]; })) {
        info.appendChild(el("div", "muted", "options are shuffled per trial: the order above is one " +
          "trial's; each reply shows the order it saw and the option its letter meant."));
      }
      tr.appendChild(info);
      cols.forEach(function (k) { tr.appendChild(modelCell(G.by[k])); });
      frag.appendChild(tr);
    }
    body.appendChild(frag);
    $("tx-count").textContent = n.toLocaleString() + " rows match" + (n ? "; showing " + (start + 1) + "–" + end : "");
    $("tx-count").setAttribute("data-count", String(n));
    $("tx-page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("tx-prev").disabled = state.page === 0;
    $("tx-next").disabled = state.page >= pages - 1;
  }

  ["f-model", "f-item", "f-lang", "f-framing", "f-outcome"].forEach(function (id) {
    $(id).addEventListener("change", applyFilters);
  });
  var timer = null;
  $("f-text").addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(applyFilters, 200);
  });
  $("f-reset").addEventListener("click", function () {
    ["f-model", "f-item", "f-lang", "f-framing", "f-outcome", "f-text"].forEach(function (id) { $(id).value = ""; });
    applyFilters();
  });
  // "transcript" links of the open-answers section: they carry study ids (model, item, language,
  // framing) in data attributes; set the filters to the entries with those names (never build
  // markup from them) and let the link scroll to this section.
  document.addEventListener("click", function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest("a.tx-link") : null;
    if (!a) { return; }
    var pick = function (id, list, name) { var k = list.indexOf(name); $(id).value = k >= 0 ? String(k) : ""; };
    pick("f-model", D.models, a.getAttribute("data-model"));
    pick("f-item", D.items, a.getAttribute("data-item"));
    pick("f-lang", D.langs, a.getAttribute("data-lang"));
    pick("f-framing", D.framings, a.getAttribute("data-framing"));
    $("f-outcome").value = "";
    $("f-text").value = "";
    applyFilters();
  });
  $("tx-prev").addEventListener("click", function () { state.page -= 1; render(); });
  $("tx-next").addEventListener("click", function () { state.page += 1; render(); });
  render();
  $("tx-count").setAttribute("data-ready-ms", String(Math.round(performance.now())));
}
