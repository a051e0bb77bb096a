-- tests/tools/poll-record.lua: wrk polls that record every answer
-- (tests/integration/failover.sh). Each connection sends a request, waits
-- POLL_DELAY_MS (default 10) after each answer (so that the load is bounded),
-- and classifies the answer:
--   ok     200 with a body that names POLL_EXPECT (the job's id)
--   unavail 503 with Retry-After and error code DB_UNAVAILABLE
--   bad    anything else (another status, a 503 without Retry-After or with
--          another code, a 200 whose body is not the job)
-- The clock is CLOCK_REALTIME through LuaJIT's FFI, in seconds since the
-- epoch, so that the test can line the answers up with its own events.
-- POLL_MARK (optional): a file created at the first answer (wrk is polling).
-- done() prints one line, "poll-record: key=value ...":
--   polls ok unavail bad    counts of answers
--   by_status               "503:12,500:1" (every status but 200)
--   first_fail last_fail    time of the first and of the last answer that
--                           was not ok (0 when none)
--   last_ok                 time of the last ok answer
--   last_status             status of the very last answer
--   err_connect err_read err_write err_timeout
--                           wrk's socket errors (a reset from nginx counts
--                           as a read error; a body shorter than its
--                           Content-Length as a read error too)
--   bad_sample              the first bad answer: status and body start
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } pr_timespec;
int clock_gettime(int clk, pr_timespec *ts);
]]
local ts = ffi.new("pr_timespec")
local function now()
	ffi.C.clock_gettime(0, ts)
	return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local expect = os.getenv("POLL_EXPECT") or ""
local pause = tonumber(os.getenv("POLL_DELAY_MS") or "10")
local mark = os.getenv("POLL_MARK")	-- a file created at the first answer

local threads = {}
function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	polls, okn, unavail, bad = 0, 0, 0, 0
	first_fail, last_fail, last_ok, last_at, last_status = 0, 0, 0, 0, 0
	by_status = {}
	bad_sample = ""
end

function delay()
	return pause
end

function response(status, headers, body)
	local t = now()
	polls = polls + 1
	if polls == 1 and mark then
		local f = io.open(mark, "w")
		if f then f:close() end
	end
	body = body or ""
	local kind
	if status == 200 and expect ~= "" and body:find(expect, 1, true) then
		kind = "ok"
	elseif status == 503 and (headers["Retry-After"] or headers["retry-after"]) and
	    body:find('"code"%s*:%s*"DB_UNAVAILABLE"') then
		kind = "unavail"
	else
		kind = "bad"
	end
	if status ~= 200 then
		by_status[status] = (by_status[status] or 0) + 1
	end
	if kind == "ok" then
		okn = okn + 1
		last_ok = t
	else
		if kind == "unavail" then unavail = unavail + 1 else bad = bad + 1 end
		if first_fail == 0 then first_fail = t end
		last_fail = t
		if kind == "bad" and bad_sample == "" then
			bad_sample = status .. " " .. body:sub(1, 120):gsub("%s", "_")
		end
	end
	if t >= last_at then last_at, last_status = t, status end
end

function done(summary, latency, requests)
	local p, o, u, b, ff, lf, lo, la, ls = 0, 0, 0, 0, 0, 0, 0, 0, 0
	local st, sample = {}, ""
	for _, th in ipairs(threads) do
		p = p + th:get("polls"); o = o + th:get("okn")
		u = u + th:get("unavail"); b = b + th:get("bad")
		local f = th:get("first_fail")
		if f > 0 and (ff == 0 or f < ff) then ff = f end
		if th:get("last_fail") > lf then lf = th:get("last_fail") end
		if th:get("last_ok") > lo then lo = th:get("last_ok") end
		if th:get("last_at") > la then la, ls = th:get("last_at"), th:get("last_status") end
		for k, v in pairs(th:get("by_status")) do st[k] = (st[k] or 0) + v end
		if sample == "" then sample = th:get("bad_sample") end
	end
	local bs = {}
	for k, v in pairs(st) do table.insert(bs, k .. ":" .. v) end
	table.sort(bs)
	local e = summary.errors
	io.write(string.format("poll-record: polls=%d ok=%d unavail=%d bad=%d by_status=%s " ..
		"first_fail=%.3f last_fail=%.3f last_ok=%.3f last_status=%d " ..
		"err_connect=%d err_read=%d err_write=%d err_timeout=%d bad_sample=%s\n",
		p, o, u, b, #bs > 0 and table.concat(bs, ",") or "-", ff, lf, lo, ls,
		e.connect, e.read, e.write, e.timeout, sample == "" and "-" or sample))
end
