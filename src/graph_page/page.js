// werf graph page: layered layout, search, filter, details, path highlighting. Our own code,
// no external library; the graph is the JSON `werf graph --format json` prints.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("graph-data").textContent);
  const why = JSON.parse(document.getElementById("why-data").textContent);
  const byId = new Map(data.nodes.map((n) => [n.id, n]));
  const deps = new Map(); // id -> [{to, label}]
  const users = new Map(); // id -> [{from, label}]
  for (const n of data.nodes) { deps.set(n.id, []); users.set(n.id, []); }
  for (const e of data.edges) {
    if (!byId.has(e.from) || !byId.has(e.to)) continue;
    deps.get(e.from).push({ to: e.to, label: e.label });
    users.get(e.to).push({ from: e.from, label: e.label });
  }
  // Collapsed by default: images, charts, templates, objects; stages and files on demand.
  const MAIN = new Set(["image", "template", "object", "chart", "config", "cluster", "external"]);
  const state = { files: false, expanded: new Set(), filter: "", selected: null, highlighted: new Set() };
  const svg = document.getElementById("svg");

  function visible(n) {
    if (state.filter && !matchesFilter(n)) return false;
    if (MAIN.has(n.kind) || state.files) return true;
    // A stage or file is shown when a node depending on it is expanded.
    return users.get(n.id).some((u) => state.expanded.has(u.from));
  }
  function matchesFilter(n) {
    const f = state.filter;
    if (n.label.toLowerCase().includes(f) || n.id.toLowerCase().includes(f)) return true;
    // Keep what a matching image or object is connected to (one step), so it stays readable.
    return deps.get(n.id).some((d) => hit(byId.get(d.to))) || users.get(n.id).some((u) => hit(byId.get(u.from)));
  }
  function hit(n) {
    return n && (n.label.toLowerCase().includes(state.filter) || n.id.toLowerCase().includes(state.filter));
  }

  function layout(nodes) {
    // Layer = longest path to something it does not depend on (dependencies to the left).
    const ids = new Set(nodes.map((n) => n.id));
    const layer = new Map();
    const visiting = new Set();
    function depth(id) {
      if (layer.has(id)) return layer.get(id);
      if (visiting.has(id)) return 0;
      visiting.add(id);
      let d = 0;
      for (const e of deps.get(id)) if (ids.has(e.to)) d = Math.max(d, depth(e.to) + 1);
      visiting.delete(id);
      layer.set(id, d);
      return d;
    }
    nodes.forEach((n) => depth(n.id));
    const columns = [];
    for (const n of nodes) {
      const l = layer.get(n.id);
      (columns[l] = columns[l] || []).push(n);
    }
    const pos = new Map();
    columns.forEach((col, x) => {
      col.sort((a, b) => a.label.localeCompare(b.label));
      col.forEach((n, y) => pos.set(n.id, { x: 20 + x * 290, y: 20 + y * 30 }));
    });
    return pos;
  }

  // What `draw` laid out: the nodes shown, their positions, and the rows around the viewport
  // that are in the DOM. Only those rows are drawn (a page of 20,000 nodes would spend seconds
  // building and painting elements nobody sees); scrolling draws the rows it reaches.
  const canvas = document.getElementById("canvas");
  const MARGIN = 600;
  let shown = { nodes: [], pos: new Map(), from: 0, to: -1 };

  function draw() {
    const nodes = data.nodes.filter(visible);
    const pos = layout(nodes);
    let w = 0, h = 0;
    for (const p of pos.values()) { w = Math.max(w, p.x + 280); h = Math.max(h, p.y + 40); }
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    shown = { nodes, pos, from: 0, to: -1 };
    paint();
    document.getElementById("summary").textContent =
      `${nodes.length} of ${data.nodes.length} nodes shown, ${data.edges.length} edges`;
  }

  // The rows within MARGIN of the viewport, as one piece of markup: each node in range, and each
  // edge with an end in range.
  function paint() {
    const from = canvas.scrollTop - MARGIN, to = canvas.scrollTop + canvas.clientHeight + MARGIN;
    if (from >= shown.from && to <= shown.to) return;
    // Drawn a margin beyond what is needed, so a short scroll draws nothing.
    shown.from = from - MARGIN;
    shown.to = to + MARGIN;
    const inRange = (p) => p.y >= shown.from && p.y <= shown.to;
    const pos = shown.pos;
    const edges = [], nodes = [];
    const edge = (from, to) => {
      const a = pos.get(from), b = pos.get(to);
      const x1 = a.x, y1 = a.y + 11, x2 = b.x + 250, y2 = b.y + 11;
      const hl = state.highlighted.has(from) && state.highlighted.has(to) ? " hl" : "";
      edges.push(`<path class="edge${hl}" d="M${x1},${y1} C${x1 - 30},${y1} ${x2 + 30},${y2} ${x2},${y2}"/>`);
    };
    for (const n of shown.nodes) {
      const p = pos.get(n.id);
      if (!inRange(p)) continue;
      for (const e of deps.get(n.id)) if (pos.has(e.to)) edge(n.id, e.to);
      // An edge from a node outside the range is drawn once, from here.
      for (const u of users.get(n.id)) if (pos.has(u.from) && !inRange(pos.get(u.from))) edge(u.from, n.id);
      let cls = "node " + n.kind;
      if (n.state) {
        const fine = n.state.startsWith("in the registry") || n.state.startsWith("live: equal");
        cls += fine ? " state-present" : " state-missing";
      }
      if (state.filter && hit(n)) cls += " match";
      if (state.selected === n.id) cls += " selected";
      if (state.highlighted.has(n.id)) cls += " hl";
      const label = n.label.length > 36 ? n.label.slice(0, 35) + "…" : n.label;
      const id = escape(n.id);
      nodes.push(`<g class="${escape(cls)}" data-id="${id}" transform="translate(${p.x},${p.y})">` +
        `<rect width="250" height="22"/><text x="6" y="15">${escape(label)}</text><title>${id}</title></g>`);
    }
    svg.innerHTML = `<g>${edges.join("")}</g>${nodes.join("")}`;
  }

  function escape(text) {
    return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  // One listener for every node (they are redrawn as the page scrolls).
  const nodeOf = (ev) => ev.target.closest && ev.target.closest("g.node");
  svg.addEventListener("click", (ev) => { const g = nodeOf(ev); if (g) select(g.getAttribute("data-id")); });
  svg.addEventListener("dblclick", (ev) => { const g = nodeOf(ev); if (g) toggle(g.getAttribute("data-id")); });
  let scrolled = false;
  canvas.addEventListener("scroll", () => {
    if (scrolled) return;
    scrolled = true;
    requestAnimationFrame(() => { scrolled = false; paint(); });
  });

  // Scrolls the node `id` to the middle of the viewport and draws the rows around it.
  function reveal(id) {
    const p = shown.pos.get(id);
    if (!p) return;
    canvas.scrollTop = Math.max(0, p.y - canvas.clientHeight / 2);
    canvas.scrollLeft = Math.max(0, p.x - canvas.clientWidth / 2 + 125);
    paint();
  }

  function toggle(id) {
    if (state.expanded.has(id)) state.expanded.delete(id); else state.expanded.add(id);
    draw();
  }

  // Everything that depends on `id` (what an edit to it reaches) and everything it depends on.
  function reach(id) {
    const out = new Set([id]);
    const up = [id], down = [id];
    while (up.length) for (const u of users.get(up.pop())) if (!out.has(u.from)) { out.add(u.from); up.push(u.from); }
    const seen = new Set([id]);
    while (down.length) for (const d of deps.get(down.pop())) if (!seen.has(d.to)) { seen.add(d.to); out.add(d.to); down.push(d.to); }
    return out;
  }

  function select(id) {
    const n = byId.get(id);
    state.selected = id;
    state.highlighted = reach(id);
    // Show the stages and files below it, so the path to its inputs is visible.
    state.expanded.add(id);
    const lines = [];
    lines.push(`${n.kind} ${n.label}`);
    if (n.digest) lines.push(`digest ${n.digest}`);
    if (n.state) lines.push(`state: ${n.state}`);
    lines.push("", "depends on:");
    for (const d of deps.get(id)) lines.push(`  ${d.label}: ${byId.get(d.to).label}`);
    lines.push("", "used by:");
    for (const u of users.get(id)) lines.push(`  ${u.label}: ${byId.get(u.from).label}`);
    const reached = [...state.highlighted].map((x) => byId.get(x)).filter((x) => x.kind === "object" && x.id !== id);
    if (reached.length) {
      lines.push("", "objects an edit here reaches:");
      for (const o of reached) lines.push(`  ${o.label}`);
    }
    if (why[id]) lines.push("", "why:", ...why[id]);
    document.getElementById("details").textContent = lines.join("\n");
    draw();
  }

  // One redraw when typing pauses, not one per key (a redraw is the whole SVG).
  let pending = null;
  document.getElementById("search").addEventListener("input", (ev) => {
    clearTimeout(pending);
    pending = setTimeout(() => {
      state.filter = ev.target.value.trim().toLowerCase();
      draw();
      const first = shown.nodes.find(hit);
      if (first) reveal(first.id);
    }, 120);
  });
  document.getElementById("files").addEventListener("change", (ev) => { state.files = ev.target.checked; draw(); });
  window.werfGraph = { select, draw, reveal, state };
  draw();
  document.body.setAttribute("data-ready", "true");
})();
