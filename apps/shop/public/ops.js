/* global uPlot -- loaded by its own <script> tag in index.html, when the vendor file is there */
// The operations panel: polls `/metrics` through the balancer (one request per replica each round,
// told apart by X-Replica), and shows requests per second and store latency per replica, the active
// sessions estimate, and a small uPlot chart of the last few minutes. No build step, no CDN.
'use strict';

(() => {
  const POLL_MS = 3_000;
  const HISTORY = 60; // points: 3 minutes
  const replicas = new Map(); // id -> { at, requests, buckets, rate, p50, p99 }
  const history = [[], [], []]; // time (s), req/s of all replicas, worst p99 (ms)
  let chart;
  let knownReplicas = 3;

  /** Samples of a Prometheus text exposition: [{ name, labels, value }]. */
  function parse(text) {
    const samples = [];
    for (const line of text.split('\n')) {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ([^ ]+)/.exec(line);
      if (!match) continue;
      const labels = {};
      for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
      samples.push({ name: match[1], labels, value: Number(match[3]) });
    }
    return samples;
  }

  const sum = (samples, name) => samples.filter((s) => s.name === name).reduce((total, s) => total + s.value, 0);

  /** Cumulative counts of the store latency histogram, all operations together, by upper bound (seconds). */
  function latencyBuckets(samples) {
    const byBound = new Map();
    for (const s of samples) {
      if (s.name !== 'session_store_duration_seconds_bucket') continue;
      const bound = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      byBound.set(bound, (byBound.get(bound) ?? 0) + s.value);
    }
    return [...byBound].sort((a, b) => a[0] - b[0]);
  }

  /** The q-quantile in ms of a histogram's counts (interpolated within a bucket, as Prometheus does). */
  function quantile(buckets, q) {
    const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
    if (!total) return undefined;
    const rank = q * total;
    let lower = 0;
    let below = 0;
    for (const [bound, count] of buckets) {
      if (count >= rank) {
        if (bound === Infinity) return lower * 1_000;
        return (lower + ((bound - lower) * (rank - below)) / Math.max(count - below, 1)) * 1_000;
      }
      lower = bound;
      below = count;
    }
    return undefined;
  }

  /** What happened since the previous sample: bucket counts minus the earlier ones. */
  function delta(now, before) {
    if (!before) return now;
    const earlier = new Map(before);
    return now.map(([bound, count]) => [bound, count - (earlier.get(bound) ?? 0)]);
  }

  async function sampleOnce() {
    const res = await fetch('/metrics', { cache: 'no-store' });
    if (res.status === 401) throw Object.assign(new Error('Metrics are protected by METRICS_TOKEN: the panel cannot read them.'), { final: true });
    if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
    const id = res.headers.get('x-replica') ?? '?';
    const samples = parse(await res.text());
    const at = Date.now();
    const requests = sum(samples, 'shop_http_requests_total');
    const buckets = latencyBuckets(samples);
    const previous = replicas.get(id);
    const recent = delta(buckets, previous?.buckets);
    const seconds = previous ? (at - previous.at) / 1_000 : 0;
    replicas.set(id, {
      at,
      requests,
      buckets,
      rate: seconds > 0 ? Math.max(0, requests - previous.requests - 1) / seconds : 0, // minus this poll itself
      p50: quantile(recent, 0.5) ?? previous?.p50,
      p99: quantile(recent, 0.99) ?? previous?.p99,
    });
    return sum(samples, 'sessions_active');
  }

  function render(active) {
    document.querySelector('[data-test="ops-active"]').textContent = String(active);
    const rows = [...replicas]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, r]) => {
        const row = document.createElement('tr');
        for (const text of [id, r.rate.toFixed(1), ms(r.p50), ms(r.p99)]) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        return row;
      });
    document.querySelector('#ops-replicas').replaceChildren(...rows);
    const all = [...replicas.values()];
    history[0].push(Date.now() / 1_000);
    history[1].push(all.reduce((total, r) => total + r.rate, 0));
    history[2].push(Math.max(0, ...all.map((r) => r.p99 ?? 0)));
    for (const series of history) if (series.length > HISTORY) series.shift();
    drawChart();
  }

  function ms(value) {
    return value === undefined ? '–' : `${value < 1 ? value.toFixed(2) : value.toFixed(1)} ms`;
  }

  function drawChart() {
    if (typeof uPlot !== 'function') return; // the chart is a bonus: the table works without it
    const box = document.querySelector('#ops-chart');
    if (!chart) {
      chart = new uPlot(
        {
          width: Math.max(box.clientWidth, 220),
          height: 120,
          legend: { show: true },
          scales: { rate: {}, ms: {} },
          axes: [{ show: false }, { scale: 'rate', size: 36 }, { scale: 'ms', side: 1, size: 50 }],
          series: [{}, { label: 'req/s', scale: 'rate', stroke: '#1f6f5c', width: 2 }, { label: 'p99 ms', scale: 'ms', stroke: '#b3541e', width: 1 }],
        },
        history,
        box,
      );
      return;
    }
    chart.setData(history);
  }

  async function poll() {
    const note = document.querySelector('#ops-note');
    try {
      let active = 0;
      // One request per replica, more or less: the balancer sends each to the next replica in turn.
      for (let i = 0; i < knownReplicas; i++) active = await sampleOnce();
      knownReplicas = Math.max(knownReplicas, replicas.size);
      note.hidden = true;
      render(active);
    } catch (error) {
      note.textContent = error.message;
      note.hidden = false;
      if (error.final) return;
    }
    setTimeout(poll, POLL_MS);
  }

  poll();
})();
