/*
 * omniloop HQ dashboard: plain browser JS (no build step), ECharts from the server's own copy.
 * The API token comes from the URL fragment (never sent to the server in a URL) or the sign-in prompt,
 * lives in sessionStorage, and goes out only as an Authorization header.
 * Polling stays cheap: every tick asks for stats and agents; the heavy figures are fetched again only
 * when the stats show new data, the selection changed, or every FULL_REFRESH_TICKS ticks.
 */
/* global echarts */
'use strict';

(() => {
  const TOKEN_KEY = 'omniloop.hq.token';
  const PALETTE = ['#3b82f6', '#14b8a6', '#f59e0b', '#ec4899', '#8b5cf6', '#22c55e', '#ef4444', '#0ea5e9', '#a16207', '#64748b'];
  const HOURS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));
  const DWELL_LABELS = ['< 1', '1–5', '5–15', '15–30', '30–60', '≥ 60'];
  const KINDS = [
    ['cid', 'Device-days', '#3b82f6'],
    ['hem', 'Hashed e-mails', '#8b5cf6'],
    ['hph', 'Hashed phones', '#14b8a6'],
    ['loy', 'Loyalty ids', '#f59e0b'],
    ['net', 'Guest WiFi devices', '#ef4444'],
  ];
  const REFUSED = [
    ['blocked', 'Blocked'],
    ['shared-device', 'Shared device'],
    ['two-loyalty-ids', 'Two loyalty ids'],
    ['component-too-large', 'Too large'],
  ];
  /** Erasure and unmerge change figures without new batches: refetch everything now and then anyway. */
  const FULL_REFRESH_TICKS = 12;
  const PERIOD_DAYS = 7;

  const $ = (id) => document.getElementById(id);

  // Parameters: the fragment first (it never reaches the server), then the query string.
  const frag = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const param = (name) => frag.get(name) ?? query.get(name);
  const pollMs = Math.max(250, Number(param('poll')) || 5000);
  if (frag.has('token')) {
    sessionStorage.setItem(TOKEN_KEY, frag.get('token') ?? '');
    frag.delete('token');
  }

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || null,
    tenants: [],
    tenant: param('tenant'),
    day: param('day'),
    /** Follow the newest store-day as new days arrive, until someone picks an older one. */
    followLatest: !param('day'),
    flowKind: 'sameDay',
    k: 5,
    statsKey: '',
    dirty: true,
    tick: 0,
    /** 'unknown' until /v1/segments answers; 'absent' after a 404 (asked again on the next page load). */
    segments: 'unknown',
    agents: [],
    footfall: null,
    flows: null,
    returning: null,
    /** New data arrived since these figures were fetched (see poll). */
    pendingDay: true,
    pendingPeriod: true,
    /** The period must follow at once: the day moved under it. */
    periodNow: false,
    dayTick: -Infinity,
    periodTick: -Infinity,
    authFailed: false,
  };
  writeFragment();

  // ---------- formatting ----------
  const nf = new Intl.NumberFormat();
  const fmt = (n) => (n === null || n === undefined ? `<${state.k}` : nf.format(n));
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
  const dayLabel = (day, opts = { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }) => new Date(`${day}T12:00:00Z`).toLocaleDateString(undefined, { ...opts, timeZone: 'UTC' });
  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 10) return 'just now';
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
    return new Date(ms).toLocaleDateString();
  }
  function duration(seconds) {
    if (seconds < 60) return `${Math.round(seconds)} s`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
    return `${Math.round(seconds / 360) / 10} h`;
  }
  /** A sum over stores when some are suppressed: the known part is a lower bound. */
  function sumOf(values) {
    if (!values.length) return { text: '–', title: '' };
    const known = values.filter((v) => v !== null).reduce((a, b) => a + b, 0);
    const hidden = values.filter((v) => v === null).length;
    if (!hidden) return { text: nf.format(known), title: '' };
    if (!known) return { text: `<${state.k}`, title: `each store below k=${state.k}` };
    return { text: `≥ ${nf.format(known)}`, title: `${hidden} store(s) below k=${state.k} not included` };
  }

  // ---------- API ----------
  class AuthError extends Error {}
  async function api(path, { allow404 = false } = {}) {
    const r = await fetch(path, { headers: { authorization: `Bearer ${state.token}` }, cache: 'no-store' });
    if (r.status === 401) throw new AuthError('token refused');
    if (allow404 && r.status === 404) return null;
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      throw new Error(`${path.split('?')[0]}: ${r.status} ${body.error ?? ''}`.trim());
    }
    return r.json();
  }

  // ---------- charts ----------
  const FONT = getComputedStyle(document.body).fontFamily;
  const AXIS = { axisLine: { lineStyle: { color: '#cbd5e1' } }, axisTick: { show: false }, axisLabel: { color: '#64748b' } };
  const VALUE_AXIS = { type: 'value', minInterval: 1, splitLine: { lineStyle: { color: '#eef2f7' } }, axisLabel: { color: '#64748b' } };
  const BASE = {
    textStyle: { fontFamily: FONT, color: '#334155' },
    animationDuration: 500,
    animationDurationUpdate: 400,
    tooltip: {
      backgroundColor: 'rgba(15, 23, 42, 0.94)',
      borderWidth: 0,
      padding: [8, 12],
      textStyle: { color: '#f1f5f9', fontSize: 12, fontFamily: FONT },
      extraCssText: 'border-radius: 8px; box-shadow: 0 8px 24px rgba(15, 23, 42, 0.25);',
    },
  };
  const charts = new Map();
  const resizer = new ResizeObserver((entries) => {
    for (const e of entries) charts.get(e.target.id)?.resize();
  });
  function draw(id, option) {
    let c = charts.get(id);
    if (!c) {
      c = echarts.init($(id), null, { renderer: 'canvas' });
      charts.set(id, c);
      resizer.observe($(id));
      c.setOption(BASE);
    }
    // Series carry ids, so a refresh animates from the old values instead of redrawing from zero.
    c.setOption(option, { replaceMerge: ['series'] });
  }
  function empty(cardId, isEmpty) {
    const p = $(cardId).querySelector('.empty');
    if (p) p.hidden = !isEmpty;
  }
  const storeColor = (store) => {
    const stores = currentTenant()?.stores ?? [];
    const i = stores.indexOf(store);
    return PALETTE[(i === -1 ? stores.length : i) % PALETTE.length];
  };
  /** A suppressed count (1..k-1) as a hatched placeholder up to k-1, labelled "<k" — never as 0. */
  function bar(v, labelPosition = 'top') {
    if (v !== null && v !== undefined) return v;
    return {
      value: state.k - 1,
      suppressed: true,
      itemStyle: { color: 'rgba(148, 163, 184, 0.18)', borderColor: '#94a3b8', borderType: 'dashed', borderWidth: 1 },
      label: { show: true, position: labelPosition, formatter: `<${state.k}`, color: '#64748b', fontSize: 10 },
    };
  }
  const shown = (p) => (p.data && p.data.suppressed) || p.value === null || p.value === undefined ? `<${state.k}` : nf.format(p.value);
  const marker = (p) => `<span style="display:inline-block;width:8px;height:8px;border-radius:50%;background:${p.color};margin-right:6px"></span>`;
  const axisTooltip = (title) => (params) => {
    const list = Array.isArray(params) ? params : [params];
    return [`<b>${esc(title(list[0]))}</b>`, ...list.map((p) => `${marker(p)}${esc(p.seriesName)}&nbsp;&nbsp;<b>${shown(p)}</b>`)].join('<br>');
  };

  function drawFootfall(f) {
    const stores = f?.stores ?? [];
    const zones = [...new Set(stores.map((s) => s.timezone))];
    $('footfall-sub').textContent = `people arriving per hour, estimated (every phone, known or randomizing) · ${zones.length === 1 ? `local time, ${zones[0]}` : 'store-local time'} · gaps: fewer than ${state.k}`;
    // Hours where every store was closed (all zero) at either end of the day are left off the axis.
    const active = HOURS.map((_, h) => stores.some((s) => s.people.arrivalsByHour[h] !== 0));
    const first = active.indexOf(true);
    const last = active.lastIndexOf(true);
    draw('chart-footfall', {
      grid: { left: 44, right: 18, top: 36, bottom: 28 },
      legend: { top: 0, left: 0, icon: 'roundRect', itemWidth: 14, itemHeight: 4, textStyle: { color: '#475569' } },
      tooltip: { trigger: 'axis', formatter: axisTooltip((p) => `${p.axisValue}:00–${p.axisValue}:59`) },
      xAxis: { type: 'category', data: HOURS, boundaryGap: false, min: first === -1 ? 0 : Math.max(0, first - 1), max: first === -1 ? 23 : Math.min(23, last + 1), ...AXIS },
      yAxis: VALUE_AXIS,
      series: stores.map((s) => ({
        id: s.store,
        name: s.store,
        type: 'line',
        smooth: 0.3,
        showSymbol: false,
        symbolSize: 7,
        connectNulls: false,
        color: storeColor(s.store),
        lineStyle: { width: 2.5 },
        areaStyle: {
          color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [
            { offset: 0, color: `${storeColor(s.store)}40` },
            { offset: 1, color: `${storeColor(s.store)}00` },
          ]),
        },
        emphasis: { focus: 'series' },
        data: s.people.arrivalsByHour,
      })),
    });
    empty('card-footfall', !stores.length);
  }

  function drawVisitors(f) {
    const stores = f?.stores ?? [];
    const byStore = new Map(stores.map((s) => [s.store, s]));
    const names = stores.map((s) => s.store).reverse(); // first store on top
    const labels = { show: true, position: 'inside', color: '#fff', fontWeight: 600, formatter: (p) => shown(p) };
    draw('chart-visitors', {
      grid: { left: 8, right: 18, top: 32, bottom: 8, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' },
      legend: { top: 0, left: 0, itemWidth: 12, itemHeight: 12, textStyle: { color: '#475569' } },
      tooltip: {
        trigger: 'axis',
        axisPointer: { type: 'shadow' },
        formatter: (params) => {
          const s = byStore.get(params[0].axisValue);
          const rate = s && s.uniqueVisitors !== null && s.passersBy !== null && s.uniqueVisitors + s.passersBy > 0 ? `<br>capture rate&nbsp;&nbsp;<b>${Math.round((100 * s.uniqueVisitors) / (s.uniqueVisitors + s.passersBy))} %</b>` : '';
          return axisTooltip((p) => p.axisValue)(params) + rate;
        },
      },
      xAxis: { ...VALUE_AXIS },
      yAxis: { type: 'category', data: names, ...AXIS, axisLabel: { color: '#334155', fontWeight: 600 } },
      series: [
        { id: 'visitors', name: 'Visitors', type: 'bar', stack: 'people', barMaxWidth: 30, color: '#3b82f6', itemStyle: { borderRadius: [4, 0, 0, 4] }, label: labels, data: names.map((n) => bar(byStore.get(n).uniqueVisitors, 'inside')) },
        { id: 'passers', name: 'Passers-by', type: 'bar', stack: 'people', barMaxWidth: 30, color: '#cbd5e1', itemStyle: { borderRadius: [0, 4, 4, 0] }, label: { ...labels, color: '#334155' }, data: names.map((n) => bar(byStore.get(n).passersBy, 'inside')) },
      ],
    });
    empty('card-visitors', !stores.length);
  }

  function drawDwell(f) {
    const stores = f?.stores ?? [];
    draw('chart-dwell', {
      grid: { left: 40, right: 30, top: 36, bottom: 28 },
      legend: { top: 0, left: 0, itemWidth: 12, itemHeight: 12, textStyle: { color: '#475569' } },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, formatter: axisTooltip((p) => `dwell ${p.axisValue} min`) },
      xAxis: { type: 'category', data: DWELL_LABELS, name: 'min', nameGap: 6, nameTextStyle: { color: '#94a3b8' }, ...AXIS, axisLabel: { color: '#64748b', interval: 0 } },
      yAxis: VALUE_AXIS,
      series: stores.map((s) => ({
        id: s.store,
        name: s.store,
        type: 'bar',
        barMaxWidth: 16,
        barGap: '15%',
        color: storeColor(s.store),
        itemStyle: { borderRadius: [3, 3, 0, 0] },
        data: s.dwellHistogram.map((v) => bar(v)),
      })),
    });
    empty('card-dwell', !stores.length);
  }

  function onCircle(i, n) {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n);
    return { x: Math.round(100 * Math.cos(a)), y: Math.round(100 * Math.sin(a)) };
  }

  function drawFlows(fl) {
    const field = state.flowKind === 'sameDay' ? 'devices' : 'profiles';
    const rows = fl?.[state.flowKind] ?? [];
    $('flows-sub').textContent =
      state.flowKind === 'sameDay' ? 'devices whose next visit the same day was in another store · last 7 store-days' : 'profiles whose next visit, on a later day, was in another store · last 7 store-days';
    const stores = [...new Set([...(currentTenant()?.stores ?? []), ...rows.flatMap((r) => [r.from, r.to])])];
    const max = Math.max(1, ...rows.map((r) => r[field] ?? 0));
    draw('chart-flows', {
      tooltip: {
        trigger: 'item',
        formatter: (p) => (p.dataType === 'edge' ? `${esc(p.data.source)} → ${esc(p.data.target)}&nbsp;&nbsp;<b>${p.data.suppressed ? `<${state.k}` : nf.format(p.data.value)}</b> ${field}` : `<b>${esc(p.name)}</b>`),
      },
      series: [
        {
          id: 'flows',
          type: 'graph',
          // Fixed positions on a circle: the circular layout bends every edge towards the centre, so A→B
          // and B→A would lie on top of each other; free layout bends each to its own side.
          layout: 'none',
          top: 48,
          bottom: 52,
          left: 80,
          right: 80,
          roam: false,
          edgeSymbol: ['none', 'arrow'],
          edgeSymbolSize: [0, 10],
          symbolSize: 40,
          label: { show: true, position: 'bottom', distance: 6, color: '#0f172a', fontWeight: 600 },
          edgeLabel: { show: true, fontSize: 11, color: '#334155', backgroundColor: 'rgba(255,255,255,0.85)', padding: [1, 4], borderRadius: 4, formatter: (p) => (p.data.suppressed ? `<${state.k}` : nf.format(p.data.value)) },
          emphasis: { focus: 'adjacency', lineStyle: { opacity: 1 } },
          data: stores.map((s, i) => ({ id: s, name: s, ...onCircle(i, stores.length), label: { position: onCircle(i, stores.length).y < 0 ? 'top' : 'bottom' }, itemStyle: { color: storeColor(s), borderColor: '#fff', borderWidth: 3, shadowBlur: 8, shadowColor: 'rgba(15,23,42,0.2)' } })),
          links: rows.map((r) => {
            const v = r[field];
            return {
              source: r.from,
              target: r.to,
              value: v,
              suppressed: v === null,
              // The same curveness bends A→B and B→A to opposite sides, so both directions stay readable.
              lineStyle: { color: storeColor(r.from), curveness: 0.22, width: v === null ? 1.5 : 1.5 + (7 * v) / max, type: v === null ? 'dashed' : 'solid', opacity: 0.75 },
            };
          }),
        },
      ],
    });
    empty('card-flows', !rows.length);
  }

  function drawGraph(g) {
    const ids = g?.identifiers ?? {};
    // A kind with fewer than k identifiers comes hidden (null): drawn as nothing, labelled "<k".
    const data = KINDS.map(([kind, name, color]) => ({ name, value: ids[kind] ?? 0, itemStyle: { color } }));
    const total = data.reduce((a, d) => a + d.value, 0);
    const valueOf = new Map(KINDS.map(([kind, name]) => [name, ids[kind] === null ? `<${state.k}` : nf.format(ids[kind] ?? 0)]));
    draw('chart-graph', {
      tooltip: { trigger: 'item', formatter: (p) => `${marker(p)}${esc(p.name)}&nbsp;&nbsp;<b>${nf.format(p.value)}</b> (${p.percent} %)` },
      legend: { orient: 'vertical', right: 4, top: 'middle', itemWidth: 10, itemHeight: 10, itemGap: 12, textStyle: { color: '#475569' }, formatter: (name) => `${name}  ${valueOf.get(name) ?? '0'}` },
      title: { text: nf.format(total), subtext: 'identifiers', left: '30%', top: 'middle', textAlign: 'center', textStyle: { fontSize: 22, fontWeight: 700, color: '#0f172a' }, subtextStyle: { color: '#94a3b8', fontSize: 11 } },
      series: [{ id: 'identifiers', type: 'pie', radius: ['48%', '72%'], center: ['30%', '50%'], avoidLabelOverlap: true, label: { show: false }, itemStyle: { borderColor: '#fff', borderWidth: 2, borderRadius: 5 }, data }],
    });
    $('graph-profiles').textContent = g ? fmt(g.profiles) : '–';
    $('graph-edges').textContent = g ? nf.format(g.edges) : '–';
    $('graph-quarantined').textContent = g ? nf.format(g.quarantinedDevices) : '–';
    $('graph-quarantined').parentElement.classList.toggle('warn', !!g && g.quarantinedDevices > 0);
    empty('card-graph', !total);
  }

  function drawSizes(g) {
    const sizes = g?.profileSizes ?? [];
    draw('chart-sizes', {
      grid: { left: 40, right: 12, top: 22, bottom: 38 },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, formatter: (params) => `<b>${esc(params[0].axisValue)} identifiers</b><br>${shown(params[0])} profiles` },
      xAxis: { type: 'category', data: sizes.map((s) => String(s.size)), name: 'identifiers', nameLocation: 'middle', nameGap: 24, nameTextStyle: { color: '#94a3b8' }, ...AXIS },
      yAxis: VALUE_AXIS,
      series: [{ id: 'sizes', name: 'Profiles', type: 'bar', barMaxWidth: 42, color: '#8b5cf6', itemStyle: { borderRadius: [4, 4, 0, 0] }, label: { show: true, position: 'top', color: '#475569', formatter: (p) => shown(p) }, data: sizes.map((s) => bar(s.profiles)) }],
    });
    const dl = $('refused');
    dl.replaceChildren(
      ...REFUSED.map(([key, label]) => {
        const div = document.createElement('div');
        const n = g?.refused?.[key] ?? 0;
        if (n > 0) div.className = 'warn';
        const dt = document.createElement('dt');
        dt.textContent = label;
        const dd = document.createElement('dd');
        dd.textContent = g ? nf.format(n) : '–';
        div.append(dt, dd);
        return div;
      }),
    );
    empty('card-sizes', !sizes.length);
  }

  function drawReturning(r) {
    $('returning-sub').textContent = r ? `stitched profiles, ${dayLabel(r.from, { day: 'numeric', month: 'short' })} – ${dayLabel(r.to, { day: 'numeric', month: 'short' })}` : 'stitched profiles in the last 7 store-days';
    const rows = r
      ? [
          ['Seen in period', r.profiles, '#94a3b8'],
          ['Returning (≥ 2 days)', r.returning, '#8b5cf6'],
          ['Multi-store (≥ 2 stores)', r.multiStore, '#14b8a6'],
        ]
      : [];
    draw('chart-returning', {
      grid: { left: 8, right: 40, top: 10, bottom: 8, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, formatter: (params) => `<b>${esc(params[0].axisValue)}</b><br>${shown(params[0])} profiles` },
      xAxis: { ...VALUE_AXIS, show: false },
      yAxis: { type: 'category', inverse: true, data: rows.map((x) => x[0]), ...AXIS, axisLine: { show: false }, axisLabel: { color: '#334155' } },
      series: [
        {
          id: 'returning',
          name: 'Profiles',
          type: 'bar',
          barMaxWidth: 26,
          showBackground: true,
          backgroundStyle: { color: '#f1f5f9', borderRadius: 6 },
          itemStyle: { borderRadius: 6 },
          label: { show: true, position: 'right', color: '#0f172a', fontWeight: 600, formatter: (p) => shown(p) },
          data: rows.map(([, v, color]) => {
            const b = bar(v, 'right');
            return typeof b === 'number' ? { value: b, itemStyle: { color } } : b;
          }),
        },
      ],
    });
    empty('card-returning', !r || r.profiles === 0);
  }

  function drawSegments(s) {
    const card = $('card-segments');
    card.hidden = !s;
    if (!s) return;
    $('segments-sub').textContent = `profiles per segment on ${dayLabel(s.day ?? state.day, { day: 'numeric', month: 'short' })}`;
    const segs = [...s.segments].sort((a, b) => (b.profiles ?? 0) - (a.profiles ?? 0));
    draw('chart-segments', {
      grid: { left: 8, right: 48, top: 10, bottom: 8, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, formatter: (params) => `<b>${esc(params[0].axisValue)}</b><br>${shown(params[0])} profiles` },
      xAxis: { ...VALUE_AXIS },
      yAxis: { type: 'category', inverse: true, data: segs.map((x) => x.name), ...AXIS },
      series: [{ id: 'segments', name: 'Profiles', type: 'bar', barMaxWidth: 22, color: '#0ea5e9', itemStyle: { borderRadius: [0, 4, 4, 0] }, label: { show: true, position: 'right', formatter: (p) => shown(p) }, data: segs.map((x) => bar(x.profiles, 'right')) }],
    });
    charts.get('chart-segments')?.resize(); // it may just have become visible
    empty('card-segments', !segs.length);
  }

  // ---------- agents, key figures, header ----------
  function drawAgents() {
    const tenant = state.tenant;
    const list = state.agents.filter((a) => !tenant || a.tenant === tenant);
    const body = $('agents-table').querySelector('tbody');
    body.replaceChildren(
      ...list.map((a) => {
        const tr = document.createElement('tr');
        const st = a.online ? 'online' : a.state === 'online' ? 'stale' : 'offline';
        tr.dataset.agent = `${a.store}/${a.agent}`;
        tr.dataset.state = st;
        const name = document.createElement('td');
        name.innerHTML = `<span class="agent-name">${esc(a.store)} / ${esc(a.agent)}</span><span class="agent-meta">${esc(a.timezone ?? 'time zone unknown')}</span>`;
        const stateTd = document.createElement('td');
        stateTd.innerHTML = `<span class="pill ${st}" title="${esc(a.state)}">${st}</span>`;
        const buf = document.createElement('td');
        buf.className = 'num buffer';
        buf.innerHTML =
          a.bufferRows === null
            ? '<span class="agent-meta">–</span>'
            : `<span class="${a.bufferRows >= 100 ? 'buffer-high' : ''}">${nf.format(a.bufferRows)}</span>${a.oldestUnsentSeconds ? `<span class="agent-meta">oldest ${esc(duration(a.oldestUnsentSeconds))}</span>` : ''}`;
        const seen = document.createElement('td');
        seen.className = 'num';
        seen.textContent = ago(a.lastSeenMs);
        seen.title = new Date(a.lastSeenMs).toLocaleString();
        tr.append(name, stateTd, buf, seen);
        return tr;
      }),
    );
    empty('card-agents', !list.length);
    const online = list.filter((a) => a.online).length;
    $('kpi-agents').textContent = list.length ? `${online} / ${list.length}` : '–';
    const buffered = list.reduce((n, a) => n + (a.bufferRows ?? 0), 0);
    $('kpi-agents-sub').textContent = list.length ? `${nf.format(buffered)} batches buffered` : 'none reported';
  }

  function drawStats(s) {
    $('ingest-note').textContent = `${nf.format(s.sightings)} sightings · ${nf.format(s.consumerIds)} Consumer-IDs · ${nf.format(s.stores)} stores`;
    $('kpi-batches').textContent = nf.format(s.batches);
    $('kpi-batches-sub').textContent = `${nf.format(s.deadLetters)} dead letters · ${nf.format(s.duplicates)} duplicates`;
  }

  function drawKpis(f, r) {
    const stores = f?.stores ?? [];
    const set = (id, { text, title }) => {
      $(id).textContent = text;
      $(id).title = title;
    };
    set('kpi-people', sumOf(stores.map((s) => s.people.estimated)));
    // The headline is every phone heard; the share known by a stable address says how much of it the
    // visitor, dwell and profile figures (known phones only) stand on. Shown only when nothing is hidden.
    const known = sumOf(stores.map((s) => s.people.known));
    const whole = stores.every((s) => s.people.estimated !== null && s.people.known !== null);
    const heard = stores.reduce((a, s) => a + (s.people.estimated ?? 0), 0);
    const share = whole && heard > 0 ? ` (${Math.round((100 * stores.reduce((a, s) => a + s.people.known, 0)) / heard)} %)` : '';
    // Connected: phones on the store's guest WiFi — known although they randomize (a per-network address).
    const connected = sumOf(stores.map((s) => s.people.connected ?? null));
    const hasConnected = stores.some((s) => s.people.connected !== 0 && s.people.connected !== undefined);
    $('kpi-people-sub').textContent = stores.length ? `${known.text} known${share}${hasConnected ? ` · ${connected.text} on WiFi` : ''}` : 'no data';
    $('kpi-people-sub').title = 'heard, inside and passing; known: phones with a stable address (a Consumer-ID), which visitors, dwell and profiles stand on; on guest WiFi: known phones connected to the store network (randomizing phones, known by their per-network address)';
    set('kpi-visitors', sumOf(stores.map((s) => s.uniqueVisitors)));
    set('kpi-passers', sumOf(stores.map((s) => s.passersBy)));
    $('kpi-visitors-sub').textContent = stores.length ? `${stores.length} store${stores.length > 1 ? 's' : ''} · ${dayLabel(state.day, { day: 'numeric', month: 'short' })}` : 'no visits';
    const cross = sumOf(stores.map((s) => s.crossStore));
    $('kpi-passers-sub').textContent = stores.length ? `${cross.text} seen in 2+ stores` : '';
    const medians = stores.map((s) => s.medianDwellMinutes).filter((m) => m !== null);
    const lo = Math.min(...medians);
    const hi = Math.max(...medians);
    $('kpi-dwell').textContent = !stores.length ? '–' : !medians.length ? `<${state.k}` : lo === hi ? `${lo} min` : `${Math.round(lo)}–${Math.round(hi)} min`;
    $('kpi-returning').textContent = r ? fmt(r.returning) : '–';
    $('kpi-returning-sub').textContent = r ? `of ${fmt(r.profiles)} profiles · ${PERIOD_DAYS} days` : `last ${PERIOD_DAYS} store-days`;
  }

  function currentTenant() {
    return state.tenants.find((t) => t.tenant === state.tenant);
  }

  function drawSelectors() {
    const tSel = $('tenant');
    tSel.replaceChildren(...state.tenants.map((t) => new Option(t.tenant, t.tenant, false, t.tenant === state.tenant)));
    const days = currentTenant()?.days ?? [];
    const dSel = $('day');
    dSel.replaceChildren(...days.map((d) => new Option(dayLabel(d), d, false, d === state.day)));
    $('period').textContent = state.day ? `flows & returning: ${dayLabel(addDays(state.day, 1 - PERIOD_DAYS), { day: 'numeric', month: 'short' })} – ${dayLabel(state.day, { day: 'numeric', month: 'short' })}` : '';
    document.title = state.tenant ? `${state.tenant} · omniloop HQ` : 'omniloop · HQ';
  }

  function setLive(kind, text, title = '') {
    $('live').dataset.state = kind;
    $('updated').textContent = text;
    $('live').title = title;
  }

  /** The selection (never the token) in the fragment, so a view can be bookmarked or shared. */
  function writeFragment() {
    const f = new URLSearchParams();
    if (state.tenant) f.set('tenant', state.tenant);
    if (state.day && !state.followLatest) f.set('day', state.day);
    if (param('poll')) f.set('poll', String(pollMs));
    const hash = f.toString();
    history.replaceState(null, '', location.pathname + location.search + (hash ? `#${hash}` : ''));
  }

  // ---------- data ----------
  /** The tenant list and the chosen store-day's figures (one day of sightings). */
  async function refreshDay() {
    state.tenants = (await api('/v1/tenants')).tenants;
    if (!currentTenant()) state.tenant = state.tenants[0]?.tenant ?? null;
    const days = currentTenant()?.days ?? [];
    const before = `${state.tenant}|${state.day}`;
    if (state.followLatest || !days.includes(state.day)) {
      state.day = days[0] ?? null;
      state.followLatest = true;
    }
    if (`${state.tenant}|${state.day}` !== before) state.periodNow = true;
    drawSelectors();
    writeFragment();
    const footfall = state.tenant && state.day ? await api(`/v1/footfall?tenant=${encodeURIComponent(state.tenant)}&day=${state.day}`) : null;
    if (footfall) {
      state.k = footfall.k ?? state.k;
      $('k-note').textContent = `Counts of fewer than ${state.k} people are suppressed (k-anonymity) and shown as “<${state.k}”.`;
    }
    state.footfall = footfall;
    drawFootfall(footfall);
    drawVisitors(footfall);
    drawDwell(footfall);
    drawKpis(footfall, state.returning);
  }

  /** The seven store-days up to the chosen one, and the identity graph: the expensive queries. */
  async function refreshPeriod() {
    let flows = null;
    let graph = null;
    let returning = null;
    let segments = null;
    if (state.tenant && state.day) {
      const t = encodeURIComponent(state.tenant);
      const from = addDays(state.day, 1 - PERIOD_DAYS);
      [flows, graph, returning, segments] = await Promise.all([
        api(`/v1/flows?tenant=${t}&from=${from}&to=${state.day}`),
        api(`/v1/graph?tenant=${t}`),
        api(`/v1/returning?tenant=${t}&from=${from}&to=${state.day}`),
        state.segments === 'absent' ? null : api(`/v1/segments?tenant=${t}&day=${state.day}`, { allow404: true }),
      ]);
      if (state.segments === 'unknown') state.segments = segments ? 'present' : 'absent';
    }
    state.flows = flows;
    state.returning = returning;
    drawFlows(flows);
    drawGraph(graph);
    drawSizes(graph);
    drawReturning(returning);
    drawSegments(segments);
    drawKpis(state.footfall, returning);
  }

  /*
   * Every tick asks for stats and agents only. New data (the stats changed) marks the day's and the
   * period's figures pending; they are fetched at most every DAY_EVERY / PERIOD_EVERY ticks, so a
   * steady stream of batches does not turn every tick into a week of queries. A new selection fetches
   * at once.
   */
  const DAY_EVERY = 3;
  const PERIOD_EVERY = 6;

  let timer = null;
  let running = false;
  let rerun = false;
  async function poll() {
    if (running) {
      rerun = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    try {
      if (!state.token) return showLogin();
      const [stats, agents] = await Promise.all([api('/v1/stats'), api('/v1/agents')]);
      state.agents = agents.agents;
      drawStats(stats);
      const key = JSON.stringify(stats);
      if (key !== state.statsKey || state.tick % FULL_REFRESH_TICKS === 0) {
        state.statsKey = key;
        state.pendingDay = state.pendingPeriod = true;
      }
      const now = state.dirty;
      state.dirty = false;
      if (now || (state.pendingDay && state.tick - state.dayTick >= DAY_EVERY)) {
        state.pendingDay = false;
        state.dayTick = state.tick;
        await refreshDay();
      }
      if (now || state.periodNow || (state.pendingPeriod && state.tick - state.periodTick >= PERIOD_EVERY)) {
        state.pendingPeriod = state.periodNow = false;
        state.periodTick = state.tick;
        await refreshPeriod();
      }
      drawAgents(); // after refreshDay: it may have picked the tenant
      state.tick++;
      setLive('live', `Live · ${new Date().toLocaleTimeString()}`);
      document.body.dataset.loaded = 'true';
    } catch (err) {
      if (err instanceof AuthError) {
        state.authFailed = true;
        setLive('auth', 'signed out');
        return showLogin('That token was refused. Paste a valid one.');
      }
      state.dirty = true; // whatever failed is fetched again next time
      setLive('error', 'reconnecting…', String(err?.message ?? err));
    } finally {
      running = false;
      if (rerun) {
        rerun = false;
        queueMicrotask(poll);
      } else if (state.token && !state.authFailed) {
        // A hidden tab keeps polling, only slower.
        timer = setTimeout(poll, document.hidden ? pollMs * 6 : pollMs);
      }
    }
  }

  // ---------- sign-in ----------
  function showLogin(message) {
    clearTimeout(timer);
    const err = $('login-error');
    err.textContent = message ?? '';
    err.hidden = !message;
    const dlg = $('login');
    if (!dlg.open) dlg.showModal();
    $('login-token').focus();
  }
  $('login').addEventListener('cancel', (e) => e.preventDefault()); // nothing to show without a token
  $('login-form').addEventListener('submit', () => {
    const token = $('login-token').value.trim();
    $('login-token').value = '';
    sessionStorage.setItem(TOKEN_KEY, token);
    state.token = token;
    state.authFailed = false;
    state.dirty = true;
    setLive('connecting', 'connecting…');
    poll();
  });
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    clearTimeout(timer);
    setLive('auth', 'signed out');
    showLogin();
  });

  // ---------- selection ----------
  $('tenant').addEventListener('change', (e) => {
    state.tenant = e.target.value;
    state.followLatest = true;
    state.dirty = true;
    writeFragment();
    poll();
  });
  $('day').addEventListener('change', (e) => {
    state.day = e.target.value;
    state.followLatest = state.day === currentTenant()?.days[0];
    state.dirty = true;
    writeFragment();
    poll();
  });
  for (const b of document.querySelectorAll('[data-flow]')) {
    b.addEventListener('click', () => {
      state.flowKind = b.dataset.flow;
      for (const o of document.querySelectorAll('[data-flow]')) o.setAttribute('aria-selected', String(o === b));
      drawFlows(state.flows);
    });
  }
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.token && !state.authFailed) poll();
  });

  poll();
})();
