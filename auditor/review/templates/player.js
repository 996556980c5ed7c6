/* The clip page's players in step: the reference follows the suspect clip along the selected
   match's mapping, ref_t = speed * t + offset (views, from player.py). Forwards at a playable
   speed the reference plays at that rate and is pulled back when it drifts; backwards, or at a
   speed a browser cannot play, it is seeked along the mapping frame by frame; paused or seeked,
   it is put exactly where the mapping says. One control plays, pauses and steps both. A still is
   shown with the matched region outlined and the frame pairs' points; wipe and blink lay the
   reference over the clip (a still cropped to its region). */
(function () {
  var views = JSON.parse(document.getElementById('views').textContent);
  var gallery = JSON.parse(document.getElementById('gallery-data').textContent);
  var W = JSON.parse(document.getElementById('words').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var player = $('player'), ref = $('ref-player'), still = $('ref-still'), stillImg = $('ref-still-img');
  var marks = $('ref-marks'), frames = $('ref-frames'), refBox = $('ref-box'), refFig = $('ref-fig');
  var compare = $('compare'), line = $('timeline'), cursor = $('cursor'), note = $('sync-note');
  var duration = parseFloat(line.dataset.duration) || 1, fps = parseFloat(compare.dataset.fps) || 25;
  var seg = null, seeking = false, pending = false, raf = 0, blink = 0, view = 'side';
  var SVG = 'http://www.w3.org/2000/svg';

  function refAt(s, q) { return s.speed * Math.min(Math.max(q, s.qs), s.qe) + s.offset; }
  function fmt(t) {
    if (!isFinite(t)) return '–';
    var m = Math.floor(t / 60), s = t - 60 * m;
    return m + ':' + (s < 10 ? '0' : '') + s.toFixed(2);
  }
  function say(key, args) {
    return (W[key] || key).replace(/\{(\w+)\}/g, function (_, k) { return args[k]; });
  }
  function text(id, value) { var el = $(id); if (el) el.textContent = value; }

  function times() {
    if (!player) return;
    var q = player.currentTime;
    text('q-time', fmt(q));
    if (seg && seg.video && ref && !ref.hidden) text('r-time', fmt(ref.currentTime) + ' (' + W.sync_target + ' ' + fmt(refAt(seg, q)) + ')');
    cursor.style.left = (100 * q / duration) + '%';
  }

  // put the reference where the mapping says for the clip's current time
  function follow(exact) {
    times();
    if (!seg || !seg.video || !ref || ref.hidden || ref.readyState < 1 || !player) return;
    var q = player.currentTime, target = refAt(seg, q);
    var playing = !exact && !player.paused && !player.ended;
    var smooth = playing && !seg.moment && q >= seg.qs && q < seg.qe && seg.speed >= 0.25 && seg.speed <= 4;
    if (smooth) {
      if (Math.abs(ref.playbackRate - seg.speed) > 1e-3) ref.playbackRate = seg.speed;
      if (!seeking && Math.abs(ref.currentTime - target) > 0.1) { seeking = true; ref.currentTime = target; }
      if (ref.paused) { var p = ref.play(); if (p && p.catch) p.catch(function () {}); }
      return;
    }
    if (!ref.paused) ref.pause();
    if (seeking) { pending = true; return; }
    if (Math.abs(ref.currentTime - target) > 0.002) { seeking = true; ref.currentTime = target; }
  }

  function loop() {
    follow(false);
    raf = (player && !player.paused && !player.ended) ? requestAnimationFrame(loop) : 0;
  }

  function drawStill(s) {
    while (marks.firstChild) marks.removeChild(marks.firstChild);
    var w = s.still_size[0], h = s.still_size[1];
    marks.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    function rect(box, attrs) {
      var r = document.createElementNS(SVG, 'rect');
      r.setAttribute('x', box[0] * w); r.setAttribute('y', box[1] * h);
      r.setAttribute('width', (box[2] - box[0]) * w); r.setAttribute('height', (box[3] - box[1]) * h);
      r.setAttribute('fill', 'none'); r.setAttribute('vector-effect', 'non-scaling-stroke');
      for (var k in attrs) r.setAttribute(k, attrs[k]);
      marks.appendChild(r);
      return r;
    }
    s.marks.forEach(function (m) {
      if (!m.box) return;
      rect(m.box, {stroke: '#000', 'stroke-width': 3, 'stroke-opacity': 0.6});
      var r = rect(m.box, {stroke: '#fff', 'stroke-width': 1, 'stroke-dasharray': '4 3', 'class': 'mark', 'data-q': m.q});
      r.setAttribute('pointer-events', 'all');
      var label = document.createElementNS(SVG, 'text');
      label.setAttribute('x', m.box[0] * w + 4); label.setAttribute('y', m.box[1] * h + 0.05 * h);
      label.setAttribute('class', 'mark-label'); label.textContent = m.n;
      marks.appendChild(label);
      r.addEventListener('click', function () { seekTo(m.q); });
    });
    // the region in two strokes, dark under light: it shows on light art and on dark art alike
    if (s.region) {
      rect(s.region, {stroke: '#000', 'stroke-width': 6, id: 'region-under'});
      rect(s.region, {stroke: '#ffd500', 'stroke-width': 3, id: 'region-rect'});
    }
    s.points.forEach(function (p) {
      var c = document.createElementNS(SVG, 'circle');
      c.setAttribute('cx', p[0] * w); c.setAttribute('cy', p[1] * h); c.setAttribute('r', Math.max(w, h) / 220);
      c.setAttribute('class', 'kp');
      marks.appendChild(c);
    });
  }

  // lay out the reference panel for the current view: its own shape side by side, the clip's over it
  function layout() {
    var overlay = view !== 'side';
    compare.classList.toggle('overlay', overlay);
    var ar = compare.dataset.ar;
    if (!overlay && seg && seg.still && !still.hidden) ar = seg.still_size[0] + ' / ' + seg.still_size[1];
    else if (!overlay && ref && !ref.hidden && ref.videoWidth) ar = ref.videoWidth + ' / ' + ref.videoHeight;
    if (refBox) refBox.style.setProperty('--ar', ar);
    if (seg && seg.still && seg.region && overlay) {
      var r = seg.region, w = r[2] - r[0], h = r[3] - r[1];
      still.style.cssText = 'left:' + (-100 * r[0] / w) + '%;top:' + (-100 * r[1] / h) + '%;width:' + (100 / w) +
        '%;height:' + (100 / h) + '%';
    } else if (still) {
      still.style.cssText = '';
    }
    if (refBox) refBox.style.clipPath = view === 'wipe' ? 'inset(0 0 0 ' + $('wipe').value + '%)' : '';
  }

  function setView(v) {
    view = v;
    document.querySelectorAll('#transport [data-view]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.dataset.view === v));
    });
    $('wipe').hidden = v !== 'wipe';
    clearInterval(blink);
    if (refFig) refFig.style.opacity = '';
    if (v === 'blink') blink = setInterval(function () { refFig.style.opacity = refFig.style.opacity === '0' ? '' : '0'; }, 600);
    layout();
  }

  function describe(s) {
    var args = {ref: s.ref, q: s.qs.toFixed(2), r: refAt(s, s.qs).toFixed(2), speed: Math.abs(s.speed).toFixed(3)};
    if (s.kind === 'still') return say(s.moment ? 'sync_still' : 'sync_still', args);
    if (s.moment) return say('sync_moment', args);
    if (!s.video) return say('sync_not_served', args);
    return say(s.speed < 0 ? 'sync_backwards' : 'sync_forwards', args);
  }

  // the reference plays once it is playable; while its copy is made, the page says how far it is
  var refWait = $('ref-preparing'), refTimer = 0;
  function loadRef(s) {
    clearTimeout(refTimer);
    function go() { if (ref.getAttribute('src') !== s.video) { ref.setAttribute('src', s.video); ref.load(); } }
    if (!refWait) { go(); return; }
    function poll() {
      fetch(s.video.replace(/\/video$/, '/playable'), {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (st) {
        if (seg !== s) return;
        if (st.state === 'ready' || st.state === 'original') { refWait.hidden = true; go(); return; }
        refWait.hidden = false;
        if (st.state === 'too long' || st.state === 'failed') {
          text('ref-preparing-text', say(st.state === 'failed' ? 'preparing_failed' : 'ref_preparing_too_long',
            {why: st.error, ref: s.ref, codec: st.codec, minutes: Math.round(st.limit_s / 60), gib: Math.round(st.limit_bytes / 1073741824)}));
          return;
        }
        var pct = st.total ? Math.min(99, Math.floor(100 * st.done / st.total)) : 0;
        $('ref-preparing-bar').style.width = pct + '%';
        text('ref-preparing-text', say(st.state === 'making' ? 'ref_preparing_making' : 'ref_preparing_queued',
          {ref: s.ref, codec: st.codec, pct: pct, eta: st.eta_s === null || st.eta_s === undefined ? '…' : Math.max(1, Math.ceil(st.eta_s))}));
        refTimer = setTimeout(poll, 700);
      }).catch(function () { refTimer = setTimeout(poll, 2000); });
    }
    poll();
  }

  function select(i) {
    var s = views[i];
    seg = s;
    document.querySelectorAll('#timeline .seg').forEach(function (el) { el.classList.toggle('on', +el.dataset.seg === i); });
    text('ref-name', s.ref + ' · ' + (W['level_' + s.level] || s.level));
    if (ref) ref.hidden = !s.video;
    if (still) still.hidden = !s.still;
    if (frames) frames.hidden = !!(s.video || s.still) || !s.marks.length;
    if (s.video) loadRef(s);
    if (s.still) { if (stillImg.getAttribute('src') !== s.still) stillImg.setAttribute('src', s.still); drawStill(s); }
    if (!s.video && !s.still && s.marks.length) frames.setAttribute('src', s.marks[0].img);
    if (!s.video) text('r-time', s.kind === 'still' ? '' : fmt(s.rs));
    if (note) note.textContent = describe(s);
    layout();
    follow(true);
  }

  function seekTo(q, i) {
    if (i !== undefined && views[i] !== seg) select(i);
    if (!player) return;
    player.pause();
    player.currentTime = Math.max(0, Math.min(q, duration));
    follow(true);
  }

  // the segment under the clip's current time, when the clip plays into another one
  function track() {
    if (!player || !seg) return;
    var q = player.currentTime;
    if (q >= seg.qs && q <= seg.qe) return;
    for (var i = 0; i < views.length; i++) {
      if (q >= views[i].qs && q <= views[i].qe && views[i] !== seg) { select(i); return; }
    }
  }

  if (views.length) {
    select(0);
    if (player) {
      var start = function () { seekTo(views[0].qs); };
      if (player.readyState >= 1) start(); else player.addEventListener('loadedmetadata', start, {once: true});
    }
  } else if (gallery.length && frames) {
    frames.hidden = false;
    frames.setAttribute('src', gallery[0].ref_img || gallery[0].query_img);
    text('ref-name', gallery[0].ref + ' · ' + W.gallery_title);
    if (note) note.textContent = say('sync_gallery', {});
    if (player) player.addEventListener('loadedmetadata', function () { player.currentTime = gallery[0].q; }, {once: true});
  }

  if (ref) {
    ref.addEventListener('seeked', function () {
      seeking = false;
      if (pending) { pending = false; follow(!player || player.paused); }
      times();
    });
    ref.addEventListener('loadedmetadata', function () { layout(); follow(true); });
  }
  if (player) {
    player.addEventListener('play', function () { text('sync-play', W.pause_both); if (!raf) raf = requestAnimationFrame(loop); });
    player.addEventListener('pause', function () { text('sync-play', W.play_both); follow(true); });
    player.addEventListener('seeked', function () { track(); follow(player.paused); });
    player.addEventListener('timeupdate', function () { track(); times(); });
    player.addEventListener('ended', function () { text('sync-play', W.play_both); follow(true); });
  }
  if ($('sync-play')) {
    $('sync-play').addEventListener('click', function () {
      if (!player) return;
      if (!player.paused) { player.pause(); return; }
      if (seg && !seg.moment && player.currentTime >= seg.qe - 0.5 / fps) player.currentTime = seg.qs;
      var p = player.play(); if (p && p.catch) p.catch(function () {});
    });
    $('sync-step').addEventListener('click', function () { seekTo(player.currentTime + 1 / fps); });
    $('sync-back').addEventListener('click', function () { seekTo(player.currentTime - 1 / fps); });
    document.querySelectorAll('#transport [data-view]').forEach(function (b) {
      b.addEventListener('click', function () { setView(b.dataset.view); });
    });
    $('wipe').addEventListener('input', layout);
  }

  line.addEventListener('click', function (e) {
    var el = e.target.closest('.seg'), r = line.getBoundingClientRect();
    if (el) seekTo(parseFloat(el.dataset.start), +el.dataset.seg);
    else seekTo(duration * (e.clientX - r.left) / r.width);
  });
  document.querySelectorAll('.seek, .seek-pair').forEach(function (a) {
    a.addEventListener('click', function (e) {
      e.preventDefault();
      seekTo(parseFloat(a.dataset.start), +a.dataset.seg);
      if (compare.scrollIntoView && a.classList.contains('seek-pair')) compare.scrollIntoView({block: 'nearest'});
    });
  });
  document.querySelectorAll('.seek-gallery').forEach(function (g) {
    g.addEventListener('click', function () {
      if (frames && g.dataset.refImg) { frames.hidden = false; frames.setAttribute('src', g.dataset.refImg); }
      text('ref-name', g.dataset.ref + ' · ' + W.gallery_title);
      if (player) { player.pause(); player.currentTime = parseFloat(g.dataset.start); }
    });
  });
  // space plays and pauses both (outside form fields), as in any player
  document.addEventListener('keydown', function (e) {
    var tag = (e.target.tagName || '').toLowerCase();
    if (e.key !== ' ' || !player || tag === 'input' || tag === 'textarea' || tag === 'button' || tag === 'video') return;
    e.preventDefault();
    $('sync-play') ? $('sync-play').click() : (player.paused ? player.play() : player.pause());
  });
  window.auditorPlayers = {views: views, refAt: refAt, select: select, seekTo: seekTo, current: function () { return seg; }};
})();
