-- Fila's Lua sandbox: run once in each queue's Lua runtime, before any user script.
--
-- It keeps the few dangerous functions the broker itself needs (debug.sethook, os.clock, load)
-- as upvalues of its own closures, and gives user scripts an environment without io, os,
-- package, debug, load/loadfile/loadstring, dofile, require, string.dump or collectgarbage.
-- Every hook call runs under an instruction budget and a wall-clock guard (a count hook), and
-- with a fresh table for globals, so nothing a script assigns to a global leaks into the next
-- message. Returns the table of entry points the Python side calls (fila/engine/rules.py).
local sethook, clock, load = debug.sethook, os.clock, load
-- The time guard's clock: wall-clock seconds from the broker (configure), os.clock until then.
-- Read only when the count hook fires (every HOOK_EVERY instructions), not on every call.
local now = clock
local pcall, xpcall, error, type, tostring, select = pcall, xpcall, error, type, tostring, select
local setmetatable, getmetatable, rawget, rawlen, pairs = setmetatable, getmetatable, rawget, rawlen, pairs
local pack, unpack = table.pack, table.unpack
local cocreate, cowrap = coroutine.create, coroutine.wrap
local dsetmetatable, dgetmetatable = debug.setmetatable, debug.getmetatable

local HOOK_EVERY = 1000
local MAX_THROTTLE_KEYS = 16
local budget, seconds = 100000, 0.05 -- replaced by configure()
local budget_left, deadline = 0, 0
local config = {} -- runtime config, mirrored from the broker for fila.get

local function hook()
  budget_left = budget_left - HOOK_EVERY
  if budget_left <= 0 then error("instruction budget exceeded", 2) end
  if now() > deadline then error("time limit exceeded", 2) end
end

-- The string metatable is shared by every string: hide it so a script cannot reach the
-- string library through getmetatable("") and change it for everyone. Its __index is the
-- real string table, which ("").dump would reach: remove dump there too.
getmetatable("").__metatable = false
string.dump = nil

-- A __gc finalizer would run whenever the collector gets to it, perhaps outside any hook's
-- budget: scripts may not register one.
local function safe_setmetatable(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("__gc metamethods are not allowed in Fila hooks", 2)
  end
  return setmetatable(t, mt)
end

-- An error value as text, without running a script's __tostring outside its budget.
local function describe(err)
  local t = type(err)
  if t == "string" then return err end
  if t == "number" or t == "boolean" or t == "nil" then return tostring(err) end
  return "error object of type " .. t
end

local function copy(t, except)
  local c = {}
  for k, v in pairs(t) do
    if not (except and except[k]) then c[k] = v end
  end
  return c
end

-- pcall/xpcall that cannot swallow a limit: once the budget is spent, the error goes on up.
local function spent() return budget_left <= 0 or now() > deadline end
local function safe_pcall(...)
  local r = pack(pcall(...))
  if spent() then error("instruction budget exceeded", 0) end
  return unpack(r, 1, r.n)
end
local function safe_xpcall(...)
  local r = pack(xpcall(...))
  if spent() then error("instruction budget exceeded", 0) end
  return unpack(r, 1, r.n)
end

-- resume, like pcall, must not swallow a spent budget.
local coresume = coroutine.resume
local function safe_resume(...)
  local r = pack(coresume(...))
  if spent() then error("instruction budget exceeded", 0) end
  return unpack(r, 1, r.n)
end

-- Coroutines run on their own Lua thread, which has no hook unless we set one.
local function hooked_create(f)
  local co = cocreate(f)
  sethook(co, hook, "", HOOK_EVERY)
  return co
end
local function hooked_wrap(f)
  local co = hooked_create(f)
  return function(...)
    local r = pack(safe_resume(co, ...))
    if not r[1] then error(r[2], 0) end
    return unpack(r, 2, r.n)
  end
end
local _ = cowrap

local safe_coroutine = copy(coroutine)
safe_coroutine.create, safe_coroutine.wrap = hooked_create, hooked_wrap
safe_coroutine.resume = safe_resume

-- The string library's pattern functions run in C, where the count hook never fires: one
-- call of string.find(string.rep("a", 30), string.rep("a*", 9) .. "b") backtracks for seconds.
-- So before a pattern runs, its worst case is estimated and a costly one refused. A
-- quantifier (*, +, -, %b) followed by more pattern can backtrack; with k of them, a search
-- over n bytes takes up to about n^(k+1) / (k+1)! steps (n^k / k! when anchored with ^), and
-- each ? doubles it. Past MAX_PATTERN_STEPS (about 10 ms of C at ~4 ns a step), the call is
-- an error, which counts against the hook like any other.
local MAX_PATTERN_STEPS = 2.5e6
local sfind, ssub, sbyte = string.find, string.sub, string.byte
local MAGIC = "[%^%$%*%+%?%.%(%)%[%]%%%-]"

local function skip_set(p, i, n)  -- p:sub(i, i) is "[": the index after its "]"
  i = i + 1
  if ssub(p, i, i) == "^" then i = i + 1 end
  if ssub(p, i, i) == "]" then i = i + 1 end  -- a leading ] is a literal
  while i <= n do
    local c = ssub(p, i, i)
    if c == "%" then i = i + 2
    elseif c == "]" then return i + 1
    else i = i + 1 end
  end
  return n + 1
