'use strict';
// concbench's reference Node.js server: the real system the Go models
// eventloop, offload and cluster stand for, serving the same route table
// (workloads/routes.go) with the same statuses, bodies and headers, so that
// concbench can load it beside them in one run.
//
//   node server.js --mode loop|pool|cluster --addr 127.0.0.1:PORT
//                  [--workers N] [--queue N] [--procs N] [--grace 10s]
//
// Modes:
//   loop    every request runs on the main thread (a plain Node server);
//   pool    /cpu and /regex run on a worker_threads pool of --workers threads
//           (4, like libuv's pool) with a FIFO queue of --queue jobs; a full
//           queue answers 503 at once, like concbench's offload model;
//   cluster the cluster module with its default scheduling (round-robin from
//           the primary on Linux), --procs children each in loop mode.
//
// Node >= 18 built-ins only. Once it accepts connections it prints exactly
// "listening on HOST:PORT" on stdout; on SIGTERM or SIGINT it stops
// accepting, lets in-flight requests finish for up to --grace, and exits 0.
//
// Where Node cannot do what the Go models do, it says so (see
// servers/reference/README.md): engine=re2 runs on V8's linear-time regexp
// engine (the experimental 'l' flag), answered 501 if this V8 lacks it;
// timeout_ms is enforced by running the match on a worker thread and
// terminating it at the deadline (in loop mode the main thread waits for it
// with Atomics.wait, so the loop stays blocked exactly as long as an
// in-line match would).

const http = require('http');
const crypto = require('crypto');
const cluster = require('cluster');
const fs = require('fs');
const os = require('os');
const v8 = require('v8');
const zlib = require('zlib');
const { performance } = require('perf_hooks');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

// The experimental linear-time engine must be enabled before the first
// RegExp with the 'l' flag is built; the flag is process-wide, so worker
// threads see it too.
v8.setFlagsFromString('--enable-experimental-regexp-engine');
// V8 interprets a regexp's bytecode the first time it runs and compiles it to
// machine code from the second run on ("tier-up"): measured here, the first
// match of ^(a+)+$ on 22 a's took 215 ms, the next ones 31 ms. Every
// worker_threads isolate tiers up on its own, and a concbench cell is a few
// seconds on a fresh server: with 4 workers on one CPU, node-pool's heavy
// matches took 2.5 s (p50) where a long-running server, and Go's regexp2,
// take ~100 ms. Compiling at once measures the steady state a production
// server is in; the cold first match is a start-up cost, not a concurrency
// model's.
v8.setFlagsFromString('--no-regexp-tier-up');

// ---- The route table's constants (workloads/routes.go, response.go) ----

const MAX_WAIT_MS = 60000;
const MAX_ITERS = 100000000;
const MAX_REGEX_N = 64;
const MAX_TIMEOUT = 60000;
const MAX_UNBOUNDED_BACKTRACK_N = 26;
const MAX_REGEX_REPS = 1000;
const MAX_PARAMS = 4;
const MAX_BODY = 1 << 20; // httpwire's limit on a (skipped) request body
const TEXT_PLAIN = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json';
const ROUTES = ['plain', 'io', 'cpu', 'regex', 'healthz', 'stats'];
const PATTERN = '^(a+)+$';

class RouteError {
  constructor(status, msg, allow) {
    this.status = status;
    this.msg = msg;
    this.allow = allow || '';
  }
}

const badRequest = (msg) => new RouteError(400, msg);

// ---- Work: the chained SHA-256 of workloads/cpu.go ----

const SEED = crypto.createHash('sha256').update('concbench').digest();

// Hasher runs rounds of SHA-256, each over the previous digest, from SEED.
class Hasher {
  constructor(iters) {
    this.sum = SEED;
    this.left = iters;
  }

  // step runs up to n more rounds and reports whether the chain is complete.
  step(n) {
    n = Math.max(0, Math.min(n, this.left));
    let sum = this.sum;
    for (let i = 0; i < n; i++) sum = crypto.createHash('sha256').update(sum).digest();
    this.sum = sum;
    this.left -= n;
    return this.left === 0;
  }

  body() {
    return this.sum.toString('hex') + '\n';
  }
}

// runCPU hashes on this thread and calls done with the body. Chunks are
// deferred with process.nextTick (drained before the loop polls again: nobody
// gets in between) or setImmediate (behind pending I/O: others run between
// chunks), exactly the two behaviours the route table names.
function runCPU(req, done) {
  const h = new Hasher(req.iters);
  if (req.chunk === 0) {
    h.step(req.iters);
    done(h.body());
    return;
  }
  const defer = req.defer === 'tick' ? process.nextTick : setImmediate;
  const next = () => {
    if (h.step(req.chunk)) done(h.body());
    else defer(next);
  };
  next();
}

// ---- Work: the catastrophic regex of workloads/regex.go ----

const BACKTRACK = new RegExp(PATTERN);
let LINEAR = null;
try {
  LINEAR = new RegExp(PATTERN, 'l');
} catch (_) {
  // This V8 has no linear engine: engine=re2 is answered 501.
}

const regexInput = (n) => 'a'.repeat(n) + '!';

// matchRegex runs the match reps times in a row (workloads.RunRegex), at
// least once.
function matchRegex(engine, n, reps) {
  const re = engine === 're2' ? LINEAR : BACKTRACK;
  const input = regexInput(n);
  let matched = re.test(input);
  for (let i = 1; i < reps; i++) matched = re.test(input);
  return matched;
}

const regexBody = (matched) => (matched ? 'match\n' : 'no match\n');

