/*
 * Signing in the page, as with a national-CA key file: the person chooses their PKCS#12 file and types
 * its password; the key is opened here (node-forge reads the container; WebCrypto signs RSA and P-256,
 * gost.js НУЦ's GOST 2015 keys), the page
 * shows whose certificate it is and refuses, before anything is sent, a wrong password, an AUTH key,
 * a certificate outside its validity or someone else's key. Only the compact JWS (RFC 7515, the chain
 * in x5c) is sent; the file and its password have no name in the form, so they never leave the browser.
 */
(function () {
  "use strict";

  var OID = {
    commonName: "2.5.4.3",
    surname: "2.5.4.4",
    serialNumber: "2.5.4.5",
    organization: "2.5.4.10",
    organizationalUnit: "2.5.4.11",
    givenName: "2.5.4.42",
    keyUsage: "2.5.29.15",
    basicConstraints: "2.5.29.19",
    extKeyUsage: "2.5.29.37",
    emailProtection: "1.3.6.1.5.5.7.3.4",
    clientAuth: "1.3.6.1.5.5.7.3.2",
    ecPublicKey: "1.2.840.10045.2.1",
    gost2015: "1.2.398.3.10.1.1.2.2",
    rsaEncryption: "1.2.840.113549.1.1.1",
    shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
    keyBag: "1.2.840.113549.1.12.10.1.1",
    certBag: "1.2.840.113549.1.12.10.1.3"
  };

  function SigningProblem(code) {
    this.code = code;
  }

  function bytesOf(binary) {
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function binaryOf(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]);
    return out;
  }

  function base64url(bytes) {
    return btoa(binaryOf(bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function text(node) {
    // UTF8String (12) is UTF-8; PrintableString and the others used in names are ASCII.
    return node.type === forge.asn1.Type.UTF8 ? forge.util.decodeUtf8(node.value) : node.value;
  }

  function readName(name) {
    var out = {};
    name.value.forEach(function (rdn) {
      rdn.value.forEach(function (pair) {
        out[forge.asn1.derToOid(pair.value[0].value)] = text(pair.value[1]);
      });
    });
    return out;
  }

  function readTime(node) {
    return node.type === forge.asn1.Type.UTCTIME
      ? forge.asn1.utcTimeToDate(node.value)
      : forge.asn1.generalizedTimeToDate(node.value);
  }

  /* The few fields of an X.509 certificate the page needs, read from its DER (forge parses only RSA
   * certificates itself; these are ECDSA or RSA). */
  function readCertificate(der) {
    var cert = forge.asn1.fromDer(forge.util.createBuffer(der));
    var tbs = cert.value[0].value;
    var at = tbs[0].tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
    var info = {
      der: bytesOf(der),
      issuerRaw: forge.asn1.toDer(tbs[at + 2]).getBytes(),
      subjectRaw: forge.asn1.toDer(tbs[at + 4]).getBytes(),
      subject: readName(tbs[at + 4]),
      notBefore: readTime(tbs[at + 3].value[0]),
      notAfter: readTime(tbs[at + 3].value[1]),
      isCA: false,
      nonRepudiation: false,
      digitalSignature: false,
      ekus: []
    };
    tbs.slice(at + 6).forEach(function (part) {
      if (part.tagClass !== forge.asn1.Class.CONTEXT_SPECIFIC || part.type !== 3) return;
      part.value[0].value.forEach(function (extension) {
        var oid = forge.asn1.derToOid(extension.value[0].value);
        var value = forge.asn1.fromDer(extension.value[extension.value.length - 1].value);
        if (oid === OID.keyUsage) {
          var bits = value.value.charCodeAt(1) || 0;
          info.digitalSignature = (bits & 0x80) !== 0;
          info.nonRepudiation = (bits & 0x40) !== 0;
        } else if (oid === OID.basicConstraints) {
          info.isCA = value.value.length > 0 && value.value[0].type === forge.asn1.Type.BOOLEAN &&
            value.value[0].value.charCodeAt(0) !== 0;
        } else if (oid === OID.extKeyUsage) {
          info.ekus = value.value.map(function (o) { return forge.asn1.derToOid(o.value); });
        }
      });
    });
    return info;
  }

  function strip(value, prefix) {
    return value && value.indexOf(prefix) === 0 ? value.slice(prefix.length) : null;
  }

  /* Leaf first, then each certificate's issuer as found in the file (x5c order). */
  function orderChain(certs) {
    var leaf = certs.filter(function (c) { return !c.isCA; })[0];
    if (!leaf) throw new SigningProblem("NoCertificate");
    var chain = [leaf];
    for (var guard = 0; guard < certs.length; guard++) {
      var last = chain[chain.length - 1];
      if (last.issuerRaw === last.subjectRaw) break;
      var issuer = certs.filter(function (c) { return c.subjectRaw === last.issuerRaw && chain.indexOf(c) < 0; })[0];
      if (!issuer) break;
      chain.push(issuer);
    }
    return chain;
  }

  /* Open the PKCS#12 file: its signing key (as WebCrypto) and its chain. */
  async function openKeyFile(file, password) {
    var binary = binaryOf(new Uint8Array(await file.arrayBuffer()));
    var p12;
    try {
      var container = forge.asn1.fromDer(forge.util.createBuffer(binary));
      p12 = forge.pkcs12.pkcs12FromAsn1(container, true, password);
    } catch (error) {
      var message = String(error && error.message);
      throw new SigningProblem(/MAC|password|decrypt/i.test(message) ? "WrongPassword" : "NotAKeyFile");
    }
    var keys = [];
    var certs = [];
    p12.safeContents.forEach(function (safe) {
      safe.safeBags.forEach(function (bag) {
        if (bag.type === OID.shroudedKeyBag || bag.type === OID.keyBag) {
          keys.push(bag.asn1 || forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key)));
        } else if (bag.type === OID.certBag) {
          var asn = bag.asn1 || forge.pki.certificateToAsn1(bag.cert);
          certs.push(readCertificate(forge.asn1.toDer(asn).getBytes()));
        }
      });
    });
    if (keys.length !== 1) throw new SigningProblem("NotAKeyFile");
    var chain = orderChain(certs);
    var pkcs8 = keys[0];
    var algorithm = forge.asn1.derToOid(pkcs8.value[1].value[0].value);
    var jws;
    var importAs;
    if (algorithm === OID.gost2015) {
      // НУЦ's GOST 2015 keys: signed by gost.js, which only takes the 512-bit parameter set they use.
      var parameters = forge.asn1.derToOid(pkcs8.value[1].value[1].value[0].value);
      if (parameters !== "1.2.398.3.10.1.1.2.2.1") throw new SigningProblem("UnsupportedKey");
      var secret = window.EmhanaGost.privateNumber(bytesOf(pkcs8.value[2].value));
      return { gost: secret, alg: "KZ-GOST-2015-512", chain: chain, leaf: chain[0] };
    }
    if (algorithm === OID.ecPublicKey) {
      jws = "ES256";
      importAs = { name: "ECDSA", namedCurve: "P-256" };
    } else if (algorithm === OID.rsaEncryption) {
      jws = "RS256";
      importAs = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    } else {
      throw new SigningProblem("UnsupportedKey");
    }
    var key;
    try {
      key = await crypto.subtle.importKey("pkcs8", bytesOf(forge.asn1.toDer(pkcs8).getBytes()), importAs, false, ["sign"]);
    } catch (error) {
      throw new SigningProblem("UnsupportedKey");
    }
    return { key: key, alg: jws, chain: chain, leaf: chain[0] };
  }

  /* What the page checks before anything is sent (the server checks all of it again, and revocation). */
  function check(opened, expected, now) {
    var leaf = opened.leaf;
    var signing = leaf.digitalSignature && leaf.nonRepudiation && leaf.ekus.indexOf(OID.emailProtection) >= 0;
    // Proving who one is (registration) takes an AUTH key as well as a SIGN key, as egov.kz does.
    var identifying = expected.purpose === "identify" && leaf.digitalSignature;
    if (!signing && !identifying) return "AuthKey";
    if (now < leaf.notBefore) return "NotYetValid";
    if (now > leaf.notAfter) return "Expired";
    var iin = strip(leaf.subject[OID.serialNumber], "IIN");
    if (expected.iin && iin !== expected.iin) return "SomeoneElse";
    var bin = strip(leaf.subject[OID.organizationalUnit], "BIN");
    if (expected.bin && bin !== expected.bin) return "OtherOrganization";
    return null;
  }

  async function signCompact(opened, content) {
    var header = { alg: opened.alg, x5c: opened.chain.map(function (c) { return btoa(binaryOf(c.der)); }) };
    var input = base64url(new TextEncoder().encode(JSON.stringify(header))) + "." +
      base64url(new TextEncoder().encode(content));
    if (opened.gost !== undefined) {
      return input + "." + base64url(window.EmhanaGost.sign(opened.gost, new TextEncoder().encode(input)));
    }
    var algorithm = opened.alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5" };
    // WebCrypto's ECDSA signature is already the raw r‖s that JWS (RFC 7518, 3.4) wants.
    var signature = await crypto.subtle.sign(algorithm, opened.key, new TextEncoder().encode(input));
    return input + "." + base64url(new Uint8Array(signature));
  }

  function formatDate(date, lang) {
    return date.toLocaleDateString(lang === "kk" ? "kk-KZ" : "ru-RU", { year: "numeric", month: "long", day: "numeric" });
  }

  function setUp(section) {
    var form = section.querySelector("form");
    var fileInput = section.querySelector("#key-file");
    var passwordInput = section.querySelector("#key-password");
    var openButton = section.querySelector("#open-key");
    var signButton = section.querySelector("#sign-button");
    var info = section.querySelector("#key-info");
    var problem = section.querySelector("#key-problem");
    var document_ = JSON.parse(section.querySelector("#document-json").textContent);
    var expected = {
      iin: section.dataset.expectedIin || null,
      bin: section.dataset.expectedBin || null,
      purpose: section.dataset.purpose || "sign"
    };
    var now = new Date(section.dataset.now);
    var opened = null;

    function say(code, values) {
      var message = section.dataset["msg" + code] || code;
      Object.keys(values || {}).forEach(function (k) { message = message.replace("{" + k + "}", values[k]); });
      problem.textContent = message;
      problem.dataset.code = code;
      problem.hidden = false;
    }

    function reset() {
      opened = null;
      signButton.disabled = true;
      info.hidden = true;
      problem.hidden = true;
    }

    fileInput.addEventListener("change", reset);
    passwordInput.addEventListener("input", reset);
    passwordInput.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); openButton.click(); }
    });

    openButton.addEventListener("click", async function () {
      reset();
      if (!fileInput.files.length) { say("NoFile"); fileInput.focus(); return; }
      try {
        var candidate = await openKeyFile(fileInput.files[0], passwordInput.value);
      } catch (error) {
        say(error instanceof SigningProblem ? error.code : "NotAKeyFile");
        return;
      }
      var leaf = candidate.leaf;
      var subject = leaf.subject;
      info.querySelector("[data-owner]").textContent = subject[OID.commonName] || "—";
      info.querySelector("[data-iin]").textContent = strip(subject[OID.serialNumber], "IIN") || "—";
      info.querySelector("[data-bin]").textContent = strip(subject[OID.organizationalUnit], "BIN") || "—";
      info.querySelector("[data-organization]").textContent = subject[OID.organization] || "—";
      info.querySelector("[data-valid-until]").textContent = formatDate(leaf.notAfter, document.documentElement.lang);
      info.hidden = false;
      var refusal = check(candidate, expected, now);
      if (refusal) {
        say(refusal, { iin: strip(subject[OID.serialNumber], "IIN") || "—" });
        return;
      }
      opened = candidate;
      signButton.disabled = false;
      signButton.focus();
    });

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (!opened) { say("OpenFirst"); return; }
      signButton.disabled = true;
      try {
        form.querySelector("input[name=jws]").value = await signCompact(opened, document_);
      } catch (error) {
        say("SigningFailed");
        signButton.disabled = false;
        return;
      }
      passwordInput.value = "";
      form.submit();
    });
  }

  var section = document.getElementById("signing");
  if (section) setUp(section);
})();