end

local shapes, cached = {}, 0
local function shape(p)  -- backtracking quantifiers, optional items, anchored
  local s = shapes[p]
  if s then return s[1], s[2], s[3] end
  local n, i = #p, 1
  local anchored = ssub(p, 1, 1) == "^"
  if anchored then i = 2 end
  local items = {}
  while i <= n do
    local c = ssub(p, i, i)
    local kind = nil
    if c == "(" or c == ")" then
      i = i + 1
    elseif c == "$" and i == n then
      i, kind = i + 1, "one"
    elseif c == "%" and ssub(p, i + 1, i + 1) == "b" then
      i, kind = i + 4, "loop"
    elseif c == "%" and ssub(p, i + 1, i + 1) == "f" then
      i, kind = skip_set(p, i + 2, n), "one"
    else
      if c == "%" then i = i + 2 elseif c == "[" then i = skip_set(p, i, n) else i = i + 1 end
      local q = ssub(p, i, i)
      if q == "*" or q == "+" or q == "-" then i, kind = i + 1, "loop"
      elseif q == "?" then i, kind = i + 1, "opt"
      else kind = "one" end
    end
    if kind then items[#items + 1] = kind end
  end
  local k, opt = 0, 0
  for j = 1, #items do
    if items[j] == "loop" and j < #items then k = k + 1 end
    if items[j] == "opt" then opt = opt + 1 end
  end
  if cached >= 256 then shapes, cached = {}, 0 end
  shapes[p], cached = { k, opt, anchored }, cached + 1
  return k, opt, anchored
end

local function check_pattern(fname, s, p, scans)
  if type(s) ~= "string" and type(s) ~= "number" then return end
  if type(p) ~= "string" or not sfind(p, MAGIC) then return end
  local k, opt, anchored = shape(p)
  local n, e = #tostring(s), k + ((anchored and not scans) and 0 or 1)
  local steps = 2 ^ opt
  for j = 1, e do steps = steps * (n + j) / j end
  if steps > MAX_PATTERN_STEPS then
    error(fname .. ": pattern " .. ("%q"):format(ssub(p, 1, 60)) .. " is too costly for a "
      .. n .. "-byte subject (" .. k .. " quantifiers that can backtrack): simplify the "
      .. "pattern or shorten the input", 3)
  end
end

local guarded = copy(string, { dump = true })
local s_find, s_match, s_gmatch, s_gsub = string.find, string.match, string.gmatch, string.gsub
function guarded.find(s, p, init, plain)
  if not plain then check_pattern("string.find", s, p, false) end
  return s_find(s, p, init, plain)
end
function guarded.match(s, p, init)
  check_pattern("string.match", s, p, false)
  return s_match(s, p, init)
end
function guarded.gmatch(s, p, init)
  check_pattern("string.gmatch", s, p, true)
  return s_gmatch(s, p, init)
end
function guarded.gsub(s, p, repl, n)
  check_pattern("string.gsub", s, p, true)
  return s_gsub(s, p, repl, n)
end
local _ = sbyte
-- ("x"):find(p) goes through the string metatable's __index: the guarded functions there too.
dgetmetatable("").__index = guarded

local library = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
  pcall = safe_pcall, xpcall = safe_xpcall, select = select, tonumber = tonumber,
  tostring = tostring, type = type, rawequal = rawequal, rawget = rawget, rawlen = rawlen,
  setmetatable = safe_setmetatable, getmetatable = getmetatable, _VERSION = _VERSION,
  math = copy(math), string = guarded, table = copy(table),
  utf8 = copy(utf8), coroutine = safe_coroutine,
  fila = { get = function(key) return config[key] end },
}

-- A script's globals. While its chunk runs, what it assigns is kept in `defined`; afterwards
-- globals are read from a per-call `scratch` table, then `defined`, then the library, and
-- writes go to `scratch`, which is new for every call. Every function of the script (global
-- or local) shares this one _ENV table, so swapping its metatable covers them all.
local function new_env(defined)
  local scratch, dirty = {}, false
  local env = dsetmetatable({}, {
    __index = function(_, k)
      local v = defined[k]
      if v ~= nil then return v end
      return library[k]
    end,
    __newindex = function(_, k, v) defined[k] = v end,
    __metatable = false,
  })
  local function seal()
    dsetmetatable(env, {
      __index = function(_, k)
        local v = scratch[k]
        if v ~= nil then return v end
        v = defined[k]
        if v ~= nil then return v end
        return library[k]
      end,
      __newindex = function(_, k, v) scratch[k] = v; dirty = true end,
      __metatable = false,
    })
  end
  return env, seal, function() if dirty then scratch = {}; dirty = false end end