// goDurationMs renders ms like Go's time.Duration.String ("50ms", "1.5s", "1m0s").
function goDurationMs(ms) {
  if (ms < 1000) return ms + 'ms';
  const s = ms / 1000;
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  return m + 'm' + Math.round((s - m * 60) * 1000) / 1000 + 's';
}

const regexTimeoutBody = (req) =>
  'regex: backtracking match timed out after ' + goDurationMs(req.timeoutMs) + ' (n=' + req.n + ')\n';

// ---- Parsing (workloads.Parse), on byte strings ----
//
// Node hands the request target over as a latin1 string: one character per
// byte. Everything below works on such byte strings, so escapes that decode
// to invalid UTF-8 are quoted byte by byte, as Go does.

const HEX = /^[0-9a-fA-F]{2}$/;

// queryUnescape is url.QueryUnescape: '+' is a space, %XX a byte, any other
// '%' an error (null).
function queryUnescape(s) {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '%') {
      const h = s.substr(i + 1, 2);
      if (!HEX.test(h)) return null;
      out += String.fromCharCode(parseInt(h, 16));
      i += 2;
    } else if (c === '+') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// pathUnescape decodes %XX in a path and leaves malformed escapes as they are,
// then normalizes it the way fasthttp's URI.Path does: repeated slashes
// collapse, "." and ".." segments resolve.
function normalizePath(raw) {
  let p = '';
  for (let i = 0; i < raw.length; i++) {
    const h = raw.substr(i + 1, 2);
    if (raw[i] === '%' && HEX.test(h)) {
      p += String.fromCharCode(parseInt(h, 16));
      i += 2;
    } else {
      p += raw[i];
    }
  }
  if (p === '' || p[0] !== '/') p = '/' + p;
  const trailing = p.length > 1 && p.endsWith('/');
  const out = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  let norm = '/' + out.join('/');
  if (trailing && norm !== '/') norm += '/';
  return norm;
}

// splitTarget returns the path and raw query of a request target, in origin
// form ("/cpu?iters=1") or absolute form ("http://host/cpu?iters=1").
function splitTarget(url) {
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(url);
  if (abs) url = url.slice(abs[0].length);
  const hash = url.indexOf('#');
  if (hash >= 0) url = url.slice(0, hash);
  const q = url.indexOf('?');
  if (q < 0) return [normalizePath(url), ''];
  return [normalizePath(url.slice(0, q)), url.slice(q + 1)];
}

// utf8Rune decodes the rune at s[i] of a byte string like
// utf8.DecodeRuneInString: [rune, size], rune -1 for an invalid byte.
function utf8Rune(s, i) {
  const b0 = s.charCodeAt(i);
  if (b0 < 0x80) return [b0, 1];
  const cont = (j) => {
    const b = s.charCodeAt(j);
    return j < s.length && b >= 0x80 && b <= 0xbf ? b & 0x3f : -1;
  };
  let size, r, min;
  if (b0 >= 0xc2 && b0 <= 0xdf) [size, r, min] = [2, b0 & 0x1f, 0x80];
  else if (b0 >= 0xe0 && b0 <= 0xef) [size, r, min] = [3, b0 & 0x0f, 0x800];
  else if (b0 >= 0xf0 && b0 <= 0xf4) [size, r, min] = [4, b0 & 0x07, 0x10000];
  else return [-1, 1];
  for (let k = 1; k < size; k++) {
    const c = cont(i + k);
    if (c < 0) return [-1, 1];
    r = (r << 6) | c;
  }
  if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) return [-1, 1];
  return [r, size];
}

// PRINTABLE approximates unicode.IsPrint: letters, marks, numbers,
// punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function quoteRune(r, size, s, i) {
  const hex = (v, w) => v.toString(16).padStart(w, '0');
  if (r < 0) return '\\x' + hex(s.charCodeAt(i), 2);
  const c = String.fromCodePoint(r);
  if (c === '"' || c === '\\') return '\\' + c;
  if (PRINTABLE.test(c)) return Buffer.from(c, 'utf8').toString('latin1');
  switch (c) {
    case '\x07': return '\\a';
    case '\b': return '\\b';
    case '\f': return '\\f';
    case '\n': return '\\n';
    case '\r': return '\\r';
    case '\t': return '\\t';
    case '\v': return '\\v';
  }
  if (r < 0x20 || r === 0x7f) return '\\x' + hex(r, 2);
  if (r < 0x10000) return '\\u' + hex(r, 4);
  return '\\U' + hex(r, 8);
}

// quote is workloads.quote: s as a Go string literal with at most width
// bytes between the quotes, cut on a character boundary and marked "...".
// s and the result are byte strings.
function quote(s, width) {
  let b = '"';
  for (let i = 0; i < s.length;) {
    const [r, size] = utf8Rune(s, i);
    const q = quoteRune(r, size, s, i);
    if (b.length - 1 + q.length > width) return b + '..."';
    b += q;
    i += size;
  }
  return b + '"';
}

// parseRequest is workloads.Parse: a request object or a RouteError.
function parseRequest(method, path, rawQuery) {
  const route = { '/plain': 'plain', '/io': 'io', '/cpu': 'cpu', '/regex': 'regex', '/healthz': 'healthz', '/stats': 'stats' }[path];
  if (route === undefined) return new RouteError(404, 'not found: no route ' + quote(path, 64));
  if (method !== 'GET') return new RouteError(405, 'method not allowed: ' + quote(method, 16) + ' (only GET)', 'GET');
  const q = parseQuery(rawQuery);
  if (q instanceof RouteError) return q;
  const req = { route, waitMs: 0, block: false, iters: 0, chunk: 0, defer: '', n: 0, engine: '', timeoutMs: 0, reps: 0 };
  const err = route === 'io' ? parseIO(q, req) : route === 'cpu' ? parseCPU(q, req) : route === 'regex' ? parseRegex(q, req) : null;
  if (err) return err;
  for (const p of q) {
    if (!p.used) return badRequest('unknown parameter ' + quote(p.key, 32));
  }
  return req;
}

