// Orrery's run page: reads the JSON block, draws the visible part of the run
// as SVG, redraws on zoom, pan and filter. Only what is in view is drawn, and
// never more than the caps below, so a long run opens as fast as a short one.
// Every string from the run goes into the page as textContent, never as markup.
(function () {
  'use strict';
  var MSG_CAP = 3000;
  var TIMER_CAP = 3000;
  var OP_CAP = 2000;
  var LABEL_W = 64, RIGHT_PAD = 14, AXIS_H = 40;
  var SERVER_H = 46, CLIENT_H = 40;
  var NS = 'http://www.w3.org/2000/svg';

  var parseStarted = performance.now();
  var data = JSON.parse(document.getElementById('orrery-data').textContent);
  var parseMs = performance.now() - parseStarted;
  var run = data.run, metrics = data.metrics;
  var $ = function (id) { return document.getElementById(id); };
  var status = $('status');
  var svg = $('diagram');

  // ---- indexes over the run ------------------------------------------------
  var laneOf = {};
  var lanes = [];
  var y = AXIS_H;
  run.nodes.forEach(function (n, i) {
    var h = n.role === 'server' ? SERVER_H : CLIENT_H;
    var lane = { node: n, index: i, top: y, h: h };
    lane.msgY = n.role === 'server' ? y + h / 2 : y + 11;
    lanes.push(lane);
    laneOf[n.id] = lane;
    y += h;
  });
  var lanesBottom = y;
  var serverLanes = lanes.filter(function (l) { return l.node.role === 'server'; });
  var serversTop = serverLanes.length ? serverLanes[0].top : AXIS_H;
  var serversBottom = serverLanes.length ? serverLanes[serverLanes.length - 1].top + serverLanes[serverLanes.length - 1].h : AXIS_H;
  var HEIGHT = lanesBottom + 8;
  var END = Math.max(run.end, 1);
  var msgs = run.messages;
  var msgEnd = msgs.map(function (m) {
    var e = m.sent;
    m.arrivals.forEach(function (a) { if (a.t > e) e = a.t; });
    return e;
  });
  var ops = run.operations;
  var opEnd = ops.map(function (o) { return o.completed === null ? END : o.completed; });
  var marks = {}; // op index -> {role, order}
  run.failures.forEach(function (f) {
    f.prefix.forEach(function (i, k) { marks[i] = { role: 'prefix', order: k + 1 }; });
    f.pending.forEach(function (i) { marks[i] = { role: 'pending' }; });
    if (f.blocked !== null) marks[f.blocked] = { role: 'blocked' };
  });

  // ---- the view ------------------------------------------------------------
  var view = { t0: 0, t1: END * 1.02 };
  var filter = { node: '', key: '' };
  var pinned = null;
  var width = 0;

  function plotW() { return width - LABEL_W - RIGHT_PAD; }
  function x(t) { return LABEL_W + (t - view.t0) / (view.t1 - view.t0) * plotW(); }
  function tAt(px) { return view.t0 + (px - LABEL_W) / plotW() * (view.t1 - view.t0); }

  function el(name, attrs, parent, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function fmtT(ns) {
    var a = Math.abs(ns);
    if (a === 0) return '0';
    if (a < 1e3) return ns.toFixed(0) + 'ns';
    if (a < 1e6) return trim(ns / 1e3) + 'µs';
    if (a < 1e9) return trim(ns / 1e6) + 'ms';
    return trim(ns / 1e9) + 's';
  }
  function trim(v) { return String(+v.toFixed(3)); }
  function fmtShort(ns) { return ns >= 1e9 ? +(ns / 1e9).toPrecision(3) + 's' : ns >= 1e6 ? +(ns / 1e6).toPrecision(3) + 'ms' : +(ns / 1e3).toPrecision(3) + 'µs'; }
  function val(v) { return v === null || v === undefined ? 'nil' : JSON.stringify(v); }
  function nodeName(id) { return 'n' + id; }

  // ---- what passes the filters -------------------------------------------
  var keyCache = {};
  function msgPasses(i) {
    var m = msgs[i];
    if (filter.node !== '' && String(m.from) !== filter.node && String(m.to) !== filter.node) return false;
    if (filter.key !== '') {
      if (keyCache[i] === undefined) keyCache[i] = JSON.stringify(m.body);
      if (keyCache[i].indexOf('"key":' + filter.key) < 0) return false;
    }
    return true;
  }
  function opPasses(i) {
    var o = ops[i];
    if (filter.node !== '' && String(o.node) !== filter.node) return false;
    if (filter.key !== '' && o.key_text !== filter.key) return false;
    return true;
  }

  // Indexes of items overlapping [t0, t1] that pass the filters, at most
  // `cap`: when there are more, every k-th, so the density still shows.
  function visible(count, starts, ends, passes, cap) {
    var found = [];
    for (var i = 0; i < count; i++) {
      var s = starts(i);
      if (s > view.t1) break;
      if (ends[i] >= view.t0 && passes(i)) found.push(i);
    }
    var total = found.length, every = Math.ceil(total / cap);
    if (every > 1) found = found.filter(function (_, k) { return k % every === 0; });
    return { items: found, total: total, every: every };
  }

  // ---- drawing ---------------------------------------------------------------
  function draw() {
    var started = performance.now();
    width = Math.max(900, $('diagram-box').clientWidth);
    svg.setAttribute('width', width);
    svg.setAttribute('height', HEIGHT);
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + HEIGHT);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    defs();
    var frag = document.createDocumentFragment();
    var plot = el('g', { 'clip-path': 'url(#plot-clip)' });
    drawLanes(frag);
    drawAxis(frag);
    var counts = {};
    counts.partitions = drawPartitions(plot);
    counts.bands = drawBands(plot);
    var o = visible(ops.length, opStartFn, opEnd, opPasses, OP_CAP);
    drawOps(plot, o.items);
    var tm = visible(timers.length, timerAt, timerAtArr, timerPasses, TIMER_CAP);
    drawTimers(plot, tm.items);
    var m = visible(msgs.length, msgStartFn, msgEnd, msgPasses, MSG_CAP);
    drawMessages(plot, m.items);
    counts.faults = drawFaults(plot);
    counts.failures = drawFailures(plot);
    frag.appendChild(plot);
    svg.appendChild(frag);
    notice(m, o, tm);
    $('range').textContent = 'view ' + fmtT(Math.max(0, view.t0)) + ' – ' + fmtT(view.t1) + ' of ' + fmtT(run.end) +
      ' · drawn: ' + m.items.length + ' messages, ' + o.items.length + ' operations';
    drawMetrics();
    setStatus({
      messages: m.items.length, operations: o.items.length, faults: counts.faults, timers: tm.items.length,
      partitions: counts.partitions, bands: counts.bands, failures: counts.failures,
      'messages-in-view': m.total, 'operations-in-view': o.total,
      capped: m.every > 1 || o.every > 1 || tm.every > 1 ? 'true' : 'false',
      'view-t0': Math.round(view.t0), 'view-t1': Math.round(view.t1),
      'draw-ms': (performance.now() - started).toFixed(1)
    });
  }
  function msgStartFn(i) { return msgs[i].sent; }
  var timers = run.timers;
  var timerAtArr = timers.map(function (tf) { return tf.t; });
  function timerAt(i) { return timers[i].t; }
  function timerPasses(i) { return filter.node === '' || String(timers[i].node) === filter.node; }
  function drawTimers(parent, items) {
    var g = el('g', { 'class': 'timers' }, parent);
    items.forEach(function (i) {
      var tf = timers[i], l = laneOf[tf.node];
      if (!l) return;
      var px = x(tf.t), yb = l.node.role === 'server' ? l.top + l.h - 3 : l.top + 16;
      el('line', { 'class': 'timer', x1: px, x2: px, y1: yb - 6, y2: yb, 'data-ref': 't:' + i, 'data-kind': 'timer' }, g);
    });
  }
  function opStartFn(i) { return ops[i].invoked; }

  function setStatus(values) {
    for (var k in values) status.setAttribute('data-' + k, String(values[k]));
  }

  function defs() {
    var d = el('defs', {}, svg);
    var clip = el('clipPath', { id: 'plot-clip' }, d);
    el('rect', { x: LABEL_W, y: 0, width: plotW(), height: HEIGHT }, clip);
    [['arrow', '#546e7a'], ['arrow-dup', '#6a1b9a'], ['arrow-hot', '#000']].forEach(function (a) {
      var mk = el('marker', { id: a[0], viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, d);
      el('path', { d: 'M0,0 L8,4 L0,8 z', fill: a[1] }, mk);
    });
  }

  function drawLanes(parent) {
    var g = el('g', { 'class': 'lanes' }, parent);
    lanes.forEach(function (l) {
      if (l.index > 0 && l.node.role === 'client' && lanes[l.index - 1].node.role === 'server') {
        el('line', { x1: 0, x2: width, y1: l.top, y2: l.top, stroke: '#90a4ae', 'stroke-width': 1.5 }, g);
      }
      el('line', { 'class': 'lane-line', x1: LABEL_W, x2: width - RIGHT_PAD, y1: l.msgY, y2: l.msgY }, g);
      var label = el('text', { 'class': 'lane-label ' + l.node.role, x: 6, y: l.top + l.h / 2 + 4, 'data-node': l.node.id },
        g, l.node.name + (l.node.role === 'client' ? ' (c)' : ''));
      if (filter.node === String(l.node.id)) label.setAttribute('text-decoration', 'underline');
    });
  }

  function drawAxis(parent) {
    var g = el('g', { 'class': 'axis' }, parent);
    var span = view.t1 - view.t0, step = niceStep(span / 10);
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      var px = x(t);
      el('line', { x1: px, x2: px, y1: AXIS_H - 6, y2: lanesBottom }, g);
      el('text', { x: px + 2, y: AXIS_H - 8 }, g, fmtT(t));
    }
  }
  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= raw) return steps[i] * p;
    return 10 * p;
  }

  function inView(from, to) { return to >= view.t0 && from <= view.t1; }

  function drawPartitions(parent) {
    var n = 0, g = el('g', { 'class': 'partitions' }, parent);
    run.partitions.forEach(function (p, i) {
      if (!inView(p.from, p.to)) return;
      n++;
      var x0 = x(p.from), x1 = x(p.to);
      var pg = el('g', { 'class': 'partition', 'data-ref': 'p:' + i }, g);
      el('rect', { 'class': 'cut', x: x0, y: serversTop, width: Math.max(1, x1 - x0), height: serversBottom - serversTop }, pg);
      el('line', { 'class': 'cut-edge', x1: x0, x2: x0, y1: serversTop, y2: serversBottom }, pg);
      var lx = Math.max(x0, LABEL_W) + 3;
      el('text', { 'class': 'cut-label', x: lx, y: serversTop + 11 + 12 * (i % 2) }, pg, 'cut ' + p.text);
    });
    return n;
  }

  function drawBands(parent) {
    var n = 0, g = el('g', { 'class': 'bands' }, parent);
    run.bands.forEach(function (b, i) {
      var l = laneOf[b.node];
      if (!l || !inView(b.from, b.to)) return;
      n++;
      var x0 = x(b.from), x1 = x(b.to);
      var bg = el('g', { 'data-ref': 'b:' + i }, g);
      el('rect', { 'class': 'band ' + b.state, x: x0, y: l.top + 3, width: Math.max(1, x1 - x0), height: l.h - 6 }, bg);
      if (x1 - x0 > 50) el('text', { 'class': 'band-label ' + b.state, x: Math.max(x0, LABEL_W) + 4, y: l.top + l.h - 7 }, bg, b.label);
    });
    return n;
  }

  function drawOps(parent, items) {
    var g = el('g', { 'class': 'ops' }, parent);
    items.forEach(function (i) {
      var o = ops[i], l = laneOf[o.node];
      if (!l) return;
      var x0 = x(o.invoked), x1 = x(opEnd[i]);
      var w = Math.max(2, x1 - x0);
      var mark = marks[i];
      var cls = 'op ' + o.kind + (mark ? ' ' + mark.role : '') + (pinned === 'o:' + i ? ' pinned' : '');
      var og = el('g', { 'class': cls, 'data-ref': 'o:' + i, 'data-kind': 'op' }, g);
      el('rect', { x: x0, y: l.top + 18, width: w, height: 18, rx: 2 }, og);
      var label = opLabel(o);
      if (mark && mark.role === 'prefix' && w > 16) el('text', { 'class': 'order', x: x0 + 1, y: l.top + 16 }, og, '#' + mark.order);
      if (mark && mark.role === 'blocked') el('text', { 'class': 'blocked-label', x: x0 + 1, y: l.top + 16 }, og, '✗ blocked');
      if (w > 22) {
        var chars = Math.floor((w - 4) / 6.2);
        el('text', { x: x0 + 3, y: l.top + 31 }, og, label.length > chars ? label.slice(0, Math.max(1, chars - 1)) + '…' : label);
      }
    });
  }
  function opLabel(o) {
    var s = o.f;
    if (o.key_text !== null && run.operations.length && hasManyKeys) s += '[' + o.key_text + ']';
    if (o.argument !== null) s += ' ' + val(o.argument);
    if (o.kind === 'ok') s += (o.f === 'read' || (o.result !== null && o.f !== 'write') ? ' → ' + val(o.result) : ' ✓');
    else if (o.kind === 'fail') s += ' ✗ fail';
    else s += ' ? ' + (o.completed === null ? 'pending' : 'timeout');
    return s;
  }
  var hasManyKeys = (function () {
    var seen = {};
    ops.forEach(function (o) { if (o.key_text !== null) seen[o.key_text] = 1; });
    return Object.keys(seen).length > 1;
  })();

  // The message's kind, for a label: an enum variant's name, as serde writes it.
  function msgKind(body) {
    if (typeof body === 'string') return body;
    if (body && typeof body === 'object' && !Array.isArray(body)) { var k = Object.keys(body); if (k.length === 1) return k[0]; }
    return '';
  }
  var LABELS_MAX = 60;
  function drawMessages(parent, items) {
    var g = el('g', { 'class': 'msgs' }, parent);
    var labelled = items.length <= LABELS_MAX;
    items.forEach(function (i) {
      var m = msgs[i], from = laneOf[m.from], to = laneOf[m.to];
      if (!from || !to) return;
      var hot = pinned === 'm:' + i;
      var mg = el('g', { 'class': 'msg' + (hot ? ' pinned' : ''), 'data-ref': 'm:' + i, 'data-kind': 'msg' }, g);
      var xs = x(m.sent), ys = from.msgY, yt = to.msgY;
      if (m.arrivals.length === 0) {
        el('line', { 'class': 'inflight', x1: xs, y1: ys, x2: xs + 24, y2: ys + (yt - ys) * 0.6, 'marker-end': 'url(#arrow)' }, mg);
        el('line', { 'class': 'msg-hit', x1: xs, y1: ys, x2: xs + 24, y2: ys + (yt - ys) * 0.6 }, mg);
        if (labelled) el('text', { 'class': 'msg-label', x: xs + 26, y: ys + (yt - ys) * 0.6 }, mg, msgKind(m.body) + ' (in flight)');
      }
      m.arrivals.forEach(function (a, k) {
        var xa = x(a.t);
        if (a.dropped !== null) {
          var xe = a.t === m.sent ? xs + 12 : xa, ye = a.t === m.sent ? ys + (yt - ys) * 0.45 : yt;
          el('line', { 'class': 'dropped', x1: xs, y1: ys, x2: xe, y2: ye }, mg);
          el('path', { 'class': 'x', d: 'M' + (xe - 4) + ',' + (ye - 4) + 'l8,8m0,-8l-8,8' }, mg);
          return;
        }
        var dup = k > 0 && m.duplicated;
        var arrow = hot ? 'url(#arrow-hot)' : dup ? 'url(#arrow-dup)' : 'url(#arrow)';
        el('line', { 'class': dup ? 'dup' : '', x1: xs, y1: ys, x2: xa, y2: yt, 'marker-end': arrow }, mg);
        el('line', { 'class': 'msg-hit', x1: xs, y1: ys, x2: xa, y2: yt }, mg);
        if (labelled && k === 0 && Math.abs(xa - xs) + Math.abs(yt - ys) > 60) {
          el('text', { 'class': 'msg-label', x: xs + (xa - xs) * 0.3 + 3, y: ys + (yt - ys) * 0.3 }, mg, msgKind(m.body));
        }
      });
    });
  }

  var GLYPH = { crash: '✕ crash', restart: '▲ restart', pause: '❚❚ pause', resume: '▶ resume', slow: 'slow',
    'clock-jump': 'clock', 'storage-loss': 'lost writes', partition: 'cut', heal: 'heal' };
  function drawFaults(parent) {
    var n = 0, g = el('g', { 'class': 'faults' }, parent);
    run.faults.forEach(function (f, i) {
      if (f.t < view.t0 || f.t > view.t1) return;
      if (filter.node !== '' && f.node !== null && String(f.node) !== filter.node) return;
      n++;
      var px = x(f.t);
      var fg = el('g', { 'class': 'fault ' + f.kind, 'data-ref': 'f:' + i, 'data-kind': 'fault' }, g);
      var l = f.node !== null ? laneOf[f.node] : null;
      var y0 = l ? l.top + 2 : serversTop, y1 = l ? l.top + l.h - 2 : serversBottom;
      el('line', { x1: px, x2: px, y1: y0, y2: y1 }, fg);
      el('line', { 'class': 'msg-hit', x1: px, x2: px, y1: y0, y2: y1 }, fg);
      var ty = !l ? serversBottom - 4 : f.kind === 'storage-loss' ? l.top + 25 : l.top + 12;
      // A cut's shading already names it, and its right edge is the heal.
      if (l) el('text', { x: px + 3, y: ty }, fg, GLYPH[f.kind] || f.kind);
    });
    return n;
  }

  function failureAt(f) {
    if (f.at !== null) return f.at;
    return f.blocked !== null && ops[f.blocked] ? opEnd[f.blocked] : null;
  }
  function drawFailures(parent) {
    var n = 0, g = el('g', { 'class': 'failures' }, parent);
    run.failures.forEach(function (f, i) {
      var t = failureAt(f);
      if (t === null || t < view.t0 || t > view.t1) return;
      n++;
      var px = x(t);
      var fg = el('g', { 'class': 'failure', id: 'failure-' + i, 'data-ref': 'x:' + i, 'data-kind': 'failure' }, g);
      el('line', { x1: px, x2: px, y1: 4, y2: lanesBottom }, fg);
      var label = el('text', { x: px - 4, y: 13, 'text-anchor': 'end' }, fg, '✗ ' + f.check + ' at ' + fmtT(t));
      if (px - LABEL_W < 260) { label.setAttribute('text-anchor', 'start'); label.setAttribute('x', px + 4); }
      var l = f.node !== null ? laneOf[f.node] : null;
      if (l) el('circle', { cx: px, cy: l.msgY, r: 9 }, fg);
    });
    return n;
  }

  function ordinal(n) { return n + (n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : n % 10 === 1 && n % 100 !== 11 ? 'st' : 'th'); }
  function notice(m, o, tm) {
    var box = $('notice'), parts = [];
    if (opening) parts.push(opening);
    if (m.every > 1) parts.push(m.total + ' messages are in view, more than ' + MSG_CAP + ': drawing every ' + ordinal(m.every) + ' (' + m.items.length + '). Zoom in to see every one.');
    if (o.every > 1) parts.push(o.total + ' operations are in view, more than ' + OP_CAP + ': drawing every ' + ordinal(o.every) + ' (' + o.items.length + '). Zoom in to see every one.');
    if (tm.every > 1) parts.push('Timer ticks: every ' + ordinal(tm.every) + ' of ' + tm.total + '.');
    box.textContent = parts.join(' ');
    box.hidden = parts.length === 0;
  }

  // ---- metrics -------------------------------------------------------------
  function drawMetrics() {
    var ms = $('metrics'), W = width, rowH = 62, rows = 3, H = rows * (rowH + 14) + 6;
    ms.setAttribute('width', W); ms.setAttribute('height', H); ms.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    while (ms.firstChild) ms.removeChild(ms.firstChild);
    var clip = el('clipPath', { id: 'metrics-clip' }, el('defs', {}, ms));
    el('rect', { x: LABEL_W, y: 0, width: plotW(), height: H }, clip);
    var win = metrics.window;
    $('window-size').textContent = 'per ' + fmtT(win) + ' window; red shading: partitions, grey: a server down';
    var shown = metrics.windows.filter(function (w) { return w.start + win >= view.t0 && w.start <= view.t1; });
    var titles = ['completed ops/s (ok, fail, info)', 'latency of ok ops (p50 blue, p99 red)', 'success rate (ok / completed)'];
    for (var r = 0; r < rows; r++) {
      var top = 14 + r * (rowH + 14), row = el('g', {}, ms);
      el('text', { 'class': 'chart-title', x: LABEL_W, y: top - 3 }, row, titles[r]);
      var g = el('g', { 'clip-path': 'url(#metrics-clip)' }, row);
      run.partitions.forEach(function (p) { shade(g, p.from, p.to, top, rowH, 'chart-shade'); });
      run.bands.forEach(function (b) { if (b.state === 'crashed') shade(g, b.from, b.to, top, rowH, 'chart-shade crashed'); });
      el('line', { x1: LABEL_W, x2: W - RIGHT_PAD, y1: top + rowH, y2: top + rowH, stroke: '#bbb' }, g);
      [throughput, latency, success][r](g, shown, top, rowH, win);
      if (!shown.some(function (w) { return w.ok + w.fail + w.info > 0; })) {
        el('text', { x: LABEL_W + 8, y: top + rowH / 2, fill: '#888' }, row, 'no operation completed in this part of the run');
      }
    }
  }
  function shade(g, from, to, top, h, cls) {
    if (!inView(from, to)) return;
    var x0 = Math.max(LABEL_W, x(from)), x1 = Math.min(width - RIGHT_PAD, x(to));
    el('rect', { 'class': cls, x: x0, y: top, width: Math.max(1, x1 - x0), height: h }, g);
  }
  function axisLabel(g, top, h, text) { el('text', { x: LABEL_W - 4, y: top + 9, 'text-anchor': 'end', fill: '#666' }, g.parentNode, text); }
  function throughput(g, shown, top, h, win) {
    var max = 1;
    shown.forEach(function (w) { max = Math.max(max, w.ok + w.fail + w.info); });
    axisLabel(g, top, h, trim(max / (win / 1e9)));
    shown.forEach(function (w) {
      var x0 = Math.max(LABEL_W, x(w.start)), x1 = Math.min(width - RIGHT_PAD, x(w.start + win)), bw = Math.max(1, x1 - x0 - 1), base = top + h;
      [['ok', 'bar-ok'], ['fail', 'bar-fail'], ['info', 'bar-info']].forEach(function (k) {
        var bh = w[k[0]] / max * h;
        if (bh > 0) { el('rect', { 'class': k[1], x: x0, y: base - bh, width: bw, height: bh }, g); base -= bh; }
      });
    });
  }
  function latency(g, shown, top, h, win) {
    var max = 0;
    shown.forEach(function (w) { if (w.p99 !== null) max = Math.max(max, w.p99); });
    if (max === 0) return;
    axisLabel(g, top, h, fmtShort(max));
    ['p50', 'p99'].forEach(function (k) {
      steps(g, 'line-' + k, shown, win, function (w) { return w[k] === null ? null : top + h - w[k] / max * h; });
    });
  }
  // One level per window, joined only between neighbouring windows that both
  // have a value: a gap (no completed operation) stays a gap.
  function steps(g, cls, shown, win, level) {
    var d = '', last = null;
    shown.forEach(function (w) {
      var yv = level(w);
      if (yv === null) { last = null; return; }
      var x0 = x(w.start).toFixed(1), x1 = x(w.start + win).toFixed(1), yy = yv.toFixed(1);
      d += (last === w.start ? 'L' : 'M') + x0 + ',' + yy + 'L' + x1 + ',' + yy;
      last = w.start + win;
    });
    if (d) el('path', { 'class': cls, d: d }, g);
  }
  function success(g, shown, top, h, win) {
    axisLabel(g, top, h, '100%');
    steps(g, 'line-rate', shown, win, function (w) {
      var n = w.ok + w.fail + w.info;
      return n === 0 ? null : top + h - w.ok / n * h;
    });
  }

  function drawLoad() {
    var ls = $('load'), rowH = 16, W = 350, H = metrics.load.length * rowH + 24;
    ls.setAttribute('height', H); ls.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    var max = 1;
    metrics.load.forEach(function (l) { max = Math.max(max, l.sent, l.received + l.dropped); });
    var barW = W - 175;
    metrics.load.forEach(function (l, i) {
      var top = i * rowH + 4, g = el('g', {}, ls);
      el('text', { x: 0, y: top + 10 }, g, nodeName(l.node));
      el('rect', { 'class': 'load-sent', x: 30, y: top, width: l.sent / max * barW, height: 6 }, g);
      el('rect', { 'class': 'load-received', x: 30, y: top + 6, width: l.received / max * barW, height: 6 }, g);
      el('rect', { 'class': 'load-dropped', x: 30 + l.received / max * barW, y: top + 6, width: l.dropped / max * barW, height: 6 }, g);
      el('text', { x: W - 140, y: top + 10, fill: '#555' }, g, l.sent + ' out · ' + l.received + ' in' + (l.dropped ? ' · ' + l.dropped + ' lost' : ''));
    });
    el('text', { x: 0, y: H - 4, fill: '#666' }, ls, 'light: sent · dark: received · red: dropped on the way in');
  }

  // ---- header, verdict, details -------------------------------------------
  function header() {
    $('title').textContent = run.title || 'Orrery run';
    var meta = [];
    if (run.seed !== null) meta.push('seed ' + run.seed);
    meta.push(fmtT(run.end) + ' virtual', run.events + ' events', msgs.length + ' messages', ops.length + ' operations',
      run.faults.length + ' faults', run.timers.length + ' timer firings');
    run.metadata.forEach(function (kv) { meta.push(kv[0] + ' ' + kv[1]); });
    $('meta').textContent = meta.join(' · ');
    var v = $('verdict');
    if (run.failures.length === 0) {
      v.className = 'pass';
      v.textContent = 'No failure marked: the run ended normally and no failed check was given to this page.';
      $('jump').disabled = true;
    } else {
      v.className = 'fail';
      run.failures.forEach(function (f, i) {
        var line = document.createElement('div');
        var b = document.createElement('span');
        b.textContent = '✗ ' + f.check;
        var d = document.createElement('span');
        d.className = 'detail';
        var t = failureAt(f);
        d.textContent = ' — ' + f.detail + (t !== null ? ' (at ' + fmtT(t) + (f.node !== null ? ', ' + nodeName(f.node) : '') + ')' : '');
        line.appendChild(b); line.appendChild(d);
        v.appendChild(line);
        failureDetail(f, i);
      });
    }
    var nodeSel = $('node-filter');
    run.nodes.forEach(function (n) { option(nodeSel, String(n.id), n.name + (n.role === 'client' ? ' (client)' : '')); });
    var keys = {};
    ops.forEach(function (o) { if (o.key_text !== null) keys[o.key_text] = 1; });
    Object.keys(keys).sort().forEach(function (k) { option($('key-filter'), k, k); });
    legend();
  }
  function option(sel, value, text) {
    var o = document.createElement('option'); o.value = value; o.textContent = text; sel.appendChild(o);
  }
  function legend() {
    var items = [['#546e7a', 'message delivered'], ['#d32f2f', 'dropped (✕ where)'], ['#6a1b9a', 'duplicate copy'],
      ['#a5d6a7', 'op ok'], ['#ef9a9a', 'op fail'], ['#ffe0b2', 'op info (unknown)'], ['rgba(229,57,53,0.25)', 'partition'],
      ['#37474f', 'crashed'], ['#ffb300', 'paused'], ['#ce93d8', 'slow'], ['#80deea', 'clock offset'], ['#1565c0', 'linearizable prefix (#order)'], ['#78909c', 'timer fired (tick)'], ['#90a4ae', 'in flight at the end (dashed)']];
    var box = $('legend');
    items.forEach(function (it) {
      var s = document.createElement('span'), i = document.createElement('i');
      i.style.background = it[0];
      s.appendChild(i); s.appendChild(document.createTextNode(it[1]));
      box.appendChild(s);
    });
  }
  function failureDetail(f, i) {
    var box = $('failure-detail');
    var h = document.createElement('div');
    h.textContent = '✗ ' + f.check + (f.key !== null ? ' (key ' + f.key + ')' : '');
    h.className = 'blocked';
    box.appendChild(h);
    if (f.blocked === null) return;
    addOpLine(box, 'blocked: ', f.blocked, 'blocked');
    f.pending.forEach(function (p) { addOpLine(box, 'pending: ', p, ''); });
    var p = document.createElement('div');
    p.textContent = 'longest linearizable prefix: ' + f.prefix.length + ' operations' + (f.prefix.length > 12 ? ' (the last 12)' : '') +
      '; state after it: ' + f.state;
    box.appendChild(p);
    var ol = document.createElement('ol');
    var from = Math.max(0, f.prefix.length - 12);
    ol.start = from + 1;
    f.prefix.slice(from).forEach(function (idx) {
      var li = document.createElement('li');
      li.textContent = opText(ops[idx]);
      li.addEventListener('click', function () { focusOp(idx); });
      ol.appendChild(li);
    });
    box.appendChild(ol);
  }
  function addOpLine(box, prefix, idx, cls) {
    var d = document.createElement('div');
    d.className = cls;
    d.textContent = prefix + opText(ops[idx]);
    d.style.cursor = 'pointer';
    d.addEventListener('click', function () { focusOp(idx); });
    box.appendChild(d);
  }
  function opText(o) {
    if (!o) return '(operation not in this run)';
    return nodeName(o.node) + ' p' + o.process + ' ' + opLabel(o) + '  [' + fmtT(o.invoked) + ' – ' +
      (o.completed === null ? 'never completed' : fmtT(o.completed)) + ']';
  }
  function focusOp(idx) {
    var o = ops[idx], e = opEnd[idx], pad = Math.max((e - o.invoked) * 2, (view.t1 - view.t0) * 0.02);
    setView(o.invoked - pad, e + pad);
    pin('o:' + idx);
  }

  function describe(ref) {
    var kind = ref[0], i = +ref.slice(2);
    if (kind === 'm') {
      var m = msgs[i], fates = m.arrivals.map(function (a) {
        return (a.dropped !== null ? 'dropped (' + a.dropped + ')' : 'delivered') + ' at ' + fmtT(a.t) +
          (a.dropped === null ? ' after ' + fmtT(a.t - m.sent) : '');
      });
      return { head: 'message ' + m.mid + ': ' + nodeName(m.from) + ' → ' + nodeName(m.to) + ', sent ' + fmtT(m.sent) +
        '\n' + (fates.length ? fates.join('\n') : 'still in flight at the end') + (m.duplicated ? '\nduplicated by the network' : ''),
        body: m.body };
    }
    if (kind === 'o') {
      var o = ops[i], mk = marks[i];
      return { head: 'operation ' + o.index + ': ' + opText(o) + (mk ? '\n' + mk.role + (mk.order ? ' #' + mk.order : '') : ''),
        body: { f: o.f, key: o.key, argument: o.argument, type: o.kind, result: o.result, process: o.process } };
    }
    if (kind === 't') { var tf = timers[i]; return { head: 'timer fired at ' + nodeName(tf.node) + ', ' + fmtT(tf.t), body: tf.body }; }
    if (kind === 'f') { var f = run.faults[i]; return { head: fmtT(f.t) + ': ' + f.text, body: f.body }; }
    if (kind === 'p') { var p = run.partitions[i]; return { head: 'partition ' + p.text + ' from ' + fmtT(p.from) + ' to ' + fmtT(p.to), body: p.groups }; }
    if (kind === 'b') { var b = run.bands[i]; return { head: b.label + ' from ' + fmtT(b.from) + ' to ' + fmtT(b.to), body: b }; }
    var x0 = run.failures[i]; return { head: x0.check + ': ' + x0.detail, body: x0 };
  }
  function pin(ref) {
    pinned = ref;
    var d = describe(ref);
    $('detail').textContent = d.head + '\n\n' + JSON.stringify(d.body, null, 2);
    schedule();
  }

  // ---- interaction -----------------------------------------------------------
  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }
  function setView(t0, t1) {
    var span = Math.max(t1 - t0, 1000);
    var maxSpan = END * 1.1;
    if (span > maxSpan) { span = maxSpan; t0 = -END * 0.04; }
    t0 = Math.max(-END * 0.05, Math.min(t0, END * 1.05 - span));
    view.t0 = t0; view.t1 = t0 + span;
    schedule();
  }
  function zoom(factor, at) {
    var c = at === undefined ? (view.t0 + view.t1) / 2 : at;
    setView(c - (c - view.t0) * factor, c + (view.t1 - c) * factor);
  }
  // The page's address can name a view: #view=T0,T1 (ns), #node=ID, #key=K,
  // #to-failure, joined with '&'. A link then opens what it shows.
  function applyHash() {
    location.hash.replace(/^#/, '').split('&').forEach(function (part) {
      var kv = part.split('='), k = decodeURIComponent(kv[0]), v = decodeURIComponent(kv.slice(1).join('='));
      if (k === 'view') { var t = v.split(',').map(Number); if (t.length === 2 && t[0] < t[1]) { opening = ''; setView(t[0], t[1]); } }
      else if (k === 'node' || k === 'key') setFilter(k, v);
      else if (k === 'to-failure') { opening = ''; jump(); }
    });
  }

  var JUMP_CONTEXT = 40;
  // The index of the first message sent at or after t.
  function bisectSent(t) {
    var lo = 0, hi = msgs.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (msgs[mid].sent < t) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function jump() {
    var f = run.failures[0];
    if (!f) return;
    var t = failureAt(f);
    var items = f.blocked !== null ? [f.blocked].concat(f.pending) : [];
    var t0 = t, t1 = t;
    items.forEach(function (i) { if (ops[i]) { t0 = Math.min(t0, ops[i].invoked); t1 = Math.max(t1, opEnd[i]); } });
    // Show what led up to it too: the last JUMP_CONTEXT messages sent before it.
    var before = bisectSent(t0);
    if (before > 0) t0 = Math.min(t0, msgs[Math.max(0, before - JUMP_CONTEXT)].sent);
    var pad = Math.max((t1 - t0) * 0.15, END * 0.01);
    setView(t0 - pad, t1 + pad);
    requestAnimationFrame(function () {
      var g = document.getElementById('failure-0');
      if (g) g.classList.add('flash');
    });
  }

  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    var r = svg.getBoundingClientRect();
    zoom(e.deltaY > 0 ? 1.25 : 0.8, tAt(e.clientX - r.left));
  }, { passive: false });
  var drag = null;
  svg.addEventListener('mousedown', function (e) { drag = { x: e.clientX, t0: view.t0, t1: view.t1, moved: false }; });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) { drag.moved = true; svg.classList.add('dragging'); }
    if (drag.moved) {
      var dt = dx / plotW() * (drag.t1 - drag.t0);
      setView(drag.t0 - dt, drag.t1 - dt);
    }
  });
  window.addEventListener('mouseup', function () { svg.classList.remove('dragging'); setTimeout(function () { drag = null; }, 0); });
  svg.addEventListener('click', function (e) {
    if (drag && drag.moved) return;
    var label = e.target.closest('[data-node]');
    if (label) { setFilter('node', filter.node === label.getAttribute('data-node') ? '' : label.getAttribute('data-node')); return; }
    var hit = e.target.closest('[data-ref]');
    if (hit) pin(hit.getAttribute('data-ref'));
  });
  var tip = $('tip');
  svg.addEventListener('mousemove', function (e) {
    var hit = e.target.closest('[data-ref]');
    if (!hit || drag) { tip.hidden = true; return; }
    var d = describe(hit.getAttribute('data-ref'));
    var body = JSON.stringify(d.body);
    tip.textContent = d.head + '\n' + (body.length > 600 ? body.slice(0, 600) + '…' : body);
    var r = $('diagram-box').getBoundingClientRect();
    tip.style.left = Math.min(e.clientX - r.left + 14, r.width - 520) + 'px';
    tip.style.top = (e.clientY - r.top + 14) + 'px';
    tip.hidden = false;
  });
  svg.addEventListener('mouseleave', function () { tip.hidden = true; });
  function setFilter(which, value) {
    filter[which] = value;
    $(which + '-filter').value = value;
    schedule();
  }
  $('node-filter').addEventListener('change', function (e) { setFilter('node', e.target.value); });
  $('key-filter').addEventListener('change', function (e) { setFilter('key', e.target.value); });
  $('zoom-in').addEventListener('click', function () { zoom(0.5); });
  $('zoom-out').addEventListener('click', function () { zoom(2); });
  $('fit').addEventListener('click', function () { opening = ''; setView(0, END * 1.02); });
  $('jump').addEventListener('click', jump);
  $('export').addEventListener('click', exportSvg);
  window.addEventListener('keydown', function (e) {
    if (e.target.tagName === 'SELECT') return;
    var span = view.t1 - view.t0;
    if (e.key === '+' || e.key === '=') zoom(0.5);
    else if (e.key === '-') zoom(2);
    else if (e.key === '0') setView(0, END * 1.02);
    else if (e.key === 'f') jump();
    else if (e.key === 'ArrowLeft') setView(view.t0 - span * 0.2, view.t1 - span * 0.2);
    else if (e.key === 'ArrowRight') setView(view.t0 + span * 0.2, view.t1 + span * 0.2);
  });
  window.addEventListener('resize', schedule);

  function exportSvg() {
    var copy = svg.cloneNode(true);
    var style = document.createElementNS(NS, 'style');
    style.textContent = document.querySelector('style').textContent;
    copy.insertBefore(style, copy.firstChild);
    var blob = new Blob([new XMLSerializer().serializeToString(copy)], { type: 'image/svg+xml' });
    var a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = (run.title || 'orrery-run').replace(/[^A-Za-z0-9._-]+/g, '-') + '.svg';
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
  }

  // ---- opening view: the whole run, or a window around the failure ----------
  var opening = '';
  function openingView() {
    if (msgs.length <= MSG_CAP && ops.length <= OP_CAP) return;
    var f = run.failures[0], t = f ? failureAt(f) : null;
    if (t === null) t = END / 2;
    var lo = bisectSent(t);
    var i0 = Math.max(0, lo - MSG_CAP / 2), i1 = Math.min(msgs.length - 1, i0 + MSG_CAP * 0.8);
    var t0 = msgs.length ? Math.min(msgs[i0].sent, t) : 0, t1 = msgs.length ? Math.max(msgs[i1].sent, t) : END;
    view.t0 = t0 - (t1 - t0) * 0.02; view.t1 = t1 + (t1 - t0) * 0.02;
    opening = 'This run has ' + msgs.length + ' messages and ' + ops.length + ' operations, more than the page draws at once (' +
      MSG_CAP + ' messages, ' + OP_CAP + ' operations), so it opens on a window around ' + (f ? 'the failure' : 'the middle') +
      '. Zoom out or press "whole run" for the rest.';
  }

  header();
  drawLoad();
  openingView();
  applyHash();
  draw();
  setStatus({
    'total-messages': msgs.length, 'total-operations': ops.length, 'total-faults': run.faults.length, 'total-timers': timers.length,
    'render-ms': performance.now().toFixed(0), 'parse-ms': parseMs.toFixed(0), 'script-start-ms': parseStarted.toFixed(0)
  });
})();
