// The audit page's live rows: follows /console/audit/stream (Server-Sent Events, the page's filters) and puts each
// new event at the top of the table, in the region screen readers announce politely. Without script the page still
// shows the newest events, and says to reload for more. The cells match eventRow in console-audit-views.ts.
// A function scope: a classic script's top-level names would be shared with the page's other scripts.
(() => {
  const table = document.getElementById('audit-events');
  const status = document.getElementById('audit-live-status');
  const url = table && table.dataset.stream;
  const SUMMARY_LENGTH = 160;

  function formatTime(iso) {
    return iso.replace('T', ' ').replace(/(?:\.\d+)?Z$/, '');
  }

  function summarize(data) {
    const parts = [];
    for (const [key, value] of Object.entries(data || {})) {
      if (value === null) continue;
      parts.push(`${key}=${Array.isArray(value) ? value.join(' ') : String(value)}`);
    }
    const text = parts.join(', ');
    return text.length > SUMMARY_LENGTH ? `${text.slice(0, SUMMARY_LENGTH - 1)}…` : text;
  }

  function actorText(event) {
    const { kind, id } = event.actor;
    if (id === null || (kind === 'client' && id === event.client_id) || (kind === 'user' && id === event.subject)) return kind;
    return `${kind} ${id}`;
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function rowOf(body, event) {
    const row = body.insertRow(0);
    row.dataset.seq = String(event.seq);
    const time = document.createElement('time');
    time.dateTime = event.time;
    time.textContent = formatTime(event.time);
    cell(row, '', 'time').append(time);
    const type = document.createElement('code');
    type.textContent = event.type;
    cell(row, '').append(type);
    cell(row, event.outcome);
    cell(row, actorText(event));
    cell(row, event.client_id ?? '');
    cell(row, event.subject ?? '');
    cell(row, event.resource ?? '');
    cell(row, summarize(event.data));
  }

  if (table && status && url && 'EventSource' in window) {
    const body = table.tBodies[0];
    const maxRows = Number(table.dataset.maxRows) || 200;
    const source = new EventSource(url);
    status.textContent = 'Connecting…';
    source.addEventListener('open', () => {
      status.textContent = 'Live';
    });
    source.addEventListener('error', () => {
      // EventSource retries by itself (sending Last-Event-ID) unless the server refused it, e.g. a session that ended.
      status.textContent = source.readyState === EventSource.CLOSED ? 'Not live: reload the page to reconnect.' : 'Reconnecting…';
    });
    source.addEventListener('message', (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (body.querySelector(`tr[data-seq="${Number(event.seq)}"]`)) return;
      const empty = body.querySelector('tr.empty');
      if (empty) empty.remove();
      rowOf(body, event);
      while (body.rows.length > maxRows) body.deleteRow(body.rows.length - 1);
    });
  }
})();
