// Behaviour that used to sit in inline handlers (the CSP allows no inline script):
// data-confirm on a form asks before submitting, data-autosubmit submits a select's form on change,
// data-print prints the page, data-no-submit keeps a form from submitting (autosaved forms).
document.addEventListener('submit', function (e) {
  var form = e.target;
  if (form.hasAttribute('data-no-submit')) { e.preventDefault(); return; }
  var question = form.getAttribute('data-confirm');
  if (question && !window.confirm(question)) e.preventDefault();
});
document.addEventListener('change', function (e) {
  if (e.target.matches && e.target.matches('select[data-autosubmit]')) e.target.form.submit();
});
document.addEventListener('click', function (e) {
  var el = e.target.closest && e.target.closest('[data-print]');
  if (el) { e.preventDefault(); window.print(); }
});