function parseQuery(raw) {
  const params = [];
  for (const kv of raw.split('&')) {
    if (kv === '') continue;
    const eq = kv.indexOf('=');
    const k = queryUnescape(eq < 0 ? kv : kv.slice(0, eq));
    const v = eq < 0 ? '' : queryUnescape(kv.slice(eq + 1));
    if (k === null || v === null) return badRequest('malformed query: bad escape in ' + quote(kv, 32));
    if (params.some((p) => p.key === k)) return badRequest('duplicate parameter ' + quote(k, 32));
    if (params.length === MAX_PARAMS) return badRequest('too many parameters (at most ' + MAX_PARAMS + ')');
    params.push({ key: k, val: v, used: false });
  }
  return params;
}

function take(q, key) {
  const p = q.find((p) => p.key === key);
  if (!p) return null;
  p.used = true;
  return p.val;
}

// intParam parses a decimal parameter in [lo, hi]; an absent optional one is 0.
function intParam(q, key, required, lo, hi) {
  const v = take(q, key);
  if (v === null) return required ? badRequest('missing parameter ' + key) : 0;
  if (v === '' || v.length > 10 || !/^[0-9]+$/.test(v)) {
    return badRequest(`parameter ${key}: want an integer in [${lo}, ${hi}], got ${quote(v, 16)}`);
  }
  const n = Number(v);
  if (n < lo || n > hi) return badRequest(`parameter ${key}: ${n} out of range [${lo}, ${hi}]`);
  return n;
}

function parseIO(q, req) {
  const ms = intParam(q, 'ms', true, 0, MAX_WAIT_MS);
  if (ms instanceof RouteError) return ms;
  req.waitMs = ms;
  const mode = take(q, 'mode');
  if (mode === null || mode === 'async') return null;
  if (mode === 'block') {
    req.block = true;
    return null;
  }
  return badRequest('parameter mode: want async or block, got ' + quote(mode, 16));
}

function parseCPU(q, req) {
  const iters = intParam(q, 'iters', true, 1, MAX_ITERS);
  if (iters instanceof RouteError) return iters;
  req.iters = iters;
  const chunk = intParam(q, 'chunk', false, 1, MAX_ITERS);
  if (chunk instanceof RouteError) return chunk;
  const mode = take(q, 'defer');
  if (chunk === 0 && mode === null) return null;
  if (chunk === 0) return badRequest('parameter defer needs chunk');
  if (mode === null) return badRequest('parameter chunk needs defer=tick or defer=loop');
  req.chunk = chunk;
  if (mode === 'tick' || mode === 'loop') {
    req.defer = mode;
    return null;
  }
  return badRequest('parameter defer: want tick or loop, got ' + quote(mode, 16));
}

function parseRegex(q, req) {
  const n = intParam(q, 'n', true, 0, MAX_REGEX_N);
  if (n instanceof RouteError) return n;
  req.n = n;
  const engine = take(q, 'engine');
  if (engine === null) return badRequest('missing parameter engine (backtrack or re2)');
  if (engine !== 'backtrack' && engine !== 're2') {
    return badRequest('parameter engine: want backtrack or re2, got ' + quote(engine, 16));
  }
  req.engine = engine;
  const ms = intParam(q, 'timeout_ms', false, 1, MAX_TIMEOUT);
  if (ms instanceof RouteError) return ms;
  req.timeoutMs = ms;
  if (engine === 'backtrack' && ms === 0 && n > MAX_UNBOUNDED_BACKTRACK_N) {
    return badRequest(`parameter n: backtrack with n > ${MAX_UNBOUNDED_BACKTRACK_N} needs timeout_ms (time doubles per character)`);
  }
  const reps = intParam(q, 'reps', false, 1, MAX_REGEX_REPS);
  if (reps instanceof RouteError) return reps;
  if (reps > 1 && ms > 0) return badRequest('parameter reps: not with timeout_ms (the timeout bounds one match)');
  if (engine === 'backtrack' && reps > 1 && reps > 2 ** (MAX_UNBOUNDED_BACKTRACK_N - n)) {
    return badRequest(`parameter reps: ${reps} matches of n=${n} cost more than one of n=${MAX_UNBOUNDED_BACKTRACK_N} (at most ${2 ** (MAX_UNBOUNDED_BACKTRACK_N - n)})`);
  }
  req.reps = reps;
  return null;
}

// ---- Worker threads: the pool's workers and the loop's regex watchdog ----

// workerMain serves jobs posted by the main thread: {id, kind, req}. A job's
// answer is {id, body}, or {id, error} if the work threw.
function workerMain() {
  const sab = workerData && workerData.sab ? new Int32Array(workerData.sab) : null;
  if (sab) {
    Atomics.store(sab, 2, 1);
    Atomics.notify(sab, 2);
  }
  parentPort.on('message', (job) => {
    try {
      if (job.kind === 'cpu') {
        runCPU(job.req, (body) => parentPort.postMessage({ id: job.id, body }));
        return;
      }
      const matched = matchRegex(job.req.engine, job.req.n, job.req.reps);
      if (sab) {
        // The watchdog: the main thread is blocked in Atomics.wait.
        Atomics.store(sab, 1, matched ? 1 : 0);
        Atomics.store(sab, 0, 1);
        Atomics.notify(sab, 0);
        return;
      }
      parentPort.postMessage({ id: job.id, body: regexBody(matched) });
    } catch (e) {
      parentPort.postMessage({ id: job.id, error: String(e && e.stack || e) });
    }
  });
}

