// "Pilih semua" in the queue's bulk bar: ticks or clears every suggestion of the page and
// shows how many are picked. Without JavaScript the boxes are ticked one by one.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("pick-all");
  if (!all || !all.form) return;
  const form = all.form;
  const picks = () => [...form.querySelectorAll('input[name="selected"]')];
  const button = form.querySelector(".bulk button");
  const label = button ? button.textContent : "";
  all.closest("label").hidden = false;
  const update = () => {
    const boxes = picks();
    const n = boxes.filter((b) => b.checked).length;
    all.checked = n > 0 && n === boxes.length;
    all.indeterminate = n > 0 && n < boxes.length;
    if (button) button.textContent = n ? label.replace("…", ` (${n})…`) : label;
  };
  form.addEventListener("change", (event) => {
    if (event.target === all) picks().forEach((b) => { b.checked = all.checked; });
    update();
  });
  update();
});
