-- wrk script for the multi-VM `make bench-lard`: replays the request
-- trace LARD_TRACE (tests/lab/lard/workload.py trace: one path per line)
-- from line LARD_OFFSET on, in order, wrapping at its end. One wrk thread
-- (-t1): the connections take the trace's requests in turn.
local paths = {}
for line in io.lines(os.getenv("LARD_TRACE")) do paths[#paths + 1] = line end
local next_i = tonumber(os.getenv("LARD_OFFSET") or "0") % #paths

request = function()
  next_i = next_i % #paths + 1
  return wrk.format("GET", paths[next_i])
end
