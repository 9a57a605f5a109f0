// posdiag console: live rows over server-sent events, a banner while the
// connection is lost (the browser reconnects by itself), the copy button.
// Everything works without this file; it only adds.
(function () {
  'use strict';
  var board = document.getElementById('board');
  var banner = document.getElementById('live-banner');
  function replaceGroup(id, html) {
    var old = board && board.querySelector('tbody[data-group="' + CSS.escape(id) + '"]');
    var tpl = document.createElement('template');
    tpl.innerHTML = html;
    var fresh = tpl.content.firstElementChild;
    if (!fresh) return;
    if (old) old.replaceWith(fresh); else if (board) board.appendChild(fresh);
  }
  function resync() {
    fetch(location.pathname, { credentials: 'same-origin' })
      .then(function (r) { return r.text(); })
      .then(function (t) {
        var doc = new DOMParser().parseFromString(t, 'text/html');
        var fresh = doc.getElementById('board');
        if (fresh && board) { board.replaceWith(fresh); board = fresh; }
      })
      .catch(function () {});
  }
  if (board && window.EventSource) {
    var lost = false;
    var es = new EventSource('/events');
    es.addEventListener('row', function (e) {
      var nl = e.data.indexOf('\n');
      if (nl > 0) replaceGroup(e.data.slice(0, nl), e.data.slice(nl + 1));
    });
    es.addEventListener('resync', resync);
    es.onerror = function () { lost = true; if (banner) banner.hidden = false; };
    es.onopen = function () {
      if (banner) banner.hidden = true;
      if (lost) { lost = false; resync(); }
    };
  }
  var copy = document.getElementById('copy-helpdesk');
  var text = document.getElementById('helpdesk');
  if (copy && text && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener('click', function () {
      navigator.clipboard.writeText(text.value).then(function () {
        copy.textContent = copy.getAttribute('data-done');
      });
    });
  }
})();
