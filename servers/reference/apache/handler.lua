-- concbench's route table for Apache httpd's mod_lua (the apache-worker
-- reference server). It mirrors workloads.Parse, workloads/response.go and
-- workloads.Hash in Go: the same statuses, bodies and headers; the
-- deviations are listed in servers/reference/README-apache.md.
--
-- Every request runs here, on the worker MPM thread that accepted its
-- connection: hashing, sleeping and regex matching hold that thread until
-- the answer is written, as in the Apache of the seed articles. With
-- "LuaScope thread" each worker thread has its own Lua state, kept for the
-- life of the thread, so this file's locals are per thread.
--
-- The Go side (servers/reference/apache.go) renders MAX_THREADS below
-- (the file is a text/template).

local MODEL = "apache-worker"
local MAX_THREADS = {{.MaxThreads}}

local TEXT = "text/plain; charset=utf-8"
local JSON = "application/json"

-- Bounds, as in workloads/routes.go.
local MAX_WAIT_MS = 60000
local MAX_ITERS = 100000000
local MAX_REGEX_N = 64
local MAX_TIMEOUT = 60000
local MAX_UNBOUNDED_BACKTRACK_N = 26
local MAX_REGEX_REPS = 1000
local MAX_PARAMS = 4

-- Route indexes, in workloads.Route order.
local ROUTES = { "plain", "io", "cpu", "regex", "healthz", "stats" }
local PATHS = { ["/plain"] = 1, ["/io"] = 2, ["/cpu"] = 3, ["/regex"] = 4, ["/healthz"] = 5, ["/stats"] = 6 }

----------------------------------------------------------------------------
-- SHA-256 (FIPS 180-4) on Lua 5.3 integers: workloads.Hash's chain, seeded
-- with SHA-256("concbench"), each round hashing the previous 32-byte digest.

local K = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local IV = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
local M32 = 0xffffffff

-- w is reused by every round: the message schedule of one block.
local w = {}

-- compress returns IV's compression of the block in w[1..16]. Values are
-- kept to 32 bits before every right shift; a left shift's bits above 32
-- only ever reach bits above 32, which the masks drop.
local function compress()
	for j = 17, 64 do
		local a, b = w[j - 15], w[j - 2]
		local s0 = ((a >> 7) | (a << 25)) ~ ((a >> 18) | (a << 14)) ~ (a >> 3)
		local s1 = ((b >> 17) | (b << 15)) ~ ((b >> 19) | (b << 13)) ~ (b >> 10)
		w[j] = (w[j - 16] + s0 + w[j - 7] + s1) & M32
	end
	local a, b, c, d, e, f, g, h = IV[1], IV[2], IV[3], IV[4], IV[5], IV[6], IV[7], IV[8]
	for j = 1, 64 do
		local S1 = ((e >> 6) | (e << 26)) ~ ((e >> 11) | (e << 21)) ~ ((e >> 25) | (e << 7))
		local ch = (e & f) ~ (~e & g)
		local t1 = h + S1 + ch + K[j] + w[j]
		local S0 = ((a >> 2) | (a << 30)) ~ ((a >> 13) | (a << 19)) ~ ((a >> 22) | (a << 10))
		local maj = (a & b) ~ (a & c) ~ (b & c)
		h, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + S0 + maj) & M32
	end
	return (IV[1] + a) & M32, (IV[2] + b) & M32, (IV[3] + c) & M32, (IV[4] + d) & M32,
		(IV[5] + e) & M32, (IV[6] + f) & M32, (IV[7] + g) & M32, (IV[8] + h) & M32
end

-- sha256short hashes a message shorter than 56 bytes (one padded block).
local function sha256short(msg)
	local padded = msg .. "\128" .. string.rep("\0", 55 - #msg) .. string.pack(">I8", #msg * 8)
	for j = 1, 16 do
		w[j] = string.unpack(">I4", padded, 4 * j - 3)
	end
	return compress()
end

local SEED = table.pack(sha256short("concbench"))

-- hash runs iters rounds of the chain and returns the hex digest. A 32-byte
-- digest pads to one block whose words 9..16 never change.
local function hash(iters)
	local h1, h2, h3, h4, h5, h6, h7, h8 = table.unpack(SEED, 1, 8)
	for _ = 1, iters do
		w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8] = h1, h2, h3, h4, h5, h6, h7, h8
		w[9], w[10], w[11], w[12], w[13], w[14], w[15], w[16] = 0x80000000, 0, 0, 0, 0, 0, 0, 256
		h1, h2, h3, h4, h5, h6, h7, h8 = compress()
	end
	return string.format("%08x%08x%08x%08x%08x%08x%08x%08x", h1, h2, h3, h4, h5, h6, h7, h8)
