// The annotator's page: keyboard shortcuts for the labels, skip and undo, and span
// selection on text (boxes on images: images.js).
// Loaded by labeling/work.html only; no inline script anywhere (the studio's CSP).
(function () {
  "use strict";

  // -- keyboard ----------------------------------------------------------------------------
  // 1..9 press the label with that key (a one-label task submits; a multi-label task
  // toggles its box; a span task labels the selected text), Enter submits the answer of a
  // task that has a Submit button, S skips, Z (or Ctrl+Z) undoes the last answer or skip.
  // Keys typed into a field are the field's.
  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) { return true; }
    return tag === "INPUT" && target.type !== "checkbox" && target.type !== "radio";
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.repeat || typing(event.target)) { return; }
    // Not before htmx has taken the new item over: a press then would be the browser's
    // own submit of the form, without the CSRF header.
    var item = document.getElementById("item");
    if (!item || !item.dataset.ready) { return; }
    if ((event.key === "z" || event.key === "Z") && !event.shiftKey) {
      var undo = document.getElementById("undo");
      if (undo && !undo.disabled) { event.preventDefault(); undo.click(); }
      return;
    }
    var form = document.getElementById("answer-form");
    if (!form || event.ctrlKey || event.metaKey) { return; }
    if (/^[1-9]$/.test(event.key)) {
      var control = form.querySelector('[data-key="' + event.key + '"]');
      if (control) { event.preventDefault(); control.click(); }
    } else if (event.key === "Enter") {
      var submit = form.querySelector("#submit-answer");
      var onButton = event.target && event.target.tagName === "BUTTON";
      if (submit && !onButton) { event.preventDefault(); form.requestSubmit(); }
    } else if (event.key === "s" || event.key === "S") {
      var skip = document.getElementById("skip");
      if (skip) { event.preventDefault(); skip.click(); }
    }
  });

  // -- spans -------------------------------------------------------------------------------
  // Offsets are characters (code points) into the item's text, as the server counts them:
  // the exact text comes as JSON in data-text (an HTML parser would fold CR LF into LF),
  // the script draws it as pieces that each know their start, and a selection's position
  // is its piece's start plus the code points before it in that piece.
  var state = null;

  function codePoints(s) { return Array.from(s).length; }

  function offsetOf(box, node, offset) {
    if (node.nodeType === Node.TEXT_NODE) {
      var piece = node.parentNode;
      if (!piece || piece.parentNode !== box) { return null; }
      return Number(piece.dataset.start) + codePoints(node.data.slice(0, offset));
    }
    if (node === box) {
      if (offset >= box.childNodes.length) { return state.chars.length; }
      return Number(box.childNodes[offset].dataset.start);
    }
    if (node.parentNode === box && node.dataset && node.dataset.start !== undefined) {
      return Number(offset === 0 ? node.dataset.start : node.dataset.end);
    }
    return null;
  }

  function draw() {
    var box = state.box, chars = state.chars, spans = state.spans;
    var cuts = [0, chars.length];
    spans.forEach(function (s) { cuts.push(s.start, s.end); });
    cuts = Array.from(new Set(cuts)).sort(function (a, b) { return a - b; });
    box.textContent = "";
    for (var i = 0; i + 1 < cuts.length; i++) {
      var a = cuts[i], b = cuts[i + 1];
      var piece = document.createElement("span");
      piece.dataset.start = String(a);
      piece.dataset.end = String(b);
      piece.textContent = chars.slice(a, b).join("");
      var over = spans.filter(function (s) { return s.start <= a && s.end >= b; });
      if (over.length) {
        piece.className = "mark";
        piece.title = over.map(function (s) { return s.label; }).join(", ");
      }
      box.appendChild(piece);
    }
    var list = document.getElementById("span-list");
    list.textContent = "";
    spans.forEach(function (s, index) {
      var item = document.createElement("li");
      item.textContent = "\u201c" + chars.slice(s.start, s.end).join("") + "\u201d " + s.label +
        " [" + s.start + "\u2013" + s.end + ") ";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove " + s.label + " span " + s.start + " to " + s.end);
      remove.addEventListener("click", function () { state.spans.splice(index, 1); draw(); });
      item.appendChild(remove);
      list.appendChild(item);
    });
    document.getElementById("spans-field").value = JSON.stringify(spans);
  }

  function say(text) {
    var status = document.getElementById("span-status");
    if (status) { status.textContent = text; }
  }

  function setup() {
    var form = document.getElementById("answer-form");
    if (form) { form.dataset.ready = "1"; }
    var item = document.getElementById("item");
    if (item) { item.dataset.ready = "1"; }
    var box = document.getElementById("span-text");
    if (!box || (state && state.box === box)) { return; }
    // An undone answer's spans come back in the field: the pre-fill.
    var spans = JSON.parse(document.getElementById("spans-field").value || "[]");
    state = {box: box, chars: Array.from(JSON.parse(box.dataset.text)), spans: spans,
             pending: null};
    draw();
    document.querySelectorAll("[data-span-label]").forEach(function (button) {
      button.addEventListener("click", function () {
        var p = state.pending;
        if (!p) { say("Select some text first, then choose its label."); return; }
        state.spans.push({start: p.start, end: p.end, label: button.dataset.spanLabel});
        state.spans.sort(function (x, y) { return x.start - y.start || x.end - y.end; });
        state.pending = null;
        var selection = window.getSelection();
        if (selection) { selection.removeAllRanges(); }
        say("");
        draw();
      });
    });
  }

  // A collapsed selection (a click on a label button) keeps the text chosen before it.
  document.addEventListener("selectionchange", function () {
    if (!state || !document.body.contains(state.box)) { return; }
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) { return; }
    var range = selection.getRangeAt(0);
    if (!state.box.contains(range.startContainer) || !state.box.contains(range.endContainer)) {
      return;
    }
    var start = offsetOf(state.box, range.startContainer, range.startOffset);
    var end = offsetOf(state.box, range.endContainer, range.endOffset);
    if (start === null || end === null) { return; }
    while (start < end && /\s/.test(state.chars[start])) { start++; }
    while (end > start && /\s/.test(state.chars[end - 1])) { end--; }
    if (start >= end) { return; }
    state.pending = {start: start, end: end};
    say("Selected \u201c" + state.chars.slice(start, end).join("") + "\u201d: choose its label.");
  });

  document.addEventListener("DOMContentLoaded", setup);
  document.addEventListener("htmx:afterSettle", setup);
})();