// RegexWatchdog bounds a backtracking match that must run on the main
// thread (loop mode): the match runs on a helper thread while the main
// thread blocks in Atomics.wait, for at most the timeout. A match still
// running then is terminated (V8 interrupts a running regex) and a fresh
// helper started, so the loop is blocked as long as an in-line match with a
// deadline would block it, and no longer. The helper is started at the first
// bounded match, so a loop that never gets one has no extra thread.
//
// flags: [0] set to 1 when a match is done, [1] its result, [2] set to 1
// once the helper runs.
class RegexWatchdog {
  constructor() {
    this.worker = null;
  }

  spawn() {
    this.sab = new SharedArrayBuffer(12);
    this.flags = new Int32Array(this.sab);
    const w = new Worker(__filename, { workerData: { role: 'worker', sab: this.sab } });
    w.unref();
    w.on('error', () => {});
    w.on('exit', () => {
      if (this.worker === w) this.worker = null; // crashed: the next match starts another
    });
    this.worker = w;
  }

  // match returns true/false, or null when the timeout passed first.
  match(req) {
    if (this.worker === null) this.spawn();
    // A helper still starting up (a few ms) must not eat into the deadline.
    Atomics.wait(this.flags, 2, 0, 10000);
    Atomics.store(this.flags, 0, 0);
    this.worker.postMessage({ id: 0, kind: 'regex', req });
    if (Atomics.wait(this.flags, 0, 0, req.timeoutMs) === 'timed-out' && Atomics.load(this.flags, 0) === 0) {
      this.worker.terminate();
      this.spawn(); // starts while the loop goes on
      return null;
    }
    return Atomics.load(this.flags, 1) === 1;
  }
}

// Pool is a fixed set of worker threads taking jobs from one bounded FIFO
// queue, like libuv's pool and concbench's offload.Pool: submit refuses at
// once when every worker is busy and the queue holds cap jobs.
class Pool {
  constructor(workers, cap) {
    this.size = workers;
    this.cap = cap;
    this.queue = []; // jobs not yet handed to a worker, oldest at head
    this.head = 0;
    this.idle = [];
    this.running = new Map(); // worker -> job
    this.nextID = 1;
    this.peak = 0;
    this.rejected = 0;
    this.wait = new Hdr(); // queue wait, µs
    for (let i = 0; i < workers; i++) this.idle.push(this.spawn());
  }

  spawn() {
    const w = new Worker(__filename, { workerData: { role: 'worker' } });
    w.on('message', (m) => this.finished(w, m.error === undefined ? m.body : null, m.error));
    w.on('error', (e) => this.lost(w, e));
    w.on('exit', () => this.lost(w, null));
    return w;
  }

  depth() {
    return this.queue.length - this.head;
  }

  // submit queues fn's job, or returns false when the queue is full. done
  // receives (body, error, timedOut).
  submit(kind, req, done) {
    if (this.idle.length === 0 && this.depth() >= this.cap) {
      this.rejected++;
      return false;
    }
    this.queue.push({ id: this.nextID++, kind, req, done, queued: performance.now(), timer: null });
    this.peak = Math.max(this.peak, this.depth());
    this.dispatch();
    return true;
  }

  dispatch() {
    while (this.idle.length > 0 && this.depth() > 0) {
      const job = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      const w = this.idle.pop();
      this.wait.recordMs(performance.now() - job.queued);
      this.running.set(w, job);
      if (job.kind === 'regex' && job.req.timeoutMs > 0 && job.req.engine === 'backtrack') {
        // The deadline counts from when a worker starts the match, as
        // regexp2's does in the Go models.
        job.timer = setTimeout(() => this.timedOut(w), job.req.timeoutMs);
      }
      w.postMessage({ id: job.id, kind: job.kind, req: job.req });
    }
  }

  finished(w, body, error) {
    const job = this.running.get(w);
    if (!job) return;
    this.running.delete(w);
    clearTimeout(job.timer);
    this.idle.push(w);
    job.done(body, error, false);
    this.dispatch();
  }

  timedOut(w) {
    const job = this.running.get(w);
    if (!job) return;
    this.running.delete(w);
    w.removeAllListeners('exit');
    w.on('exit', () => {});
    w.terminate();
    this.idle.push(this.spawn());
    job.done(null, null, true);
    this.dispatch();
  }

  // lost replaces a worker that died on its own (it should not).
  lost(w, err) {
    if (stopping) return;
    const job = this.running.get(w);
    this.running.delete(w);
    const i = this.idle.indexOf(w);
    if (i >= 0) this.idle.splice(i, 1);
    w.removeAllListeners();
    w.on('error', () => {});
    w.terminate();
    this.idle.push(this.spawn());
    if (job) {
      clearTimeout(job.timer);
      job.done(null, 'worker exited: ' + (err ? err.message : 'no reason'), false);
    }
    this.dispatch();
  }

  stats() {
    return {
      workers: this.size,
      queue_cap: this.cap,
      queue_depth: this.depth(),
      queue_depth_peak: this.peak,
      busy: this.running.size,
      rejected: this.rejected,
      queue_wait: this.wait.summary(),
    };
  }
}

// ---- HdrHistogram, as servers.Histogram: 1 µs to 60 s, 3 digits ----
//
// Same geometry and the same V2 compressed encoding as hdrhistogram-go, so
// the Go side decodes, subtracts and merges these histograms like its own.

const HDR_HIGHEST = 60 * 1000 * 1000;
const SUB_HALF_MAG = 10; // ceil(log2(2 * 10^3)) - 1
const SUB_HALF = 1 << SUB_HALF_MAG;
const SUB_MASK = 2 * SUB_HALF - 1;