end

----------------------------------------------------------------------------
-- Parsing, as workloads.Parse.

-- quote renders s like Go's strconv.Quote, cut like workloads' quote: at most
-- width bytes between the quotes, a longer literal cut on a character
-- boundary and marked with "...". Valid multi-byte UTF-8 characters are kept
-- as they are (Go escapes the few non-printable ones as \u....).
local ESC = { [7] = "\\a", [8] = "\\b", [12] = "\\f", [10] = "\\n", [13] = "\\r", [9] = "\\t", [11] = "\\v", [34] = '\\"', [92] = "\\\\" }
local function quote(s, width)
	local out, n, i = { '"' }, 0, 1
	while i <= #s do
		local c = s:byte(i)
		local piece, size
		if c < 0x80 then
			size = 1
			piece = ESC[c] or ((c < 0x20 or c == 0x7f) and string.format("\\x%02x", c)) or string.char(c)
		else
			-- The length a lead byte announces; the sequence is kept only if
			-- it is a whole valid character.
			local want = (c >= 0xc2 and c <= 0xdf and 2) or (c >= 0xe0 and c <= 0xef and 3) or (c >= 0xf0 and c <= 0xf4 and 4) or 1
			size = 1
			if want > 1 and utf8.len(s:sub(i, i + want - 1)) == 1 and #s:sub(i, i + want - 1) == want then
				size = want
			end
			if size == 1 then
				piece = string.format("\\x%02x", c)
			else
				piece = s:sub(i, i + size - 1)
			end
		end
		if n + #piece > width then
			out[#out + 1] = '..."'
			return table.concat(out)
		end
		out[#out + 1] = piece
		n = n + #piece
		i = i + size
	end
	out[#out + 1] = '"'
	return table.concat(out)
end

local function fail(status, msg, allow)
	return nil, { status = status, msg = msg, allow = allow }
end

local function bad(fmt, ...)
	return fail(400, string.format(fmt, ...))
end

-- unescape is url.QueryUnescape: "+" is a space, "%" takes two hex digits.
local function unescape(s)
	if not s:find("[%%+]") then
		return s
	end
	if s:find("%%%x?[^%x]") or s:find("%%%x?$") then
		return nil
	end
	return (s:gsub("%+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- parseQuery splits the raw query into at most MAX_PARAMS distinct keys.
local function parseQuery(raw)
	local q = { keys = {}, vals = {}, used = {} }
	for kv in (raw .. "&"):gmatch("([^&]*)&") do
		if kv ~= "" then
			local k, v = kv, ""
			local eq = kv:find("=", 1, true)
			if eq then
				k, v = kv:sub(1, eq - 1), kv:sub(eq + 1)
			end
			k = unescape(k)
			if k then v = unescape(v) end
			if not k or not v then
				return bad("malformed query: bad escape in %s", quote(kv, 32))
			end
			for i = 1, #q.keys do
				if q.keys[i] == k then
					return bad("duplicate parameter %s", quote(k, 32))
				end
			end
			if #q.keys == MAX_PARAMS then
				return bad("too many parameters (at most %d)", MAX_PARAMS)
			end
			q.keys[#q.keys + 1], q.vals[#q.vals + 1] = k, v
		end
	end
	return q
end

local function take(q, key)
	for i = 1, #q.keys do
		if q.keys[i] == key then
			q.used[i] = true
			return q.vals[i]
		end
	end
	return nil
end

-- intParam parses a decimal parameter in [lo, hi]; an absent optional one is 0.
local function intParam(q, key, required, lo, hi)
	local v = take(q, key)
	if v == nil then
		if required then
			return bad("missing parameter %s", key)
		end
		return 0
	end
	if v == "" or #v > 10 or v:find("[^0-9]") then
		return bad("parameter %s: want an integer in [%d, %d], got %s", key, lo, hi, quote(v, 16))
	end
	local n = math.tointeger(tonumber(v))
	if n < lo or n > hi then
		return bad("parameter %s: %d out of range [%d, %d]", key, n, lo, hi)
	end
	return n
end

local function parseIO(q, req)
	local ms, err = intParam(q, "ms", true, 0, MAX_WAIT_MS)
	if err then return nil, err end
	req.ms = ms
	local mode = take(q, "mode")
	if mode == "block" then
		req.block = true
	elseif mode ~= nil and mode ~= "async" then
		return bad("parameter mode: want async or block, got %s", quote(mode, 16))
	end
	return req
end

local function parseCPU(q, req)
	local iters, err = intParam(q, "iters", true, 1, MAX_ITERS)
	if err then return nil, err end
	req.iters = iters
	local chunk
	chunk, err = intParam(q, "chunk", false, 1, MAX_ITERS)
	if err then return nil, err end
	local mode = take(q, "defer")
	if chunk == 0 and mode == nil then
		return req
	elseif chunk == 0 then
		return bad("parameter defer needs chunk")
	elseif mode == nil then
		return bad("parameter chunk needs defer=tick or defer=loop")
	end
	if mode ~= "tick" and mode ~= "loop" then
		return bad("parameter defer: want tick or loop, got %s", quote(mode, 16))
	end
	-- A thread holds the request until it is done: there is no loop to yield
	-- to, so chunking changes nothing and the hash runs straight through.
	req.chunk, req.defer = chunk, mode
	return req
end

local function parseRegex(q, req)
	local n, err = intParam(q, "n", true, 0, MAX_REGEX_N)
	if err then return nil, err end
	req.n = n
	local engine = take(q, "engine")
	if engine == nil then
		return bad("missing parameter engine (backtrack or re2)")
	elseif engine ~= "backtrack" and engine ~= "re2" then
		return bad("parameter engine: want backtrack or re2, got %s", quote(engine, 16))
	end
	req.engine = engine
	local ms
	ms, err = intParam(q, "timeout_ms", false, 1, MAX_TIMEOUT)
	if err then return nil, err end
	req.timeout_ms = ms
	if engine == "backtrack" and ms == 0 and n > MAX_UNBOUNDED_BACKTRACK_N then
		return bad("parameter n: backtrack with n > %d needs timeout_ms (time doubles per character)", MAX_UNBOUNDED_BACKTRACK_N)
	end
	local reps
	reps, err = intParam(q, "reps", false, 1, MAX_REGEX_REPS)
	if err then return nil, err end
	if reps > 1 and ms > 0 then
		return bad("parameter reps: not with timeout_ms (the timeout bounds one match)")
	end
	local most = 1 << (MAX_UNBOUNDED_BACKTRACK_N - n)
	if engine == "backtrack" and reps > 1 and reps > most then
		return bad("parameter reps: %d matches of n=%d cost more than one of n=%d (at most %d)", reps, n, MAX_UNBOUNDED_BACKTRACK_N, most)
	end
	req.reps = reps
	return req
end

-- parse validates a request as workloads.Parse does: 404, then 405, then 400.
local function parse(method, path, raw)
	local route = PATHS[path]
	if route == nil then
		return fail(404, "not found: no route " .. quote(path, 64))
	end
	if method ~= "GET" then
		return fail(405, "method not allowed: " .. quote(method, 16) .. " (only GET)", "GET")
	end
	local q, err = parseQuery(raw or "")
	if err then return nil, err end
	local req = { route = route }
	if route == 2 then
		req, err = parseIO(q, req)
	elseif route == 3 then
		req, err = parseCPU(q, req)
	elseif route == 4 then
		req, err = parseRegex(q, req)
	end
	if err then return nil, err end
	for i = 1, #q.keys do
		if not q.used[i] then
			return bad("unknown parameter %s", quote(q.keys[i], 32))
		end
	end
	return req
end

----------------------------------------------------------------------------
-- /stats: what Apache can tell. Counters are per thread, each published
-- under the thread's own key of mod_lua's inter-VM store (r:ivm_set), so no
-- two threads ever write the same key; /stats sums the keys of the threads
-- that exist (/proc/self/task). Apache runs one child process (ServerLimit
-- 1), so the store, which is per process, sees every thread.

-- counts: completed per route (1..6), then answers per class 2xx..5xx (7..10);
-- answers Apache gives itself (a malformed request's 400, a 414) are not
-- counted.
local counts = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
local tid -- this thread's kernel id, read once

local function readFile(path)
	local f = io.open(path, "r")
	if not f then return nil end
	local s = f:read("a")
	f:close()
	return s
end

-- publish writes this thread's record: busy (1 while a request is in the
-- handler, else 0), then counts.
local function publish(r, busy)
	if tid == nil then
		tid = (readFile("/proc/thread-self/stat") or ""):match("^(%d+)") or "?"
	end
	r:ivm_set("concbench:" .. tid, busy .. "," .. table.concat(counts, ","))
end

local function count(r, route, status)
	if route and status < 400 then
		counts[route] = counts[route] + 1
	end
	local class = status // 100
	if class >= 2 and class <= 5 then
		counts[5 + class] = counts[5 + class] + 1
	end
	publish(r, 0)
end

-- procFigures returns a process's resident bytes, thread count and parent.
local function procFigures(pid)
	local s = readFile("/proc/" .. pid .. "/status") or ""
	local rss = tonumber(s:match("VmRSS:%s*(%d+) kB") or "0") * 1024
	local threads = tonumber(s:match("Threads:%s*(%d+)") or "0")
	local ppid = tonumber(s:match("PPid:%s*(%d+)") or "0")
	return math.tointeger(rss), math.tointeger(threads), math.tointeger(ppid)
end

-- uptime is the seconds since the Apache parent process started.
local function uptime(pid)
	local stat = readFile("/proc/" .. pid .. "/stat") or ""
	-- Field 22 (starttime, in clock ticks since boot) follows the ")" of the name.
	local rest = stat:match("%)%s+(.*)$") or ""
	local fields = {}
	for f in rest:gmatch("%S+") do fields[#fields + 1] = f end
	local start = tonumber(fields[20] or "0") / 100 -- USER_HZ is 100 on Linux
	local up = tonumber((readFile("/proc/uptime") or "0"):match("^(%S+)"))
	return math.max(0, up - start)
end

local function stats(r)
	-- total[1] is the requests in the handler (this one included), then
	-- the counts.
	local total = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
	for _, t in ipairs(r:get_direntries("/proc/self/task") or {}) do
		local v = r:ivm_get("concbench:" .. t)
		if v then
			local i = 1
			for n in v:gmatch("%d+") do
				total[i] = total[i] + math.tointeger(tonumber(n))
				i = i + 1
			end
		end
	end
	local inFlight = table.remove(total, 1)
	local child = readFile("/proc/self/stat"):match("^(%d+)")
	local crss, cthreads, parent = procFigures(child)
	local prss, pthreads = procFigures(parent)
	local completed = {}
	for i, name in ipairs(ROUTES) do
		completed[#completed + 1] = string.format('"%s":%d', name, total[i])
	end
	return string.format(
		'{"model":"%s","pids":[%d,%s],"uptime_sec":%.3f,"in_flight":%d,' ..
		'"completed":{%s},"responses":{"2xx":%d,"3xx":%d,"4xx":%d,"5xx":%d},' ..
		'"os_threads":%d,"os_threads_peak":%d,"rss_bytes":%d,"max_threads":%d}\n',
		MODEL, parent, child, uptime(parent), inFlight,
		table.concat(completed, ","), total[7], total[8], total[9], total[10],
		cthreads + pthreads, cthreads + pthreads, crss + prss, MAX_THREADS)
end

----------------------------------------------------------------------------
-- The handler.

-- regexAnswer matches workloads.Pattern against "a"*n.."!" with PCRE2, the
-- engine of Apache's own expressions (<If>, RewriteCond, ...), through
-- r:expr. r:regex would do too, but when PCRE2 stops at its match limit
-- (from about n=22) r:regex reads captures that were never set and crashes
-- the child process; ap_expr takes any error as "no match".
local function regexAnswer(r, req)
	if req.engine == "re2" then
		return 501, "regex: engine re2 is not available in apache-worker (Apache matches with PCRE2 only)\n"
	end
	if req.timeout_ms > 0 then
		return 501, "regex: timeout_ms is not available in apache-worker (PCRE2 bounds a match by steps, not time)\n"
	end
	-- reps matches in a row, at least one (workloads.RunRegex).
	local expr = "'" .. string.rep("a", req.n) .. "!' =~ /^(a+)+$/"
	local matched = r:expr(expr)
	for _ = 2, req.reps do
		matched = r:expr(expr)
	end
	if matched then
		return 200, "match\n"
	end
	return 200, "no match\n"
end

local function answer(r, req)
	local route = req.route
	if route == 1 then
		return 200, "hello from concbench\n"
	elseif route == 2 then
		-- apr_sleep on this thread: mode=block and async are the same wait
		-- for a thread that has nothing else to do.
		r.usleep(req.ms * 1000)
		if req.block then
			return 200, string.format("waited %dms (blocking)\n", req.ms)
		end
		return 200, string.format("waited %dms\n", req.ms)
	elseif route == 3 then
		return 200, hash(req.iters) .. "\n"
	elseif route == 4 then
		return regexAnswer(r, req)
	elseif route == 5 then
		return 200, "ok\n"
	end
	return 200, stats(r), JSON
end

function handle(r)
	publish(r, 1)
	local req, err = parse(r.method, r.uri, r.args)
	local status, body, ctype, route
	if err then
		status, body = err.status, err.msg .. "\n"
		if err.allow then
			r.headers_out["Allow"] = err.allow
		end
	else
		route = req.route
		status, body, ctype = answer(r, req)
	end
	r.status = status
	r.content_type = ctype or TEXT
	r.headers_out["Content-Length"] = tostring(#body)
	r:write(body)
	count(r, route, status)
	return apache2.OK
end
