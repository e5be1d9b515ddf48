/**
 * The player page's script, served as `<prefix>/_/assets/player.js` so the page needs no inline script
 * (its Content-Security-Policy allows scripts from 'self' only). Plain ES5-style browser JavaScript in a
 * string: it is sent as is, never compiled, and uses no template literals so it can live in this one.
 *
 * It plays `data-src` of the <video> with hls.js (served from node_modules by the proxy, no CDN) and shows
 * the current rendition, the forward buffer, fatal errors, and the X-HLS-Sidecar-Cache header of every
 * playlist response (hls.js hands the XMLHttpRequest or fetch Response to its *_LOADED events as
 * `networkDetails`).
 */
export const PLAYER_SCRIPT = String.raw`(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var video = $('video');
  var src = video.getAttribute('data-src') || '';
  var errors = $('errors');
  var warnings = $('warnings');

  function item(list, message) {
    var li = document.createElement('li');
    li.textContent = new Date().toISOString().slice(11, 19) + ' ' + message;
    list.appendChild(li);
    while (list.children.length > 50) list.removeChild(list.firstChild);
    list.setAttribute('data-count', String(Number(list.getAttribute('data-count') || '0') + 1));
  }
  function fail(message) { item(errors, message); document.body.setAttribute('data-state', 'error'); }

  document.addEventListener('securitypolicyviolation', function (e) { fail('blocked by CSP: ' + e.violatedDirective); });

  function header(details, name) {
    if (!details) return null;
    try {
      if (typeof details.getResponseHeader === 'function') return details.getResponseHeader(name);
      if (details.headers && typeof details.headers.get === 'function') return details.headers.get(name);
    } catch (e) { /* headers not exposed */ }
    return null;
  }

  function record(kind, data) {
    var cache = header(data && data.networkDetails, 'X-HLS-Sidecar-Cache') || '(none)';
    var row = document.createElement('tr');
    var cells = [new Date().toISOString().slice(11, 23), kind, cache];
    for (var i = 0; i < cells.length; i++) {
      var td = document.createElement('td');
      td.textContent = cells[i];
      row.appendChild(td);
    }
    row.setAttribute('data-cache', cache);
    var body = $('requests');
    body.insertBefore(row, body.firstChild);
    while (body.children.length > 50) body.removeChild(body.lastChild);
    $('last-cache').textContent = cache;
  }

  function describe(level) {
    if (!level) return '-';
    var parts = [];
    if (level.height) parts.push(level.width + 'x' + level.height);
    if (level.bitrate) parts.push(Math.round(level.bitrate / 1000) + ' kb/s');
    if (level.codecSet || level.videoCodec) parts.push(level.codecSet || level.videoCodec);
    return parts.join(', ') || 'default';
  }

  $('source').textContent = src || '(none)';
  if (!src) { fail('no ?url= given'); return; }

  if (window.Hls && window.Hls.isSupported()) {
    var Hls = window.Hls;
    var hls = new Hls({ enableWorker: true });
    hls.on(Hls.Events.MANIFEST_LOADED, function (e, data) { record(data.levels && data.levels.length > 1 ? 'multivariant' : 'playlist', data); });
    hls.on(Hls.Events.LEVEL_LOADED, function (e, data) { record('media ' + data.level, data); });
    hls.on(Hls.Events.AUDIO_TRACK_LOADED, function (e, data) { record('audio ' + data.id, data); });
    hls.on(Hls.Events.SUBTITLE_TRACK_LOADED, function (e, data) { record('subtitles ' + data.id, data); });
    hls.on(Hls.Events.LEVEL_SWITCHED, function (e, data) {
      var el = $('rendition');
      el.textContent = describe(hls.levels[data.level]);
      el.setAttribute('data-level', String(data.level));
    });
    // A wall of dashboards must outlive an outage: hls.js gives up on a playlist after a few retries (a
    // fatal error), so network and media errors are retried here with a capped backoff; anything else, or
    // a run of 20 such failures, stays fatal. Issue #15: an origin down past --stale-if-error.
    var retries = 0;
    hls.on(Hls.Events.ERROR, function (e, data) {
      var status = data.response && data.response.code ? ' (HTTP ' + data.response.code + ')' : '';
      var message = data.type + ': ' + data.details + status;
      if (!data.fatal) { item(warnings, message); return; }
      var recoverable = data.type === Hls.ErrorTypes.NETWORK_ERROR || data.type === Hls.ErrorTypes.MEDIA_ERROR;
      if (!recoverable || retries >= 20) { fail(message); return; }
      var wait = Math.min(8000, 500 * Math.pow(2, retries++));
      item(warnings, message + ', retrying in ' + (wait / 1000) + ' s');
      setTimeout(function () {
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
        else if (/^manifest/i.test(data.details)) hls.loadSource(src); // nothing loaded yet: start over
        else hls.startLoad();
      }, wait);
    });
    hls.on(Hls.Events.FRAG_LOADED, function () { retries = 0; });
    hls.loadSource(src);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = src; // Safari plays HLS natively; the cache column then stays empty
  } else {
    fail('this browser supports neither Media Source Extensions nor native HLS');
    return;
  }

  video.addEventListener('error', function () { fail('media error ' + (video.error ? video.error.code : '?')); });
  var started = video.play();
  if (started && typeof started.catch === 'function') started.catch(function (e) { item(warnings, 'autoplay: ' + e.name); });

  setInterval(function () {
    var t = video.currentTime;
    var ahead = 0;
    for (var i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= t && t <= video.buffered.end(i)) ahead = video.buffered.end(i) - t;
    }
    $('position').textContent = t.toFixed(1) + ' s';
    $('buffer').textContent = ahead.toFixed(1) + ' s';
  }, 500);
})();
`;
