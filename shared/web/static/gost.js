/*
 * GOST R 34.10-2015 signatures (tc26 512 paramSetA) with Streebog-512, as НУЦ РК's keys make them: the
 * signer of the page for GOST key files. The Kazakh byte order of shared/gost.py: the digest is read as
 * a little-endian number and the signature is r then s, each 64 bytes little-endian. Signing happens
 * once per document on the person's own computer, so plain BigInt arithmetic is fast enough (tens of
 * milliseconds); it is not constant-time, like every JavaScript implementation of it.
 */
(function () {
  "use strict";

  var tables = window.EmhanaGostTables;
  var T = new Uint32Array(tables.T.length / 8);
  for (var i = 0; i < T.length; i++) T[i] = parseInt(tables.T.substr(i * 8, 8), 16);
  var C = tables.C.map(hexBytes);

  function hexBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function xor(a, b) {
    var out = new Uint8Array(64);
    for (var i = 0; i < 64; i++) out[i] = a[i] ^ b[i];
    return out;
  }

  function add512(a, b) {
    var out = new Uint8Array(64);
    var carry = 0;
    for (var i = 0; i < 64; i++) {
      var sum = a[i] + b[i] + carry;
      out[i] = sum & 0xff;
      carry = sum >> 8;
    }
    return out;
  }

  /* S, P and L at once: word j of the result is the XOR over i of table i at byte j of word i. */
  function lps(state) {
    var out = new Uint8Array(64);
    for (var j = 0; j < 8; j++) {
      var lo = 0;
      var hi = 0;
      for (var i = 0; i < 8; i++) {
        var at = (i * 256 + state[8 * i + j]) * 2;
        lo ^= T[at];
        hi ^= T[at + 1];
      }
      for (var k = 0; k < 4; k++) {
        out[8 * j + k] = (lo >>> (8 * k)) & 0xff;
        out[8 * j + 4 + k] = (hi >>> (8 * k)) & 0xff;
      }
    }
    return out;
  }

  function compress(h, n, block) {
    var key = lps(xor(h, n));
    var state = xor(key, block);
    for (var round = 0; round < 12; round++) {
      state = lps(state);
      key = lps(xor(key, C[round]));
      state = xor(state, key);
    }
    return xor(xor(state, h), block);
  }

  function lengthBlock(bits) {
    var out = new Uint8Array(64);
    out[0] = bits & 0xff;
    out[1] = (bits >> 8) & 0xff;
    return out;
  }

  /* Streebog-512 of ``data`` (a Uint8Array), in the reference implementation's byte order. */
  function streebog512(data) {
    var h = new Uint8Array(64);
    var n = new Uint8Array(64);
    var sigma = new Uint8Array(64);
    var zero = new Uint8Array(64);
    var full = data.length - (data.length % 64);
    for (var offset = 0; offset < full; offset += 64) {
      var block = data.slice(offset, offset + 64);
      h = compress(h, n, block);
      n = add512(n, lengthBlock(512));
      sigma = add512(sigma, block);
    }
    var last = new Uint8Array(64);
    last.set(data.slice(full));
    last[data.length - full] = 1;
    h = compress(h, n, last);
    n = add512(n, lengthBlock(8 * (data.length - full)));
    sigma = add512(sigma, last);
    h = compress(h, zero, n);
    return compress(h, zero, sigma);
  }

  // tc26-gost-3410-12-512-paramSetA
  var P = (1n << 512n) - 569n;
  var A = P - 3n;
  var Q = BigInt("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff27e69532f48d89116ff22b8d4e0560609b4b38abfad2b85dcacdb1411f10b275");
  var G = [3n, BigInt("0x7503cfe87a836ae3a61b8816e25450e6ce5e1c93acf1abc1778064fdcbefa921df1626be4fd036e93d75e6a50e3a41e98028fe5fc235f5b889a589cb5215f2a4")];

  function mod(a, m) { var r = a % m; return r < 0n ? r + m : r; }

  function inverse(a, m) {
    var t = 0n, newT = 1n, r = m, newR = mod(a, m);
    while (newR !== 0n) {
      var quotient = r / newR;
      var swap = t - quotient * newT; t = newT; newT = swap;
      swap = r - quotient * newR; r = newR; newR = swap;
    }
    return mod(t, m);
  }

  // Jacobian coordinates [X, Y, Z]; Z = 0 is the point at infinity.
  function double(point) {
    var x = point[0], y = point[1], z = point[2];
    if (z === 0n || y === 0n) return [1n, 1n, 0n];
    var yy = y * y % P;
    var s = 4n * x * yy % P;
    var zz = z * z % P;
    var m = mod(3n * x * x + A * zz * zz, P);
    var x3 = mod(m * m - 2n * s, P);
    return [x3, mod(m * (s - x3) - 8n * yy * yy, P), 2n * y * z % P];
  }

  function add(first, second) {
    if (first[2] === 0n) return second;
    if (second[2] === 0n) return first;
    var z1z1 = first[2] * first[2] % P, z2z2 = second[2] * second[2] % P;
    var u1 = first[0] * z2z2 % P, u2 = second[0] * z1z1 % P;
    var s1 = first[1] * second[2] % P * z2z2 % P, s2 = second[1] * first[2] % P * z1z1 % P;
    if (u1 === u2) return s1 === s2 ? double(first) : [1n, 1n, 0n];
    var h = mod(u2 - u1, P), r = mod(s2 - s1, P);
    var hh = h * h % P, hhh = h * hh % P, v = u1 * hh % P;
    var x3 = mod(r * r - hhh - 2n * v, P);
    return [x3, mod(r * (v - x3) - s1 * hhh, P), h * first[2] % P * second[2] % P];
  }

  function multiply(k, point) {
    var result = [1n, 1n, 0n];
    var base = [point[0], point[1], 1n];
    for (var bit = BigInt(k.toString(2).length) - 1n; bit >= 0n; bit--) {
      result = double(result);
      if ((k >> bit) & 1n) result = add(result, base);
    }
    var zInverse = inverse(result[2], P);
    var zz = zInverse * zInverse % P;
    return [result[0] * zz % P, result[1] * zz % P * zInverse % P];
  }

  function littleEndianNumber(bytes) {
    var value = 0n;
    for (var i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    return value;
  }

  function littleEndianBytes(value, size) {
    var out = new Uint8Array(size);
    for (var i = 0; i < size; i++) { out[i] = Number(value & 0xffn); value >>= 8n; }
    return out;
  }

  function randomScalar() {
    var bytes = new Uint8Array(64);
    for (;;) {
      crypto.getRandomValues(bytes);
      var k = littleEndianNumber(bytes) % Q;
      if (k !== 0n) return k;
    }
  }

  /* r ‖ s (each 64 bytes, little-endian) over ``message`` with the private number ``d``. */
  function sign(d, message) {
    var e = littleEndianNumber(streebog512(message)) % Q || 1n;
    for (;;) {
      var k = randomScalar();
      var r = multiply(k, G)[0] % Q;
      var s = (r * d + k * e) % Q;
      if (r !== 0n && s !== 0n) {
        var out = new Uint8Array(128);
        out.set(littleEndianBytes(r, 64), 0);
        out.set(littleEndianBytes(s, 64), 64);
        return out;
      }
    }
  }

  /* The private number inside a PKCS#8 privateKey: an INTEGER, an OCTET STRING (little-endian), or the bare
   * little-endian bytes, as НУЦ's key files hold it. */
  function privateNumber(octets) {
    if (octets.length > 2 && (octets[0] === 0x02 || octets[0] === 0x04) && octets[1] === octets.length - 2) {
      var body = octets.slice(2);
      if (octets[0] === 0x02) {
        var value = 0n;
        for (var i = 0; i < body.length; i++) value = (value << 8n) | BigInt(body[i]);
        return value;
      }
      return littleEndianNumber(body);
    }
    return littleEndianNumber(octets);
  }

  window.EmhanaGost = { streebog512: streebog512, sign: sign, privateNumber: privateNumber, multiply: multiply, G: G };
})();