class Hdr {
  constructor() {
    this.counts = new Map(); // counts index -> count
    this.total = 0;
    this.max = 0;
  }

  static index(v) {
    const bucket = 32 - Math.clz32(v | SUB_MASK) - (SUB_HALF_MAG + 1);
    const sub = Math.floor(v / 2 ** bucket);
    return ((bucket + 1) << SUB_HALF_MAG) + sub - SUB_HALF;
  }

  static valueAt(idx) {
    let bucket = (idx >> SUB_HALF_MAG) - 1;
    let sub = (idx & (SUB_HALF - 1)) + SUB_HALF;
    if (bucket < 0) {
      sub -= SUB_HALF;
      bucket = 0;
    }
    return [sub * 2 ** bucket, 2 ** bucket]; // lowest equivalent value, range size
  }

  recordMs(ms) {
    this.record(Math.round(ms * 1000));
  }

  record(us) {
    us = Math.min(Math.max(us, 1), HDR_HIGHEST);
    this.add(Hdr.index(us), 1);
    this.max = Math.max(this.max, us);
  }

  add(idx, n) {
    this.counts.set(idx, (this.counts.get(idx) || 0) + n);
    this.total += n;
  }

  // pairs and merge carry a histogram between processes.
  pairs() {
    return [...this.counts];
  }

  merge(pairs) {
    for (const [idx, n] of pairs) {
      this.add(idx, n);
      const [lo, size] = Hdr.valueAt(idx);
      this.max = Math.max(this.max, lo + size - 1);
    }
  }

  encode() {
    const idxs = [...this.counts.keys()].sort((a, b) => a - b);
    const bytes = [];
    const varint = (v) => { // zig-zag LEB128 of a safe integer
      let z = v >= 0 ? v * 2 : -v * 2 - 1;
      while (z >= 0x80) {
        bytes.push((z % 0x80) | 0x80);
        z = Math.floor(z / 0x80);
      }
      bytes.push(z);
    };
    let next = 0;
    for (const idx of idxs) {
      const n = this.counts.get(idx);
      if (n === 0) continue;
      const zeros = idx - next;
      if (zeros === 1) varint(0);
      else if (zeros > 1) varint(-zeros);
      varint(n);
      next = idx + 1;
    }
    const payload = Buffer.from(bytes);
    const header = Buffer.alloc(40);
    header.writeInt32BE(0x1c849303 | 0x10, 0);
    header.writeInt32BE(payload.length, 4);
    header.writeInt32BE(0, 8); // normalizing index offset
    header.writeInt32BE(3, 12); // significant digits
    header.writeBigInt64BE(1n, 16); // lowest discernible value
    header.writeBigInt64BE(BigInt(HDR_HIGHEST), 24);
    header.writeDoubleBE(1, 32); // integer to double conversion ratio
    const z = zlib.deflateSync(Buffer.concat([header, payload]), { level: 9 });
    const out = Buffer.alloc(8 + z.length);
    out.writeInt32BE(0x1c849304 | 0x10, 0);
    out.writeInt32BE(z.length, 4);
    z.copy(out, 8);
    return out.toString('base64');
  }

  // summary is stats.HistSummary: figures in µs, as hdrhistogram-go
  // computes them (a quantile is the highest value equivalent to its bucket).
  summary() {
    const idxs = [...this.counts.keys()].sort((a, b) => a - b);
    const highest = (idx) => {
      const [lo, size] = Hdr.valueAt(idx);
      return lo + size - 1;
    };
    const quantile = (q) => {
      const want = Math.max(1, Math.floor((q / 100) * this.total + 0.5));
      let seen = 0;
      for (const idx of idxs) {
        seen += this.counts.get(idx);
        if (seen >= want) return highest(idx);
      }
      return 0;
    };
    let sum = 0;
    for (const idx of idxs) {
      const [lo, size] = Hdr.valueAt(idx);
      sum += this.counts.get(idx) * (lo + Math.floor(size / 2));
    }
    return {
      count: this.total,
      mean_us: this.total ? sum / this.total : 0,
      p50_us: this.total ? quantile(50) : 0,
      p99_us: this.total ? quantile(99) : 0,
      max_us: this.total ? highest(Hdr.index(this.max)) : 0,
      hdr: this.encode(),
    };
  }
}

// ---- Counters and /stats (stats/snapshot.go) ----

let stopping = false;

const counters = {
  start: performance.now(),
  inFlight: 0,
  completed: Object.fromEntries(ROUTES.map((r) => [r, 0])),
  byClass: [0, 0, 0, 0, 0, 0],
  peakThreads: 0,
};

