// Auto-refresh: pages rendered with data-refresh reload themselves.
(function () {
  var s = document.body && document.body.getAttribute('data-refresh');
  if (s) { setTimeout(function () { window.location.reload(); }, parseInt(s, 10) * 1000); }
})();
