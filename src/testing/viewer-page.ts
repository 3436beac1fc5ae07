/**
 * The dev viewer's single page: a list of received traces, one trace as a waterfall, and the
 * selected span's input, output and metadata. Span data is user data: it is only ever set as
 * text (textContent), never as HTML.
 */
export const DEV_VIEWER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sgp-otel dev viewer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --bg: #fafafa; --line: #e3e3e8; --text: #1d1d24; --muted: #6b6b78; --bar: #5b6cf0; --err: #d33c3c; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.45 system-ui, -apple-system, Segoe UI, sans-serif; color: var(--text); background: var(--bg); }
  header { padding: 10px 16px; border-bottom: 1px solid var(--line); background: #fff; display: flex; gap: 12px; align-items: baseline; }
  header h1 { font-size: 15px; margin: 0; }
  header span { color: var(--muted); }
  main { display: grid; grid-template-columns: 280px 1fr; height: calc(100vh - 42px); }
  #traces { border-right: 1px solid var(--line); overflow: auto; background: #fff; }
  .trace { padding: 8px 12px; border-bottom: 1px solid var(--line); cursor: pointer; }
  .trace:hover, .trace.selected { background: #eef0ff; }
  .trace .name { font-weight: 600; }
  .trace .meta { color: var(--muted); font-size: 12px; }
  .badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; background: #ececf3; color: #44445a; }
  .badge.error { background: #fde7e7; color: var(--err); }
  #detail { overflow: auto; padding: 12px 16px; }
  #empty { color: var(--muted); padding: 24px; }
  .row { display: grid; grid-template-columns: minmax(260px, 40%) 1fr; align-items: center; padding: 3px 0; cursor: pointer; border-radius: 4px; }
  .row:hover, .row.selected { background: #eef0ff; }
  .row .label { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .row .track { position: relative; height: 14px; }
  .row .bar { position: absolute; top: 2px; height: 10px; border-radius: 3px; background: var(--bar); min-width: 2px; }
  .row.error .bar { background: var(--err); }
  .row .bar.open { opacity: 0.45; }
  .row .dur { position: absolute; top: -1px; font-size: 11px; color: var(--muted); white-space: nowrap; }
  #span { margin-top: 16px; border-top: 1px solid var(--line); padding-top: 12px; }
  #span h2 { font-size: 14px; margin: 0 0 8px; }
  #span h3 { font-size: 12px; margin: 12px 0 4px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
  pre { margin: 0; padding: 8px; background: #fff; border: 1px solid var(--line); border-radius: 4px; white-space: pre-wrap; word-break: break-word; max-height: 320px; overflow: auto; }
</style>
</head>
<body>
<header><h1>sgp-otel dev viewer</h1><span id="status">waiting for spans on PUT /v5/spans/batch</span></header>
<main>
  <nav id="traces" data-testid="trace-list"></nav>
  <section id="detail"><div id="empty">No trace selected. Send spans to this server (baseUrl = this page's address) and pick a trace.</div></section>
</main>
<script>
(() => {
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
  const ms = (n) => (n === undefined || Number.isNaN(n) ? 'in progress' : n < 10 ? n.toFixed(2) + ' ms' : n.toFixed(0) + ' ms');
  let selectedTrace = null;
  let selectedSpan = null;
  let lastList = '';

  async function refreshList() {
    const traces = await (await fetch('/api/traces')).json();
    const signature = JSON.stringify(traces);
    if (signature === lastList) return;
    lastList = signature;
    document.getElementById('status').textContent = traces.length + ' trace' + (traces.length === 1 ? '' : 's') + ' received';
    const list = document.getElementById('traces');
    list.replaceChildren(...traces.map((t) => {
      const item = el('div', { class: 'trace' + (t.trace_id === selectedTrace ? ' selected' : ''), 'data-testid': 'trace', 'data-trace-id': t.trace_id });
      item.append(el('div', { class: 'name' }, t.name));
      const meta = el('div', { class: 'meta' }, t.spans + ' spans · ' + ms(t.duration_ms) + ' ');
      if (t.errors) meta.append(el('span', { class: 'badge error' }, t.errors + ' error' + (t.errors === 1 ? '' : 's')));
      item.append(meta);
      item.addEventListener('click', () => showTrace(t.trace_id));
      return item;
    }));
    if (selectedTrace) await showTrace(selectedTrace, true);
  }

  async function showTrace(traceId, keepSpan) {
    selectedTrace = traceId;
    if (!keepSpan) selectedSpan = null;
    for (const node of document.querySelectorAll('.trace')) node.classList.toggle('selected', node.dataset.traceId === traceId);
    const spans = await (await fetch('/api/traces/' + encodeURIComponent(traceId))).json();
    const ids = new Set(spans.map((s) => s.id));
    const children = new Map();
    for (const s of spans) {
      const parent = s.parent_id && ids.has(s.parent_id) ? s.parent_id : null;
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(s);
    }
    for (const list of children.values()) list.sort((a, b) => a.start_timestamp.localeCompare(b.start_timestamp));
    const start = Math.min(...spans.map((s) => micros(s.start_timestamp)));
    const end = Math.max(...spans.map((s) => micros(s.end_timestamp || s.start_timestamp)));
    const total = Math.max(1, end - start);
    const rows = [];
    const walk = (parent, depth) => {
      for (const s of children.get(parent) || []) { rows.push([s, depth]); walk(s.id, depth + 1); }
    };
    walk(null, 0);
    const detail = document.getElementById('detail');
    const waterfall = el('div', { 'data-testid': 'waterfall' });
    waterfall.append(el('h2', {}, rows[0] ? rows[0][0].name : traceId));
    for (const [s, depth] of rows) {
      const row = el('div', { class: 'row' + (s.status === 'ERROR' ? ' error' : '') + (s.id === selectedSpan ? ' selected' : ''), 'data-testid': 'span-row', 'data-span-id': s.id });
      const label = el('div', { class: 'label' });
      label.style.paddingLeft = depth * 16 + 'px';
      label.append(el('span', { 'data-testid': 'span-name' }, s.name + ' '));
      label.append(el('span', { class: 'badge', 'data-testid': 'span-type' }, s.type || 'STANDALONE'));
      if (s.status === 'ERROR') label.append(el('span', { class: 'badge error', 'data-testid': 'span-status' }, ' ERROR'));
      const track = el('div', { class: 'track' });
      const from = micros(s.start_timestamp) - start;
      const to = s.end_timestamp ? micros(s.end_timestamp) - start : total;
      const bar = el('div', { class: 'bar' + (s.end_timestamp ? '' : ' open'), 'data-testid': 'span-bar' });
      bar.style.left = (100 * from) / total + '%';
      bar.style.width = Math.max(0.3, (100 * (to - from)) / total) + '%';
      const duration = el('div', { class: 'dur' }, ms(s.end_timestamp ? (to - from) / 1000 : undefined));
      const endPct = (100 * to) / total;
      // A bar that reaches the right edge carries its label inside, where there is room.
      if (endPct > 85) { duration.style.right = 100 - endPct + 0.5 + '%'; duration.style.color = '#fff'; }
      else duration.style.left = endPct + 0.5 + '%';
      track.append(bar, duration);
      row.append(label, track);
      row.addEventListener('click', () => { selectedSpan = s.id; showTrace(traceId, true); });
      waterfall.append(row);
    }
    const panel = el('div', { id: 'span', 'data-testid': 'span-detail' });
    const chosen = spans.find((s) => s.id === selectedSpan);
    if (chosen) {
      panel.append(el('h2', {}, chosen.name + ' · ' + (chosen.type || 'STANDALONE') + ' · ' + (chosen.status || 'SUCCESS')));
      for (const field of ['input', 'output', 'metadata']) {
        panel.append(el('h3', {}, field));
        panel.append(el('pre', { 'data-testid': 'span-' + field }, JSON.stringify(chosen[field] || {}, null, 2)));
      }
    } else {
      panel.append(el('div', { class: 'meta' }, 'Click a span to see its input, output and metadata.'));
    }
    detail.replaceChildren(waterfall, panel);
  }

  refreshList();
  setInterval(refreshList, 1500);
})();
</script>
</body>
</html>
`;