function readStatus() {
  // Threads of this process from /proc (Linux); 0 where there is none.
  try {
    const m = /^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch (_) {
    return 0;
  }
}

function notePeak() {
  const n = readStatus();
  counters.peakThreads = Math.max(counters.peakThreads, n);
  return n;
}

// The loop-delay probe: like concbench's eventloop probe (and Node's own
// monitorEventLoopDelay), a timer due every 10 ms records how late it ran
// against its due time. One probe is outstanding at a time, so a loop blocked
// for 300 ms yields one sample of about 300 ms. Unlike monitorEventLoopDelay's
// raw histogram the figure excludes the 10 ms resolution itself, and unlike
// it the histogram travels to Go in HdrHistogram's encoding, so the runner
// can narrow it to a measurement window. Node timers have a 1 ms grain, so an
// idle loop shows up to ~1 ms, not microseconds.
const PROBE_MS = 10;
const loopDelay = new Hdr();

function startProbe() {
  let due = performance.now() + PROBE_MS;
  const tick = () => {
    const now = performance.now();
    loopDelay.recordMs(now - due);
    due = now + PROBE_MS;
    setTimeout(tick, PROBE_MS).unref();
  };
  setTimeout(tick, PROBE_MS).unref();
}

let elu0 = null;

// snapshot is this process's stats.Snapshot. Fields Node has no
// equivalent for (goroutines, gomaxprocs, runtime) are left out.
function snapshot(model, pool) {
  const threads = notePeak();
  const elu = performance.eventLoopUtilization();
  const snap = {
    model,
    pids: [process.pid],
    uptime_sec: (performance.now() - counters.start) / 1000,
    in_flight: counters.inFlight,
    completed: { ...counters.completed },
    responses: { '2xx': counters.byClass[2], '3xx': counters.byClass[3], '4xx': counters.byClass[4], '5xx': counters.byClass[5] },
    os_threads: threads,
    os_threads_peak: counters.peakThreads,
    rss_bytes: process.memoryUsage.rss(),
    loop_delay: loopDelay.summary(),
    loop_busy_sec: (elu.active - (elu0 ? elu0.active : 0)) / 1000,
  };
  if (pool) snap.pool = pool.stats();
  return snap;
}

// ---- Answers (workloads.Response rendered like httpwire.AppendResponse) ----

function countEnd(route, status) {
  counters.inFlight--;
  if (route && status < 400) counters.completed[route]++;
  const c = Math.floor(status / 100);
  if (c >= 1 && c <= 5) counters.byClass[c]++;
}

// respond writes one answer. Connection is always set explicitly: that stops
// Node from adding its own "Keep-Alive: timeout=5" header, which no Go model
// sends, and during shutdown it closes each connection after its answer.
function respond(res, ctx, status, body, { type = TEXT_PLAIN, allow = '', retryAfter = 0 } = {}) {
  if (ctx.answered) return;
  ctx.answered = true;
  ctx.status = status;
  const buf = Buffer.from(body, 'latin1');
  const headers = [['Server', 'concbench'], ['Content-Type', type], ['Content-Length', String(buf.length)]];
  if (allow) headers.push(['Allow', allow]);
  if (retryAfter) headers.push(['Retry-After', String(retryAfter)]);
  headers.push(['Connection', res.shouldKeepAlive && !stopping ? 'keep-alive' : 'close']);
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, GO_STATUS_TEXT[status] || http.STATUS_CODES[status], Object.fromEntries(headers));
  res.end(buf);
}

// GO_STATUS_TEXT holds the reason phrases where Go's http.StatusText and
// Node's differ, so the status lines match too.
const GO_STATUS_TEXT = { 413: 'Request Entity Too Large' };

function overloaded(res, ctx) {
  respond(res, ctx, 503, 'overloaded: worker queue full\n', { retryAfter: 1 });
}

// ---- The server of one process ----

function serveHTTP(opts, model, pool, onListening) {
  const watchdog = opts.mode === 'pool' ? null : new RegexWatchdog();
  const blocker = new Int32Array(new SharedArrayBuffer(4));

  function statsAnswer(res, ctx) {
    if (cluster.isWorker) {
      clusterStats((snap) => respond(res, ctx, 200, JSON.stringify(snap) + '\n', { type: JSON_TYPE }));
      return;
    }
    respond(res, ctx, 200, JSON.stringify(snapshot(model, pool)) + '\n', { type: JSON_TYPE });
  }

  function handle(req, res) {
    counters.inFlight++;
    const ctx = { answered: false, status: 0, route: '' };
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      countEnd(ctx.route, ctx.status || 499);
    };
    res.on('finish', end);
    res.on('close', end);
    try {
      route(req, res, ctx);
    } catch (e) {
      respond(res, ctx, 500, 'internal error\n');
    }
  }

  function route(req, res, ctx) {
    // What httpwire refuses before routing, refused the same way here, and
    // the connection closed after: its next request's position is unknown.
    const refuse = (status, msg) => {
      res.shouldKeepAlive = false;
      respond(res, ctx, status, msg + '\n');
    };
    if (req.httpVersionMajor !== 1) return refuse(505, 'HTTP version not supported');
    // Node 20's parser refuses this already (requireHostHeader); Node 18's does not.
    if (req.httpVersionMinor >= 1 && req.headers.host === undefined) return refuse(400, 'missing Host header');
    if (req.headers['transfer-encoding'] !== undefined) return refuse(501, 'Transfer-Encoding is not supported');
    if (Number(req.headers['content-length'] || 0) > MAX_BODY) return refuse(413, 'request body too large');
    const [path, rawQuery] = splitTarget(req.url);
    const r = parseRequest(req.method, path, rawQuery);
    if (r instanceof RouteError) {
      respond(res, ctx, r.status, r.msg + '\n', { allow: r.allow });
      return;
    }
    ctx.route = r.route;
    const ok = (body) => respond(res, ctx, 200, body);
    switch (r.route) {
      case 'plain':
        return ok('hello from concbench\n');
      case 'healthz':
        return ok('ok\n');
      case 'stats':
        return statsAnswer(res, ctx);
      case 'io':
        if (r.block) {
          // A synchronous sleep on the loop thread: nothing else runs.
          if (r.waitMs > 0) Atomics.wait(blocker, 0, 0, r.waitMs);
          return ok(`waited ${r.waitMs}ms (blocking)\n`);
        }
        setTimeout(() => ok(`waited ${r.waitMs}ms\n`), r.waitMs);
        return;
      case 'cpu':
        if (pool) {
          if (!pool.submit('cpu', r, (body, error) => (error ? respond(res, ctx, 500, 'internal error\n') : ok(body)))) overloaded(res, ctx);
          return;
        }
        return runCPU(r, ok);
      case 'regex':
        return regex(r, res, ctx, ok);
    }
  }

  function regex(r, res, ctx, ok) {
    if (r.engine === 're2' && !LINEAR) {
      respond(res, ctx, 501, 'regex: engine=re2 needs V8\'s linear-time engine, which this Node lacks\n');
      return;
    }
    if (pool) {
      const done = (body, error, timedOut) => {
        if (timedOut) respond(res, ctx, 503, regexTimeoutBody(r));
        else if (error) respond(res, ctx, 500, 'internal error\n');
        else ok(body);
      };
      if (!pool.submit('regex', r, done)) overloaded(res, ctx);
      return;
    }
    if (r.engine === 'backtrack' && r.timeoutMs > 0) {
      const matched = watchdog.match(r);
      if (matched === null) respond(res, ctx, 503, regexTimeoutBody(r));
      else ok(regexBody(matched));
      return;
    }
    ok(regexBody(matchRegex(r.engine, r.n, r.reps)));
  }

  // 8 KiB of header like httpwire (Node's default is 16 KiB).
  const server = http.createServer({ maxHeaderSize: 8192 }, handle);
  // Answer "Expect: 100-continue" requests directly, as the Go models do,
  // instead of Node's automatic interim 100 Continue.
  server.on('checkContinue', handle);
  // Malformed input is answered like the Go models do (a one-line reason,
  // then close), never left to crash the process.
  server.on('clientError', (err, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (socket._httpMessage && socket._httpMessage.headersSent) {
      socket.destroy();
      return;
    }
    const [status, msg] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'request header too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request timeout']
        : [400, 'malformed request (' + err.code + ')'];
    const body = msg + '\n';
    counters.byClass[Math.floor(status / 100)]++;
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nServer: concbench\r\nContent-Type: ${TEXT_PLAIN}\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });
  server.on('error', (err) => {
    process.stderr.write(`serve: ${err.message}\n`);
    process.exit(1);
  });
  server.listen({ host: opts.host, port: opts.port }, () => onListening(server));

  return server;
}

