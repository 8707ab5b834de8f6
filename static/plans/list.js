  (function () {
    var sel = document.getElementById('new-type');
    function show() {
      document.querySelectorAll('#new-plan [data-for]').forEach(function (el) { el.hidden = el.dataset.for !== sel.value; });
    }
    sel.addEventListener('change', show); show();
  })();
