(function () {
  var form = document.getElementById('section-form');
  if (form.hasAttribute('inert')) return;
  var state = document.getElementById('save-state');
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var timer = null, dirty = false;

  function num(v) { return v === '' ? null : Number(v); }
  function collect() {
    var answers = {};
    form.querySelectorAll('.field').forEach(function (el) {
      var key = el.dataset.key, type = el.dataset.type, v;
      if (type === 'checklist') {
        v = Array.prototype.map.call(el.querySelectorAll('input[type=checkbox]:checked'), function (c) { return c.value; });
      } else if (type === 'table' || type === 'contact_list') {
        v = [];
        el.querySelectorAll('tbody tr[data-row]').forEach(function (tr) {
          var row = {};
          tr.querySelectorAll('[data-col]').forEach(function (inp) {
            var val = inp.value.trim();
            if (val !== '') row[inp.dataset.col] = inp.dataset.coltype === 'number' ? Number(val) : val;
          });
          if (Object.keys(row).length) v.push(row);
        });
      } else {
        var inp = el.querySelector('input, textarea, select');
        v = type === 'number' ? num(inp.value) : (inp.value.trim() === '' ? null : inp.value);
      }
      answers[key] = v;
    });
    return answers;
  }
  function pct(x) { return Math.round(x * 100); }
  // Saves run one after another (never two PUTs of this section at once), always sending the
  // latest state of the form.
  var chain = Promise.resolve(true);
  function save() {
    clearTimeout(timer); timer = null;
    if (!dirty) return chain;
    dirty = false;
    chain = chain.then(send, send);
    return chain;
  }
  function send() {
    state.textContent = '保存中…';
    return fetch(form.dataset.url, {
      method: 'PUT', credentials: 'same-origin', keepalive: true,
      headers: {'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRFToken': csrf},
      body: JSON.stringify({answers: collect(), template_version: Number(form.dataset.templateVersion)})
    }).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      form.querySelectorAll('[data-errors-for]').forEach(function (e) { e.textContent = ''; });
      if (!res.ok) {
        var err = res.body.error || {};
        Object.keys(err.fields || {}).forEach(function (k) {
          var slot = form.querySelector('[data-errors-for="' + k + '"]');
          if (slot) slot.textContent = err.fields[k].join(' ');
        });
        state.textContent = '保存できませんでした: ' + (err.message || '');
        return false;
      }
      var plan = res.body, sec = plan.sections.filter(function (s) { return s.key === form.dataset.section; })[0];
      document.getElementById('overall-pct').textContent = pct(plan.completeness) + '%';
      document.getElementById('overall-bar').value = pct(plan.completeness);
      document.getElementById('section-pct').textContent = pct(sec.completeness) + '%';
      document.getElementById('section-bar').value = pct(sec.completeness);
      var now = new Date();
      state.textContent = '保存しました ' + now.toLocaleTimeString('ja-JP', {hour: '2-digit', minute: '2-digit'});
      return true;
    }).catch(function () {
      dirty = true;
      state.textContent = '通信できません。接続が戻ると保存します。';
      clearTimeout(timer); timer = setTimeout(save, 5000);
      return false;
    });
  }
  function changed() { dirty = true; state.textContent = '未保存の変更があります'; clearTimeout(timer); timer = setTimeout(save, 1200); }
  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  form.addEventListener('click', function (ev) {
    var t = ev.target;
    if (t.classList.contains('add-row')) {
      var table = t.closest('.field').querySelector('table');
      table.tBodies[0].appendChild(table.querySelector('template').content.cloneNode(true));
      var first = table.tBodies[0].lastElementChild.querySelector('input, select');
      if (first) first.focus();
    } else if (t.classList.contains('del-row')) {
      t.closest('tr').remove(); changed();
    }
  });
  document.querySelectorAll('[data-nav]').forEach(function (a) {
    a.addEventListener('click', function (ev) {
      if (!dirty && !timer) return;
      ev.preventDefault();
      Promise.resolve(save()).then(function (ok) { if (ok !== false) location.href = a.href; });
    });
  });
  window.addEventListener('pagehide', function () { if (dirty) save(); });
})();
