// Uploads with progress: a form marked data-upload (templates/_upload.html) is sent with
// XMLHttpRequest, whose upload progress events drive its <progress>. A file dropped on
// its drop zone is sent at once; a chosen file when the form is submitted. Every upload
// carries the page's CSRF token, as htmx requests do (studio.js).
(function () {
  "use strict";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function bytes(n) {
    if (n >= 1048576) { return (n / 1048576).toFixed(1) + " MB"; }
    if (n >= 1024) { return Math.round(n / 1024) + " kB"; }
    return n + " bytes";
  }

  // A dataset name from a file name: "WA churn (2024).csv" -> "WA-churn-2024".
  function nameFrom(filename) {
    var base = filename.replace(/(\.gz)?$/i, "").replace(/\.[^.]*$/, "");
    return base.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "")
      .replace(/\.\.+/g, ".").replace(/-+$/, "").slice(0, 128);
  }

  function message(box, text) {
    var p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    box.replaceChildren(p);
  }

  // The server's answer, in place: its own HTML fragment, or the message of a JSON error
  // (the body guard's 413, the gate's 403), or what went wrong with the connection.
  function answered(xhr, box) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (xhr.status === 0) {
      message(box, "The upload did not reach the server (the connection closed); the " +
        "file may be larger than the server takes.");
    } else if (type.indexOf("text/html") === 0) {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      box.replaceChildren.apply(box, Array.prototype.slice.call(doc.body.childNodes));
    } else {
      var text = xhr.status + " " + xhr.statusText;
      try {
        text = JSON.parse(xhr.responseText).error.message || text;
      } catch (ignored) { /* not JSON: the status line says it */ }
      message(box, text);
    }
  }

  function send(form, file) {
    var box = form.querySelector("[data-result]");
    var shown = form.querySelector("[data-progress]");
    var bar = shown.querySelector("progress");
    var label = shown.querySelector("[data-progress-text]");
    var name = form.querySelector('input[name="name"]');
    // A second click (or drop) while a file is on its way would send it again: the
    // first creates the dataset, the second is told that it already exists.
    if (form.getAttribute("aria-busy") === "true") { return; }
    if (!file) {
      message(box, "Choose a file, or drop one on the form.");
      return;
    }
    if (name && !name.value) { name.value = nameFrom(file.name); }
    if (!form.reportValidity()) { return; }
    var data = new FormData();
    if (name) { data.append("name", name.value); }
    var encoding = form.querySelector('select[name="encoding"]');
    if (encoding && encoding.value) { data.append("encoding", encoding.value); }
    data.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action"));
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        bar.max = event.total;
        bar.value = event.loaded;
        label.textContent = Math.floor(100 * event.loaded / event.total) + "% of " +
          bytes(event.total) + " sent";
      }
    });
    xhr.upload.addEventListener("load", function () {
      label.textContent += "; reading it…";
    });
    xhr.addEventListener("loadend", function () {
      form.removeAttribute("aria-busy");
      if (xhr.status >= 200 && xhr.status < 300) {
        label.textContent = "Done: " + bytes(bar.max) + " sent.";
      }
      answered(xhr, box);
    });
    box.replaceChildren();
    bar.value = 0;
    label.textContent = "Starting…";
    shown.hidden = false;
    form.setAttribute("aria-busy", "true");
    xhr.send(data);
  }

  function uploadForm(target) {
    return target instanceof Element ? target.closest("form[data-upload]") : null;
  }

  document.addEventListener("submit", function (event) {
    var form = uploadForm(event.target);
    if (!form) { return; }
    event.preventDefault();
    var input = form.querySelector('input[type="file"]');
    send(form, input && input.files.length ? input.files[0] : null);
  });

  ["dragenter", "dragover"].forEach(function (kind) {
    document.addEventListener(kind, function (event) {
      var zone = event.target instanceof Element && event.target.closest("[data-dropzone]");
      if (!zone) { return; }
      event.preventDefault();  // a drop here is ours, not the browser's navigation
      zone.classList.add("over");
    });
  });

  document.addEventListener("dragleave", function (event) {
    var zone = event.target instanceof Element && event.target.closest("[data-dropzone]");
    if (zone) { zone.classList.remove("over"); }
  });

  document.addEventListener("drop", function (event) {
    var zone = event.target instanceof Element && event.target.closest("[data-dropzone]");
    if (!zone) { return; }
    event.preventDefault();
    zone.classList.remove("over");
    var files = event.dataTransfer ? event.dataTransfer.files : null;
    send(uploadForm(zone), files && files.length ? files[0] : null);
  });
}());