end

local api = {}

function api.configure(instruction_budget, time_limit_seconds, wall_clock)
  if wall_clock then now = wall_clock end
  budget, seconds = instruction_budget, time_limit_seconds
end

function api.set_config(key, value) config[key] = value end
function api.clear_config() config = {} end

-- The count hook stays set on the main Lua thread (setting it per call costs more than the
-- calls it guards); between calls the budget is "unlimited" so broker-side Lua never trips it.
local UNLIMITED = math.huge
local function start(t0)
  budget_left, deadline = budget, (t0 or now()) + seconds
end
local function stop()
  budget_left, deadline = UNLIMITED, UNLIMITED
end
budget_left, deadline = UNLIMITED, UNLIMITED
sethook(hook, "", HOOK_EVERY)

-- Compile and run a script's chunk once; returns true, script or false, error.
function api.compile(source, chunkname, required_function)
  local defined = {}
  local env, seal, reset = new_env(defined)
  local chunk, err = load(source, "=" .. chunkname, "t", env)
  if not chunk then return false, err end
  start()
  local ok, run_err = pcall(chunk)
  stop()
  if not ok then return false, describe(run_err) end
  if type(rawget(defined, required_function)) ~= "function" then
    return false, chunkname .. " must define a function " .. required_function .. "(msg)"
  end
  seal()
  return true, { defined = defined, reset = reset }
end

-- on_enqueue for a run of messages, in one call from Python (a call across costs more than a
-- typical hook). Each message still runs as its own call: fresh globals, its own instruction
-- budget and time limit (from its start, which is when the one before it ended; a call into
-- C that overran the limit fails afterwards, as if the hook had raised). Returns, per message
-- in order, true, fairness_key, weight, n, throttle_key_1..n; it stops at the first message whose hook fails, ending with
-- false, error for that one: Python's circuit breaker decides whether the rest run at all.
local ended = 0 -- when the last hook call of a run ended: the next one's start
local function one_enqueue(script, msg, out, o, t0)
  script.reset()
  start(t0)
  local ok, r = pcall(script.defined.on_enqueue, msg)
  stop()
  ended = now()
  if not ok then return nil, describe(r) end
  local took = ended - t0
  if took > seconds then
    return nil, "ran " .. math.floor(took * 1000 + 0.5) .. " ms, over its time limit of "
      .. math.floor(seconds * 1000 + 0.5) .. " ms"
  end
  if type(r) ~= "table" then return nil, "on_enqueue must return a table, got " .. type(r) end
  -- Read the result raw: a metamethod would run outside the budget.
  local tks = rawget(r, "throttle_keys")
  out[o + 1], out[o + 2], out[o + 3] = true, rawget(r, "fairness_key"), rawget(r, "weight")
  if tks == nil then
    out[o + 4] = 0
    return o + 4
  end
  if type(tks) ~= "table" then
    return nil, "throttle_keys must be a list of strings, got " .. type(tks)
  end
  local n = rawlen(tks)
  if n > MAX_THROTTLE_KEYS then
    return nil, "at most " .. MAX_THROTTLE_KEYS .. " throttle_keys, got " .. n
  end
  out[o + 4] = n
  for i = 1, n do out[o + 4 + i] = rawget(tks, i) end
  return o + 4 + n
end

function api.on_enqueue_many(script, headers, sizes, queue)
  local out, o = {}, 0
  ended = now()
  for i = 1, #sizes do
    local next_o, err = one_enqueue(script,
      { headers = headers[i], payload_size = sizes[i], queue = queue }, out, o, ended)
    if not next_o then
      out[o + 1], out[o + 2] = false, err
      return unpack(out, 1, o + 2)
    end
    o = next_o
  end
  return unpack(out, 1, o)
end

-- on_failure: returns true, action, delay_ms or false, error.
function api.on_failure(script, headers, id, attempts, queue, err, t0)
  script.reset()
  start(t0)
  local ok, r = pcall(script.defined.on_failure,
    { headers = headers, id = id, attempts = attempts, queue = queue, error = err })
  stop()
  if not ok then return false, describe(r) end
  if type(r) ~= "table" then return false, "on_failure must return a table, got " .. type(r) end
  return true, rawget(r, "action"), rawget(r, "delay_ms")
end

return api