// drain stops server accepting, waits for in-flight requests up to grace,
// then exits 0.
function drain(server, graceMs) {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeIdleConnections && server.closeIdleConnections();
  const deadline = performance.now() + graceMs;
  const check = () => {
    if (counters.inFlight <= 0 || performance.now() >= deadline) process.exit(0);
    setTimeout(check, 5);
  };
  check();
}

// ---- Cluster: /stats over IPC, summed like servers/cluster.Aggregate ----

let statsSeq = 0;
const statsWaiting = new Map();

function clusterStats(cb) {
  const id = ++statsSeq;
  statsWaiting.set(id, cb);
  process.send({ concbench: 'stats-req', id });
}

function workerIPC(model) {
  process.on('message', (m) => {
    if (!m || typeof m !== 'object') return;
    if (m.concbench === 'snap-req') {
      const snap = snapshot(model, null);
      process.send({ concbench: 'snap', seq: m.seq, snap, delay: loopDelay.pairs() });
    } else if (m.concbench === 'stats') {
      const cb = statsWaiting.get(m.id);
      statsWaiting.delete(m.id);
      if (cb) cb(m.snap);
    }
  });
}

function primary(opts) {
  const model = 'node-cluster';
  let restarts = 0;
  let listening = 0;
  let printed = false;
  let snapSeq = 0;
  const gathers = new Map(); // seq -> {want, got: Map(worker id -> reply), done}

  const fork = () => {
    const w = cluster.fork({ CONCBENCH_NODE_CHILD: '1' });
    w.on('message', (m) => onMessage(w, m));
    return w;
  };

  function onMessage(w, m) {
    if (!m || typeof m !== 'object') return;
    if (m.concbench === 'stats-req') {
      gather((snap) => w.isConnected() && w.send({ concbench: 'stats', id: m.id, snap }));
    } else if (m.concbench === 'snap') {
      const g = gathers.get(m.seq);
      if (g) {
        g.got.set(w.id, m);
        if (g.got.size === g.want.length) g.done();
      }
    }
  }

  // gather asks every child for its snapshot and sums them; a child that
  // does not answer within 2 s (blocked, or restarting) is listed empty.
  function gather(cb) {
    const seq = ++snapSeq;
    const want = Object.values(cluster.workers).filter((w) => w.isConnected());
    const g = { want, got: new Map(), done: null };
    const timer = setTimeout(() => g.done(), 2000);
    g.done = () => {
      clearTimeout(timer);
      gathers.delete(seq);
      cb(aggregate(want.map((w) => g.got.get(w.id) || null)));
    };
    gathers.set(seq, g);
    if (want.length === 0) return g.done();
    for (const w of want) w.send({ concbench: 'snap-req', seq });
  }

  function aggregate(replies) {
    const agg = {
      model,
      pids: [process.pid],
      uptime_sec: 0,
      in_flight: 0,
      completed: Object.fromEntries(ROUTES.map((r) => [r, 0])),
      responses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
      os_threads: notePeak(),
      os_threads_peak: 0,
      rss_bytes: process.memoryUsage.rss(),
      loop_busy_sec: 0,
      procs: [],
    };
    agg.os_threads_peak = agg.os_threads;
    const delay = new Hdr();
    for (const r of replies) {
      if (!r) {
        agg.procs.push({ model: 'node-loop', pids: null, uptime_sec: 0, in_flight: 0, completed: null, responses: null, os_threads: 0, os_threads_peak: 0, rss_bytes: 0 });
        continue;
      }
      const p = r.snap;
      agg.procs.push(p);
      agg.pids.push(...p.pids);
      agg.uptime_sec = Math.max(agg.uptime_sec, p.uptime_sec);
      agg.in_flight += p.in_flight;
      for (const k in p.completed) agg.completed[k] += p.completed[k];
      for (const k in p.responses) agg.responses[k] += p.responses[k];
      agg.os_threads += p.os_threads;
      agg.os_threads_peak += p.os_threads_peak;
      agg.rss_bytes += p.rss_bytes;
      agg.loop_busy_sec += p.loop_busy_sec;
      delay.merge(r.delay);
    }
    agg.loop_delay = delay.summary();
    if (restarts) agg.restarts = restarts;
    return agg;
  }

  cluster.on('listening', () => {
    listening++;
    if (listening === opts.procs && !printed) {
      printed = true;
      const w = Object.values(cluster.workers)[0];
      w.send({ concbench: 'addr?' });
    }
  });
  cluster.on('message', (w, m) => {
    if (m && m.concbench === 'addr') process.stdout.write(`listening on ${m.addr}\n`);
  });
  cluster.on('exit', (w, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
      return;
    }
    if (!printed) {
      process.stderr.write(`serve: child ${w.process.pid} exited before listening (${signal || code})\n`);
      process.exit(1);
    }
    restarts++;
    fork();
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
    // Children exit within their grace; this bounds a child that does not.
    setTimeout(() => process.exit(0), opts.graceMs + 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let i = 0; i < opts.procs; i++) fork();
}

// ---- Command line ----

// parseGoDuration accepts Go's time.ParseDuration syntax ("10s", "1m30s",
// "250ms", "0") and returns milliseconds, or null.
function parseGoDuration(s) {
  if (s === '0') return 0;
  const units = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let pos = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    ms += Number(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  return pos === s.length && s.length > 0 ? ms : null;
}

// checkLoopback is launch.CheckLoopback: host:port on the loopback interface.
function checkLoopback(addr) {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):([^:]*)$/.exec(addr);
  if (!m) return [null, `address ${addr}: missing port in address`];
  const host = m[1] !== undefined ? m[1] : m[2];
  const port = m[3];
  if (!/^\d+$/.test(port) || Number(port) > 65535) return [null, `bad port "${port}"`];
  const loop = host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || /^::ffff:127\./i.test(host);
  if (!loop) return [null, `"${host}" is not a loopback address (use 127.0.0.1)`];
  return [{ host, port: Number(port) }, null];
}

function parseArgs(argv) {
  const o = { mode: 'loop', addr: '127.0.0.1:8080', workers: 4, queue: 1024, procs: os.availableParallelism ? os.availableParallelism() : os.cpus().length, grace: '10s' };
  const ints = { workers: [1, 1024], queue: [1, 1 << 20], procs: [1, 64] };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (!a.startsWith('-')) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    a = a.replace(/^--?/, '');
    let v;
    const eq = a.indexOf('=');
    if (eq >= 0) [a, v] = [a.slice(0, eq), a.slice(eq + 1)];
    if (!['mode', 'addr', 'workers', 'queue', 'procs', 'grace'].includes(a)) throw new Error(`flag provided but not defined: -${a}`);
    if (v === undefined) {
      if (i + 1 >= argv.length) throw new Error(`flag needs an argument: -${a}`);
      v = argv[++i];
    }
    if (ints[a]) {
      if (!/^\d+$/.test(v)) throw new Error(`invalid value ${JSON.stringify(v)} for flag -${a}: not an integer`);
      const n = Number(v);
      if (n < ints[a][0] || n > ints[a][1]) throw new Error(`${a}: ${n} out of range [${ints[a][0]}, ${ints[a][1]}]`);
      o[a] = n;
    } else {
      o[a] = v;
    }
  }
  if (!['loop', 'pool', 'cluster'].includes(o.mode)) throw new Error(`mode: want loop, pool or cluster, got ${JSON.stringify(o.mode)}`);
  o.graceMs = parseGoDuration(o.grace);
  if (o.graceMs === null) throw new Error(`grace: invalid duration ${JSON.stringify(o.grace)}`);
  const [hp, err] = checkLoopback(o.addr);
  if (err) throw new Error(`addr: ${err}`);
  o.host = hp.host;
  o.port = hp.port;
  return o;
}

