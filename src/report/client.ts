import { haversineKm, spaceDistanceKm } from '../probe/metrics.js';
import { UNPACK_SCRIPT } from './pack.js';

/**
 * The report page's own script (plain browser JavaScript, inlined as text). It reads the JSON data block, decodes
 * its packed arrays (pack.ts; asynchronous: the browser's DecompressionStream), embeds
 * each figure with vega-embed, fills the layer-switchable figures with the rows of the chosen layer and split,
 * and keeps the captions in step. `rowsFor` mirrors points.ts `pointRows`; the distance functions are probe/metrics.ts's own,
 * embedded by their source.
 */
export const CLIENT_SCRIPT = String.raw`(function () {
  'use strict';
  ${UNPACK_SCRIPT}
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var views = {};
  var timings = { start: Math.round(performance.now()) };
  var state = { layer: D.initialLayer, split: D.split };

  ${haversineKm.toString()}
  ${spaceDistanceKm.toString()}
  function finite(v) { return typeof v === 'number' && isFinite(v); }
  function nearestLayer(available, wanted) {
    var best = available[0];
    for (var i = 0; i < available.length; i++) if (Math.abs(available[i] - wanted) < Math.abs(best - wanted)) best = available[i];
    return best;
  }
  function rowsFor(p, layer, split) {
    var pred = p.pred[String(nearestLayer(p.layers, layer))], rows = [];
    var full = pred[0].length === p.names.length, k = -1; // compact layers hold test rows only
    for (var i = 0; i < p.names.length; i++) {
      var test = p.isTest[i] === 1;
      if (test) k++;
      if ((split === 'test' && !test) || (split === 'train' && test) || (!full && !test)) continue;
      var at = full ? i : k;
      var group = p.groupNames[p.group[i]];
      if (p.kind === 'space') {
        var lon = p.truth[0][i], lat = p.truth[1][i], plon = pred[0][at], plat = pred[1][at];
        if (!finite(plon) || !finite(plat)) continue;
        rows.push({ name: p.names[i], group: group, lon: lon, lat: lat, plon: plon, plat: plat,
                    errKm: spaceDistanceKm([lon, lat], [plon, plat], p.distance || 'haversine'), test: test });
      } else {
        var year = p.truth[0][i], py = pred[0][at];
        if (!finite(py)) continue;
        rows.push({ name: p.names[i], group: group, year: year, pred: py, err: Math.abs(py - year), test: test });
      }
    }
    return rows;
  }
  function statsRows(p, layer) { // points.ts statsRows
    var m = p.metrics[String(nearestLayer(p.layers, layer))] || {}, text = [];
    if (finite(m.spearman)) text.push('Spearman \u03c1 = ' + m.spearman.toFixed(3));
    if (finite(m.r2)) text.push('test R\u00b2 = ' + m.r2.toFixed(3));
    return text.length ? [{ text: text }] : [];
  }
  function fmt(v, digits) { return finite(v) ? v.toFixed(digits) : 'n/a'; }
  function captionText(p, layer, n) {
    var used = nearestLayer(p.layers, layer), m = p.metrics[String(used)] || {};
    var parts = ['layer ' + used + (used !== layer ? ' (nearest to ' + layer + ')' : ''),
                 'test R\u00b2 ' + fmt(m.r2, 3)];
    if (finite(m.spearman)) parts.push('Spearman ' + fmt(m.spearman, 3));
    if (finite(m.proxError)) parts.push('proximity error ' + fmt(m.proxError, 3));
    parts.push(n.toLocaleString('en-US') + ' ' + state.split + ' points');
    return parts.join(' \u00b7 ');
  }
  // Figure id -> index into D.points chosen by the figure's prompt selector (default: the figure's run).
  var chosen = {};
  function promptOf(fig, run) {
    var found = (fig.prompts || []).filter(function (q) { return q.run === run; })[0];
    return found ? 'prompt ' + found.prompt + ' \u00b7 ' : '';
  }
  function update(only) {
    var jobs = [];
    D.figures.forEach(function (fig) {
      if (fig.run === undefined || fig.run === null || !views[fig.id] || (only && only !== fig.id)) return;
      var run = chosen[fig.id] !== undefined ? chosen[fig.id] : fig.run;
      var p = D.points[run], rows = rowsFor(p, state.layer, state.split);
      var view = views[fig.id].change('points', vega.changeset().remove(vega.truthy).insert(rows));
      jobs.push(view.change('stats', vega.changeset().remove(vega.truthy).insert(statsRows(p, state.layer))).runAsync());
      var wrap = document.getElementById('wrap-' + fig.id);
      if (wrap) wrap.setAttribute('data-marks', String(rows.length));
      var cap = document.getElementById('cap-' + fig.id);
      if (cap) cap.textContent = promptOf(fig, run) + captionText(p, state.layer, rows.length);
      var title = wrap && fig.prompts ? wrap.querySelector('figcaption') : null;
      if (title) { // the title names the run shown: swap the first run's label for the chosen one's
        fig.title = fig.title || title.textContent;
        title.textContent = fig.title.replace(D.points[fig.run].label, p.label);
      }
    });
    return Promise.all(jobs).then(function () {});
  }
  function syncControls() {
    var select = document.getElementById('layer-select'), slider = document.getElementById('layer-slider');
    if (select) select.value = String(state.layer);
    if (slider && D.layers) slider.value = String(Math.max(0, D.layers.indexOf(state.layer)));
  }
  function setLayer(layer) { state.layer = Number(layer); syncControls(); return update(); }
  // Play: step through every layer with predictions, first to last, each drawn before the next starts.
  var playing = false;
  async function play() {
    var button = document.getElementById('play-button');
    if (playing) { playing = false; return; }
    playing = true;
    if (button) button.textContent = '\u275a\u275a Pause';
    var start = D.layers.indexOf(state.layer);
    if (start < 0 || start >= D.layers.length - 1) start = -1;
    for (var i = start + 1; i < D.layers.length && playing; i++) {
      await setLayer(D.layers[i]);
      await new Promise(function (done) { setTimeout(done, 450); });
    }
    playing = false;
    if (button) button.textContent = '\u25b6 Play';
  }
  function setSplit(split) { state.split = split; return update(); }
  function setPrompt(figId, run) { chosen[figId] = Number(run); return update(figId); }

  // Viewport position of the plotted symbol whose datum has this name (used by the browser tests); asks vega's
  // event handler, which knows the renderer's origin and padding.
  function locate(figId, name) {
    var view = views[figId], found = null;
    if (!view) return null;
    function walk(mark) {
      if (found || !mark || !mark.items) return;
      for (var i = 0; i < mark.items.length && !found; i++) {
        var it = mark.items[i];
        if (mark.marktype === 'group') (it.items || []).forEach(walk);
        else if (mark.marktype === 'symbol' && it.datum && it.datum.name === name) found = it;
      }
    }
    walk(view.scenegraph().root);
    if (!found) return null;
    var r = view._handler.getItemBoundingClientRect(found);
    return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
  }

  // Elements that stick out of the page (figures, tables, cells), for the layout tests; closed appendix excluded.
  function tooWide() {
    var limit = document.documentElement.clientWidth, out = [];
    document.querySelectorAll('main *').forEach(function (el) {
      if (out.length >= 10 || el.closest('details:not([open])')) return;
      var r = el.getBoundingClientRect(), parent = el.parentElement;
      if (parent && parent.getBoundingClientRect().right > limit + 1) return; // report the outermost only
      if (r.right > limit + 1) {
        var fig = el.closest('figure');
        out.push((fig ? fig.getAttribute('data-slug') + ' ' : '') + el.tagName + (el.id ? '#' + el.id : '') + '.' + (el.getAttribute('class') || '') + ' ' + Math.round(r.right) + 'px');
      }
    });
    return out;
  }
  // Scenegraph items of the mark layers named 'main' (or layerName) in a figure (the tests compare them with the
  // data's rows, and read the text of text marks).
  function markItems(figId, layerName) {
    var view = views[figId], out = [], pattern = new RegExp('(^|_)' + (layerName || 'main') + '(_\\d+)?_marks$');
    if (!view) return null;
    function walk(mark) {
      if (!mark || !mark.items) return;
      if (mark.name && pattern.test(mark.name)) { for (var k = 0; k < mark.items.length; k++) out.push(mark.items[k]); return; }
      for (var i = 0; i < mark.items.length; i++) if (mark.marktype === 'group') (mark.items[i].items || []).forEach(walk);
    }
    walk(view.scenegraph().root);
    return out;
  }
  function countMarks(figId, layerName) { var items = markItems(figId, layerName); return items ? items.length : -1; }
  function markTexts(figId, layerName) {
    return (markItems(figId, layerName) || []).map(function (it) { return [].concat(it.text).join('\n'); });
  }

  // Geoshapes (outlines) drawn in a figure: countries, states or boroughs.
  function countShapes(figId) {
    var view = views[figId], n = 0;
    if (!view) return -1;
    function walk(mark) {
      if (!mark || !mark.items) return;
      if (mark.marktype === 'shape') { n += mark.items.length; return; }
      if (mark.marktype === 'group') mark.items.forEach(function (it) { (it.items || []).forEach(walk); });
    }
    walk(view.scenegraph().root);
    return n;
  }

  function showError(fig, err) {
    var el = document.getElementById(fig.id), msg = document.createElement('p');
    msg.className = 'error';
    msg.textContent = 'This figure could not be drawn: ' + (err && err.message ? err.message : String(err));
    el.appendChild(msg);
  }

  async function main() {
    D = await spacetimeUnpack(D);
    D.points.forEach(function (p) { // runs of other prompts share their entities with an earlier run (html.ts)
      if (p.entitiesOf === undefined) return;
      var from = D.points[p.entitiesOf];
      ['names', 'group', 'groupNames', 'isTest', 'truth'].forEach(function (k) { p[k] = from[k]; });
    });
    timings.unpack = Math.round(performance.now() - timings.start);
    var layerSelect = document.getElementById('layer-select'), splitSelect = document.getElementById('split-select');
    for (var i = 0; i < D.figures.length; i++) {
      var fig = D.figures[i];
      var t0 = performance.now();
      var ds = fig.spec.datasets;
      if (ds) for (var key in ds) if (ds[key] === null && D.shared[key]) ds[key] = D.shared[key];
      try {
        var res = await vegaEmbed('#' + fig.id, fig.spec, {
          renderer: fig.renderer, mode: 'vega-lite',
          actions: { export: true, source: false, compiled: false, editor: false },
          tooltip: { theme: 'light' },
        });
        views[fig.id] = res.view;
      } catch (err) {
        showError(fig, err);
      }
      timings[fig.id] = Math.round(performance.now() - t0);
    }
    if (layerSelect) layerSelect.addEventListener('change', function () { setLayer(layerSelect.value); });
    var slider = document.getElementById('layer-slider'), button = document.getElementById('play-button');
    if (slider) slider.addEventListener('input', function () { setLayer(D.layers[Number(slider.value)]); });
    if (button) button.addEventListener('click', function () { play(); });
    if (splitSelect) splitSelect.addEventListener('change', function () { setSplit(splitSelect.value); });
    document.querySelectorAll('select.prompt-select').forEach(function (select) {
      select.addEventListener('change', function () { setPrompt(select.getAttribute('data-fig'), select.value); });
    });
    var t1 = performance.now();
    await update();
    timings.update = Math.round(performance.now() - t1);
    document.body.setAttribute('data-ready', '1');
  }
  window.spacetimeReport = { data: function () { return D; }, timings: timings, views: views, setLayer: setLayer, play: play, tooWide: tooWide, countMarks: countMarks, markTexts: markTexts, countShapes: countShapes, setSplit: setSplit, setPrompt: setPrompt, locate: locate, rowsFor: rowsFor, statsRows: statsRows };
  main().catch(function (err) {
    console.error(err);
    // Say so on the page: an old browser without DecompressionStream (before 2023) cannot decode the data.
    var msg = document.createElement('p'), main = document.querySelector('main');
    msg.className = 'error';
    msg.textContent = (typeof DecompressionStream === 'undefined'
      ? 'This browser cannot decode the report\u2019s data (it needs DecompressionStream: Chrome 80, Firefox 113, Safari 16.4 or newer). '
      : 'The figures could not be drawn: ') + (err && err.message ? err.message : String(err));
    if (main) main.insertBefore(msg, main.firstChild);
    document.body.setAttribute('data-ready', 'error');
  });
})();`;
