/*
 * Attaching documents to a form (PDF, JPEG or PNG, as the service checks them): each chosen file is
 * sent to the site's /uploads at once; the form then names the stored uploads in hidden "documents"
 * inputs, which the service attaches to the document to sign (their hashes are signed with it).
 */
(function () {
  "use strict";

  function setUp(box) {
    var input = box.querySelector("input[type=file]");
    var list = box.querySelector("ul");
    var problem = box.querySelector(".problem");
    var most = Number(box.dataset.most || 3);

    function say(text) {
      problem.textContent = text;
      problem.hidden = false;
    }

    function add(upload) {
      var item = document.createElement("li");
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "documents";
      hidden.value = upload.id;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = box.dataset.msgRemove;
      remove.setAttribute("aria-label", box.dataset.msgRemove + ": " + upload.name);
      remove.addEventListener("click", function () { item.remove(); input.focus(); });
      item.append(upload.name + " (" + Math.ceil(upload.size / 1024) + " KB) ", hidden, remove);
      list.append(item);
    }

    input.addEventListener("change", async function () {
      problem.hidden = true;
      for (var i = 0; i < input.files.length; i++) {
        var file = input.files[i];
        if (list.children.length >= most) { say(box.dataset.msgTooMany); break; }
        var name = file.name.replace(/[\u0000-\u001f\u007f]/g, "").slice(0, 120) || "document";
        try {
          var response = await fetch(box.dataset.upload + "?name=" + encodeURIComponent(name), {
            method: "POST",
            body: file,
            credentials: "same-origin",
            headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": box.dataset.csrf }
          });
          var body = await response.json().catch(function () { return {}; });
          if (!response.ok) { say(name + ": " + (body.message || box.dataset.msgFailed)); continue; }
          add(body);
        } catch (error) {
          say(name + ": " + box.dataset.msgFailed);
        }
      }
      input.value = "";
    });
  }

  document.querySelectorAll("[data-upload]").forEach(setUp);
})();
