/*
 * Signing with NCALayer, the national CA's desktop signer that egov.kz uses: when it runs on this
 * computer (a WebSocket at wss://127.0.0.1:13579), the page offers "Sign with NCALayer" beside the key
 * file. NCALayer asks for the key (file, ID card or token) and its password itself and returns a CMS
 * SignedData (module kz.gov.pki.knca.basics, method "sign", format "cms", the document detached); the
 * page sends only that CMS. Nothing here sees a key or a password.
 */
(function () {
  "use strict";

  var SIGN_KEY_USAGE = "1.3.6.1.5.5.7.3.4"; // e-mail protection: НУЦ's SIGN keys
  var STORAGES = ["PKCS12", "AKKaztokenStore", "AKKZIDCardStore", "AKEToken72KStore", "AKJaCartaStore"];

  function base64OfText(text) {
    var bytes = new TextEncoder().encode(text);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary);
  }

  /* One request on a fresh connection; resolves with the reply that carries a status (NCALayer may send a
   * greeting with its version first). */
  function ask(url, request) {
    return new Promise(function (resolve, reject) {
      var socket;
      try {
        socket = new WebSocket(url);
      } catch (error) {
        reject(new Error("unavailable"));
        return;
      }
      socket.onopen = function () { socket.send(JSON.stringify(request)); };
      socket.onerror = function () { reject(new Error("unavailable")); };
      socket.onmessage = function (event) {
        var reply;
        try { reply = JSON.parse(event.data); } catch (error) { return; }
        if (!reply || typeof reply.status === "undefined") return;
        socket.close();
        resolve(reply);
      };
    });
  }

  function detect(url) {
    return new Promise(function (resolve) {
      var socket;
      try { socket = new WebSocket(url); } catch (error) { resolve(false); return; }
      var timer = setTimeout(function () { socket.close(); resolve(false); }, 3000);
      socket.onopen = function () { clearTimeout(timer); socket.close(); resolve(true); };
      socket.onerror = function () { clearTimeout(timer); resolve(false); };
    });
  }

  function setUp(section) {
    var panel = section.querySelector("#ncalayer");
    if (!panel) return;
    var url = panel.dataset.url;
    var button = panel.querySelector("#ncalayer-sign");
    var note = panel.querySelector("#ncalayer-note");
    var problem = section.querySelector("#key-problem");
    var form = section.querySelector("form");
    var document_ = JSON.parse(section.querySelector("#document-json").textContent);
    var identify = section.dataset.purpose === "identify";

    function say(code) {
      problem.textContent = section.dataset["msgNcalayer" + code] || code;
      problem.dataset.code = "NCALayer" + code;
      problem.hidden = false;
    }

    detect(url).then(function (running) {
      panel.dataset.state = running ? "running" : "absent";
      button.hidden = !running;
      note.hidden = running;
    });

    button.addEventListener("click", async function () {
      problem.hidden = true;
      button.disabled = true;
      var reply;
      try {
        reply = await ask(url, {
          module: "kz.gov.pki.knca.basics",
          method: "sign",
          args: {
            allowedStorages: STORAGES,
            format: "cms",
            data: base64OfText(document_),
            signingParams: { decode: true, encapsulate: false, digested: false, tsaProfile: {} },
            // Registration takes an AUTH or a SIGN key; a document, a SIGN key only.
            signerParams: { extKeyUsageOids: identify ? [] : [SIGN_KEY_USAGE], chain: [] },
            locale: document.documentElement.lang === "kk" ? "kk" : "ru"
          }
        });
      } catch (error) {
        say("Unavailable");
        button.disabled = false;
        return;
      }
      var result = reply.status && reply.body && reply.body.result;
      if (!result || !result.length) {
        say(reply.status ? "Cancelled" : "Failed");
        button.disabled = false;
        return;
      }
      form.querySelector("input[name=jws]").value = "";
      form.querySelector("input[name=cms]").value = result[0];
      form.submit();
    });
  }

  var section = document.getElementById("signing");
  if (section) setUp(section);
})();
