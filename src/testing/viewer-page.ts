/**
 * The dev viewer's single page: a list of received traces, one trace as a waterfall, and the
 * selected span's input, output and metadata. Span data is user data: it is only ever set as
 * text (textContent), never as HTML.
 *
 * `/#trace=<id>` shows that trace; without it the page follows the newest trace as traces arrive.
 */
export const DEV_VIEWER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sgp-otel dev viewer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --bg: #fafafa; --line: #e3e3e8; --text: #1d1d24; --muted: #6b6b78; --bar: #5b6cf0; --err: #d33c3c; --pick: #eef0ff; }
  * { box-sizing: border-box; }
  html, body { height: 100%; }
  body { margin: 0; display: flex; flex-direction: column; overflow: hidden; font: 13px/1.45 system-ui, -apple-system, Segoe UI, sans-serif; color: var(--text); background: var(--bg); }
  header { flex: none; padding: 10px 16px; border-bottom: 1px solid var(--line); background: #fff; display: flex; gap: 12px; align-items: baseline; }
  header h1 { font-size: 15px; margin: 0; }
  header span { color: var(--muted); }
  header a { margin-left: auto; color: var(--bar); }
  main { flex: 1; min-height: 0; display: grid; grid-template-columns: 340px minmax(0, 1fr); }
  #traces { border-right: 1px solid var(--line); overflow: auto; background: #fff; }
  #evicted { padding: 8px 12px; background: #fff8e1; color: #6d5200; border-bottom: 1px solid var(--line); font-size: 12px; }
  .trace { display: block; padding: 7px 12px; border-bottom: 1px solid var(--line); color: inherit; text-decoration: none; }
  .trace:hover, .trace.selected { background: var(--pick); }
  .trace .top { display: flex; gap: 8px; align-items: baseline; }
  .trace .name { font-weight: 600; flex: 1; min-width: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .trace .meta, .trace .took { color: var(--muted); font-size: 12px; }
  .trace .took { white-space: nowrap; }
  .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 11px; }
  .badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; background: #ececf3; color: #44445a; }
  .badge.error { background: #fde7e7; color: var(--err); }
  #detail { overflow: auto; padding: 12px 16px; }
  #detail h2 { font-size: 14px; margin: 0 0 8px; }
  #detail h2 .mono { color: var(--muted); font-weight: normal; margin-left: 8px; }
  .note { color: var(--muted); padding: 24px 0; }
  .row { display: grid; grid-template-columns: minmax(260px, 40%) 1fr; align-items: center; padding: 3px 0; cursor: pointer; border-radius: 4px; }
  .row:hover, .row.selected { background: var(--pick); }
  .row .label { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .row .depth { color: var(--muted); font-size: 11px; }
  .row .track { position: relative; height: 14px; margin-right: 4px; }
  .row .bar { position: absolute; top: 2px; height: 10px; border-radius: 3px; background: var(--bar); min-width: 2px; }
  .row.error .bar { background: var(--err); }
  .row .bar.open { opacity: 0.45; }
  .row .dur { position: absolute; top: -1px; font-size: 11px; color: var(--muted); white-space: nowrap; }
  #span { margin-top: 16px; border-top: 1px solid var(--line); padding-top: 12px; }
  #span h3 { font-size: 12px; margin: 12px 0 4px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
  pre { margin: 0; padding: 8px; background: #fff; border: 1px solid var(--line); border-radius: 4px; white-space: pre-wrap; word-break: break-word; max-height: 320px; overflow: auto; }
  pre.missing { color: var(--muted); font-style: italic; background: transparent; border-style: dashed; }
</style>
</head>
<body>
<header><h1>sgp-otel dev viewer</h1><span id="status">waiting for spans on PUT /v5/spans/batch</span><a id="follow" href="#" hidden>show the newest trace</a></header>
<main>
  <nav id="traces"><div id="evicted" data-testid="evicted" hidden></div><div id="list" data-testid="trace-list"></div></nav>
  <section id="detail" data-testid="detail"><div class="note">No traces yet. Send spans to this server (baseUrl = this page's address); the newest trace opens here.</div></section>
</main>
<script>
(() => {
  const MAX_ROWS = 2000;
  const MAX_INDENT = 12;
  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const micros = (iso) => {
    const m = /^(.*T\\d{2}:\\d{2}:\\d{2})(?:\\.(\\d+))?(Z|[+-]\\d{2}:\\d{2})$/.exec(iso || '');
    if (!m) return NaN;
    return Date.parse(m[1] + m[3]) * 1000 + Number((m[2] || '').padEnd(6, '0').slice(0, 6));
  };
  const ms = (n) => (n === undefined || n === null || Number.isNaN(n) ? 'in progress' : n < 10 ? n.toFixed(2) + ' ms' : n < 10000 ? n.toFixed(0) + ' ms' : (n / 1000).toFixed(1) + ' s');
  const clock = (iso) => new Date(micros(iso) / 1000).toLocaleTimeString([], { hour12: false });
  const plural = (n, noun) => n + ' ' + noun + (n === 1 ? '' : 's');
  const mib = (bytes) => (bytes / 1024 / 1024).toFixed(bytes < 1024 * 1024 ? 2 : 0) + ' MiB';

  // Without #trace=<id> in the address, the newest trace is shown and replaced as new ones arrive.
  let wanted = null;
  let shown = null;
  let shownSignature = '';
  let selectedSpan = null;
  let lastList = '';

  function readHash() {
    const m = /^#trace=([0-9A-Za-z_-]+)$/.exec(location.hash);
    wanted = m ? m[1] : null;
    document.getElementById('follow').hidden = wanted === null;
  }

  async function refresh() {
    let list;
    try {
      list = await (await fetch('/api/traces')).json();
    } catch {
      document.getElementById('status').textContent = 'the dev server is not answering';
      return;
    }
    const signature = JSON.stringify(list);
    if (signature !== lastList) {
      lastList = signature;
      renderList(list);
    }
    const traceId = wanted ?? (list.traces[0] && list.traces[0].trace_id);
    if (!traceId) return;
    const summary = list.traces.find((t) => t.trace_id === traceId);
    const traceSignature = traceId + JSON.stringify(summary || null);
    if (traceSignature === shownSignature) return;
    if (traceId !== shown) selectedSpan = null;
    shown = traceId;
    shownSignature = traceSignature;
    for (const node of document.querySelectorAll('.trace')) node.classList.toggle('selected', node.dataset.traceId === traceId);
    if (summary) await showTrace(traceId);
    else showMissing(traceId);
  }

  function renderList({ traces, evicted, limits }) {
    document.getElementById('status').textContent = plural(traces.length, 'trace') + ' in view';
    const notice = document.getElementById('evicted');
    notice.hidden = evicted === 0;
    notice.textContent = plural(evicted, 'older trace') + ' forgotten: the viewer keeps the latest ' + plural(limits.maxTraces, 'trace') + ' and ' + mib(limits.maxBytes) + ' of spans.';
    document.getElementById('list').replaceChildren(...traces.map((t) => {
      const item = el('a', { class: 'trace' + (t.trace_id === shown ? ' selected' : ''), href: '#trace=' + t.trace_id, 'data-testid': 'trace', 'data-trace-id': t.trace_id });
      const top = el('div', { class: 'top' });
      top.append(el('span', { class: 'name', 'data-testid': 'trace-name' }, t.name), el('span', { class: 'took' }, ms(t.duration_ms)));
      const meta = el('div', { class: 'meta' }, clock(t.start) + ' · ');
      meta.append(el('span', { class: 'mono' }, t.trace_id.slice(0, 8)), ' · ' + plural(t.spans, 'span') + ' ');
      if (t.errors) meta.append(el('span', { class: 'badge error' }, plural(t.errors, 'error')));
      item.append(top, meta);
      return item;
    }));
  }

  function showMissing(traceId) {
    const note = el('div', { class: 'note', 'data-testid': 'trace-missing' }, 'Trace ' + traceId + ' is not here: not received yet, or forgotten to make room for newer traces.');
    document.getElementById('detail').replaceChildren(note);
  }

  async function showTrace(traceId) {
    const response = await fetch('/api/traces/' + encodeURIComponent(traceId));
    if (!response.ok) return showMissing(traceId);
    const spans = await response.json();
    if (traceId !== shown) return;
    const rows = treeOrder(spans);
    let start = Infinity;
    let end = -Infinity;
    for (const s of spans) {
      start = Math.min(start, micros(s.start_timestamp));
      end = Math.max(end, micros(s.end_timestamp || s.start_timestamp));
    }
    const total = Math.max(1, end - start);
    const waterfall = el('div', { 'data-testid': 'waterfall' });
    const title = el('h2', { 'data-testid': 'trace-title' }, rows[0] ? rows[0][0].name : traceId);
    title.append(el('span', { class: 'mono' }, traceId));
    waterfall.append(title);
    for (const [s, depth] of rows.slice(0, MAX_ROWS)) waterfall.append(spanRow(s, depth, start, total, traceId));
    if (rows.length > MAX_ROWS) waterfall.append(el('div', { class: 'note' }, plural(rows.length - MAX_ROWS, 'more span') + ' not shown'));
    document.getElementById('detail').replaceChildren(waterfall, spanPanel(spans.find((s) => s.id === selectedSpan)));
  }

  /** [span, depth] in tree order, children by start time; iterative, so a deep trace cannot overflow the stack. */
  function treeOrder(spans) {
    const ids = new Set(spans.map((s) => s.id));
    const children = new Map();
    for (const s of spans) {
      const parent = s.parent_id && ids.has(s.parent_id) ? s.parent_id : null;
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(s);
    }
    for (const list of children.values()) list.sort((a, b) => micros(a.start_timestamp) - micros(b.start_timestamp));
    const rows = [];
    const stack = (children.get(null) || []).map((s) => [s, 0]).reverse();
    while (stack.length) {
      const [s, depth] = stack.pop();
      rows.push([s, depth]);
      for (const child of (children.get(s.id) || []).slice().reverse()) stack.push([child, depth + 1]);
    }
    return rows;
  }

  function spanRow(s, depth, start, total, traceId) {
    const row = el('div', { class: 'row' + (s.status === 'ERROR' ? ' error' : '') + (s.id === selectedSpan ? ' selected' : ''), 'data-testid': 'span-row', 'data-span-id': s.id, 'data-depth': depth });
    const label = el('div', { class: 'label' });
    // Deeper than MAX_INDENT the indent stops growing (the name would leave the column) and the depth is written out.
    label.style.paddingLeft = Math.min(depth, MAX_INDENT) * 16 + 'px';
    if (depth > MAX_INDENT) label.append(el('span', { class: 'depth' }, 'depth ' + depth + ' › '));
    label.append(el('span', { 'data-testid': 'span-name' }, s.name + ' '));
    label.append(el('span', { class: 'badge', 'data-testid': 'span-type' }, s.type || 'STANDALONE'));
    if (s.status === 'ERROR') label.append(' ', el('span', { class: 'badge error', 'data-testid': 'span-status' }, 'ERROR'));
    const track = el('div', { class: 'track' });
    const from = micros(s.start_timestamp) - start;
    const to = s.end_timestamp ? micros(s.end_timestamp) - start : total;
    const fromPct = (100 * from) / total;
    const endPct = (100 * to) / total;
    const bar = el('div', { class: 'bar' + (s.end_timestamp ? '' : ' open'), 'data-testid': 'span-bar' });
    bar.style.left = fromPct + '%';
    bar.style.width = Math.max(0.3, endPct - fromPct) + '%';
    const duration = el('div', { class: 'dur' }, ms(s.end_timestamp ? (to - from) / 1000 : undefined));
    // Near the right edge the label goes inside a wide bar, else to the bar's left: never off the track.
    if (endPct <= 85) duration.style.left = endPct + 0.5 + '%';
    else if (endPct - fromPct > 12) { duration.style.right = 100 - endPct + 0.5 + '%'; duration.style.color = '#fff'; }
    else duration.style.right = 100 - fromPct + 0.5 + '%';
    track.append(bar, duration);
    row.append(label, track);
    row.addEventListener('click', () => { selectedSpan = s.id; showTrace(traceId); });
    return row;
  }

  function spanPanel(span) {
    const panel = el('div', { id: 'span', 'data-testid': 'span-detail' });
    if (!span) {
      panel.append(el('div', { class: 'note' }, 'Click a span to see its input, output and metadata.'));
      return panel;
    }
    panel.append(el('h2', {}, span.name + ' · ' + (span.type || 'STANDALONE') + ' · ' + (span.status || 'SUCCESS')));
    for (const field of ['input', 'output', 'metadata']) {
      panel.append(el('h3', {}, field));
      panel.append(fieldView(field, span[field]));
    }
    return panel;
  }

  // SGP items always carry input, output and metadata: a span without one is sent as {}.
  function fieldView(field, value) {
    const empty = value === undefined || (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0);
    if (!empty) return el('pre', { 'data-testid': 'span-' + field }, JSON.stringify(value, null, 2));
    return el('pre', { class: 'missing', 'data-testid': 'span-' + field }, 'no ' + field + (value === undefined ? ' (not sent)' : ' (sent as an empty object)'));
  }

  async function poll() {
    try {
      await refresh();
    } finally {
      setTimeout(poll, 1000);
    }
  }

  window.addEventListener('hashchange', () => { readHash(); shownSignature = ''; refresh(); });
  readHash();
  poll();
})();
</script>
</body>
</html>
`;