function formatAddr(a) {
  return a.family === 'IPv6' || a.family === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

function main() {
  let opts;
  if (cluster.isWorker) {
    opts = JSON.parse(process.env.CONCBENCH_NODE_OPTS);
  } else {
    try {
      opts = parseArgs(process.argv.slice(2));
    } catch (e) {
      process.stderr.write(`serve: ${e.message}\n`);
      process.exit(2);
    }
  }
  process.on('uncaughtException', (e) => {
    // A bug must not take the server down mid-measurement: log and go on.
    process.stderr.write(`uncaught: ${e && e.stack || e}\n`);
  });
  if (opts.mode === 'cluster' && cluster.isPrimary) {
    process.env.CONCBENCH_NODE_OPTS = JSON.stringify(opts);
    primary(opts);
    return;
  }
  const model = cluster.isWorker ? 'node-loop' : 'node-' + opts.mode;
  const pool = opts.mode === 'pool' ? new Pool(opts.workers, opts.queue) : null;
  elu0 = performance.eventLoopUtilization();
  startProbe();
  setInterval(notePeak, 100).unref();
  const server = serveHTTP(opts, model, pool, (srv) => {
    if (!cluster.isWorker) process.stdout.write(`listening on ${formatAddr(srv.address())}\n`);
  });
  if (cluster.isWorker) {
    workerIPC(model);
    process.on('message', (m) => {
      if (m && m.concbench === 'addr?') process.send({ concbench: 'addr', addr: formatAddr(server.address()) });
    });
  }
  process.on('SIGTERM', () => drain(server, opts.graceMs));
  process.on('SIGINT', () => drain(server, opts.graceMs));
}

if (isMainThread) main();
else workerMain();
