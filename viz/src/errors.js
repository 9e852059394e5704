// Records every uncaught error and console.error in the page itself, so a
// headless test (and a person) can see them: #errors lists them and
// #status carries their count in data-errors.
(function () {
  'use strict';
  var seen = [];
  function record(text) {
    seen.push(String(text));
    var status = document.getElementById('status');
    if (status) status.setAttribute('data-errors', String(seen.length));
    var list = document.getElementById('errors');
    if (list) {
      var item = document.createElement('li');
      item.textContent = String(text);
      list.appendChild(item);
      list.hidden = false;
    }
  }
  window.orreryErrors = seen;
  window.orreryRecordError = record;
  window.addEventListener('error', function (e) {
    record('error: ' + (e.message || (e.target && e.target.tagName) || 'unknown') +
      (e.filename ? ' at ' + e.filename + ':' + e.lineno : ''));
  }, true);
  window.addEventListener('unhandledrejection', function (e) { record('unhandled rejection: ' + e.reason); });
  var original = console.error;
  console.error = function () {
    record('console.error: ' + Array.prototype.map.call(arguments, String).join(' '));
    return original.apply(console, arguments);
  };
})();
