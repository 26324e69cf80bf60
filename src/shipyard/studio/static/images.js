// The annotator's page for image tasks: the image scaled to fit the window, and boxes
// drawn, selected, moved, resized, labelled and deleted on it (image_boxes).
// Loaded by labeling/work.html for image tasks only; no inline script (the studio's CSP):
// sizes and positions are set on element.style from here, which the policy allows.
//
// Boxes are kept in image pixels ({x, y, width, height, label}, top-left origin), as the
// service takes them; the screen's pixels are converted at every pointer event from the
// image's drawn size, so a window resized mid-drag still lands on the right pixels. Each
// box is rounded to whole pixels and clamped inside the image when a drag ends.
(function () {
  "use strict";

  //: The largest enlargement (a 32-pixel digit is drawn at most 16 times its size).
  var MAX_ZOOM = 16;
  //: A drag shorter than this many screen pixels is a click (it selects or unselects).
  var MIN_DRAG = 4;
  var ed = null;

  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

  // -- fitting ---------------------------------------------------------------------------
  function fit() {
    var stage = document.getElementById("image-stage");
    if (!stage) { return; }
    var img = stage.querySelector("img");
    var w = Number(stage.dataset.width), h = Number(stage.dataset.height);
    var room = stage.parentElement.clientWidth - 12;  // the corner handles' margin
    var top = stage.getBoundingClientRect().top + window.scrollY;
    // Below the header, leave room for the labels' row under the image.
    var high = Math.max(160, window.innerHeight - Math.min(top, 220) - 200);
    var zoom = Math.min(room / w, high / h, MAX_ZOOM);
    img.style.width = Math.max(1, Math.floor(w * zoom)) + "px";
    img.style.height = Math.max(1, Math.floor(h * zoom)) + "px";
    if (ed) { draw(); }
  }

  // -- the boxes -------------------------------------------------------------------------
  function scale() { return ed.img.getBoundingClientRect().width / ed.w; }

  function at(event) {
    var r = ed.img.getBoundingClientRect(), s = r.width / ed.w;
    return {x: clamp((event.clientX - r.left) / s, 0, ed.w),
            y: clamp((event.clientY - r.top) / s, 0, ed.h)};
  }

  function between(a, b, label) {
    return {x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.abs(a.x - b.x),
            height: Math.abs(a.y - b.y), label: label};
  }

  // Whole pixels, at least one wide, inside the image.
  function settle(b) {
    var x = clamp(Math.round(b.x), 0, ed.w - 1), y = clamp(Math.round(b.y), 0, ed.h - 1);
    var right = clamp(Math.round(b.x + b.width), x + 1, ed.w);
    var bottom = clamp(Math.round(b.y + b.height), y + 1, ed.h);
    return {x: x, y: y, width: right - x, height: bottom - y, label: b.label};
  }

  function say(text) { document.getElementById("box-status").textContent = text; }

  function describe(b, i) {
    return "Box " + (i + 1) + ": " + b.label + ", at " + Math.round(b.x) + ", " +
      Math.round(b.y) + ", " + Math.round(b.width) + " \u00d7 " + Math.round(b.height);
  }

  function draw() {
    if (!document.body.contains(ed.layer)) { return; }
    var s = scale();
    ed.layer.textContent = "";
    ed.boxes.forEach(function (b, i) {
      var el = document.createElement("div");
      el.className = "box c" + (ed.labels.indexOf(b.label) % 6) +
        (i === ed.selected ? " selected" : "");
      el.dataset.index = String(i);
      el.style.left = (b.x * s) + "px";
      el.style.top = (b.y * s) + "px";
      el.style.width = (b.width * s) + "px";
      el.style.height = (b.height * s) + "px";
      var tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = (i + 1) + " " + b.label;
      el.appendChild(tag);
      if (i === ed.selected) {
        ["nw", "ne", "sw", "se"].forEach(function (corner) {
          var handle = document.createElement("span");
          handle.className = "handle " + corner;
          handle.dataset.handle = corner;
          el.appendChild(handle);
        });
      }
      ed.layer.appendChild(el);
    });
    var list = document.getElementById("box-list");
    // The list is drawn anew: the keyboard's focus stays on the same entry's button.
    var focused = list.contains(document.activeElement) ? document.activeElement : null;
    var refocus = focused ? [focused.dataset.index, focused.className] : null;
    list.textContent = "";
    ed.boxes.forEach(function (b, i) {
      var li = document.createElement("li");
      var pick = document.createElement("button");
      pick.type = "button";
      pick.className = "box-pick";
      pick.textContent = describe(b, i);
      pick.setAttribute("aria-pressed", i === ed.selected ? "true" : "false");
      pick.dataset.index = String(i);
      pick.addEventListener("click", function () { select(i === ed.selected ? -1 : i); });
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Delete";
      remove.setAttribute("aria-label", "Delete box " + (i + 1) + " (" + b.label + ")");
      remove.className = "box-delete";
      remove.dataset.index = String(i);
      remove.addEventListener("click", function () { removeBox(i); });
      li.appendChild(pick);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(remove);
      list.appendChild(li);
    });
    if (!ed.boxes.length) {
      var none = document.createElement("li");
      none.className = "muted";
      none.textContent = "No box yet.";
      list.appendChild(none);
    }
    if (refocus) {
      var again = list.querySelector('[data-index="' + refocus[0] + '"].' +
                                     refocus[1].split(" ")[0]);
      if (again) { again.focus(); }
    }
    document.getElementById("delete-box").disabled = ed.selected < 0;
    document.getElementById("boxes-field").value = JSON.stringify(ed.boxes.map(settle));
  }

  function select(i) {
    ed.selected = i;
    if (i >= 0) {
      ed.select.value = ed.boxes[i].label;
      say("Selected " + describe(ed.boxes[i], i) + ".");
    } else {
      say("");
    }
    draw();
  }

  function removeBox(i) {
    if (i < 0 || i >= ed.boxes.length) { return; }
    var gone = ed.boxes.splice(i, 1)[0];
    ed.selected = -1;
    say("Deleted box " + (i + 1) + " (" + gone.label + ").");
    draw();
  }

  // A box from the keyboard: a quarter of the image's width and height, centred (or just
  // right of and below the selected box, so repeated boxes do not stack), selected, with
  // the label chosen; the arrows then move it and Shift with the arrows resize it.
  function newBox() {
    var w = Math.max(1, Math.round(ed.w / 4)), h = Math.max(1, Math.round(ed.h / 4));
    var x = Math.round((ed.w - w) / 2), y = Math.round((ed.h - h) / 2);
    if (ed.selected >= 0) {
      var prev = ed.boxes[ed.selected];
      x = clamp(Math.round(prev.x + prev.width / 2), 0, ed.w - w);
      y = clamp(Math.round(prev.y + prev.height / 2), 0, ed.h - h);
    }
    ed.boxes.push(settle({x: x, y: y, width: w, height: h, label: ed.select.value}));
    ed.selected = ed.boxes.length - 1;
    say("Drew " + describe(ed.boxes[ed.selected], ed.selected).replace(/^Box/, "box") +
        ". Arrows move it; Shift with the arrows resizes it.");
    draw();
  }

  function relabel(label) {
    ed.select.value = label;
    if (ed.selected >= 0) {
      ed.boxes[ed.selected].label = label;
      say("Box " + (ed.selected + 1) + " is now " + label + ".");
      draw();
    }
  }

  // -- the pointer: draw, move, resize ---------------------------------------------------
  function down(event) {
    if (event.button !== 0) { return; }
    event.preventDefault();
    var p = at(event), target = event.target;
    var boxEl = target.closest ? target.closest(".box") : null;
    var index = boxEl ? Number(boxEl.dataset.index) : -1;
    if (target.dataset && target.dataset.handle && index === ed.selected) {
      var b = ed.boxes[index], c = target.dataset.handle;
      // The corner opposite the one held stays where it is.
      var fixed = {x: c.indexOf("w") >= 0 ? b.x + b.width : b.x,
                   y: c.indexOf("n") >= 0 ? b.y + b.height : b.y};
      ed.drag = {mode: "resize", index: index, fixed: fixed};
    } else if (index >= 0) {
      var box = ed.boxes[index];
      ed.drag = {mode: "move", index: index, from: p, origin: {x: box.x, y: box.y}};
      ed.selected = index;
      ed.select.value = box.label;
    } else {
      ed.drag = {mode: "draw", from: p, index: -1};
    }
    ed.drag.screen = {x: event.clientX, y: event.clientY};
    ed.layer.setPointerCapture(event.pointerId);
    draw();
  }

  function move(event) {
    var d = ed && ed.drag;
    if (!d) { return; }
    var p = at(event);
    if (d.mode === "draw") {
      var far = Math.abs(event.clientX - d.screen.x) + Math.abs(event.clientY - d.screen.y);
      if (d.index < 0 && far < MIN_DRAG) { return; }
      if (d.index < 0) {
        ed.boxes.push(between(d.from, p, ed.select.value));
        d.index = ed.boxes.length - 1;
        ed.selected = d.index;
      }
      ed.boxes[d.index] = between(d.from, p, ed.boxes[d.index].label);
    } else if (d.mode === "move") {
      var b = ed.boxes[d.index];
      b.x = clamp(d.origin.x + p.x - d.from.x, 0, ed.w - b.width);
      b.y = clamp(d.origin.y + p.y - d.from.y, 0, ed.h - b.height);
    } else {
      ed.boxes[d.index] = between(d.fixed, p, ed.boxes[d.index].label);
    }
    draw();
  }

  function up() {
    var d = ed && ed.drag;
    if (!d) { return; }
    ed.drag = null;
    if (d.mode === "draw" && d.index < 0) {
      select(-1);  // a click on the image, not a drag: unselect
      return;
    }
    var b = settle(ed.boxes[d.index]);
    ed.boxes[d.index] = b;
    ed.selected = d.index;
    say((d.mode === "draw" ? "Drew " : d.mode === "move" ? "Moved " : "Resized ") +
        describe(b, d.index).replace(/^Box/, "box") + ".");
    draw();
  }

  // -- keys ------------------------------------------------------------------------------
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" ||
      (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    if (!ed || !document.body.contains(ed.layer) || event.ctrlKey || event.metaKey ||
        event.altKey || typing(event.target)) { return; }
    var i = ed.selected;
    if (event.key === "n" || event.key === "N") {
      event.preventDefault();
      newBox();
    } else if (/^[1-9]$/.test(event.key)) {
      var label = ed.labels[Number(event.key) - 1];
      if (label !== undefined) { event.preventDefault(); relabel(label); }
    } else if ((event.key === "Delete" || event.key === "Backspace") && i >= 0) {
      event.preventDefault();
      removeBox(i);
    } else if (event.key === "Escape" && i >= 0) {
      select(-1);
    } else if (event.key.indexOf("Arrow") === 0 && i >= 0) {
      event.preventDefault();
      var dx = event.key === "ArrowLeft" ? -1 : event.key === "ArrowRight" ? 1 : 0;
      var dy = event.key === "ArrowUp" ? -1 : event.key === "ArrowDown" ? 1 : 0;
      var b = ed.boxes[i];
      if (event.shiftKey) {
        b.width = clamp(b.width + dx, 1, ed.w - b.x);
        b.height = clamp(b.height + dy, 1, ed.h - b.y);
      } else {
        b.x = clamp(b.x + dx, 0, ed.w - b.width);
        b.y = clamp(b.y + dy, 0, ed.h - b.height);
      }
      say(describe(b, i) + ".");
      draw();
    }
  });

  // -- set up ----------------------------------------------------------------------------
  function setup() {
    fit();
    var layer = document.getElementById("box-layer");
    if (!layer || (ed && ed.layer === layer)) { return; }
    var stage = document.getElementById("image-stage");
    var chooser = document.getElementById("box-label");
    ed = {layer: layer, img: stage.querySelector("img"), select: chooser,
          w: Number(stage.dataset.width), h: Number(stage.dataset.height),
          labels: JSON.parse(chooser.dataset.labels), selected: -1, drag: null,
          // An undone answer's boxes come back in the field: the pre-fill.
          boxes: JSON.parse(document.getElementById("boxes-field").value || "[]")};
    layer.addEventListener("pointerdown", down);
    layer.addEventListener("pointermove", move);
    layer.addEventListener("pointerup", up);
    layer.addEventListener("pointercancel", up);
    chooser.addEventListener("change", function () { relabel(chooser.value); });
    document.getElementById("new-box").addEventListener("click", newBox);
    document.getElementById("delete-box").addEventListener("click", function () {
      removeBox(ed.selected);
    });
    if (!ed.img.complete) { ed.img.addEventListener("load", draw); }
    draw();
  }

  window.addEventListener("resize", fit);
  document.addEventListener("DOMContentLoaded", setup);
  document.addEventListener("htmx:afterSettle", setup);
})();
