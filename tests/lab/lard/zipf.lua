-- wrk script for `make bench-lard`: each request asks for /f/NNNN.bin,
-- NNNN drawn from a Zipf(s) distribution over FILES targets (the
-- popularity skew of web content), with a fixed seed.
local files = tonumber(os.getenv("LARD_FILES") or "400")
local s = tonumber(os.getenv("LARD_ZIPF") or "1.0")
local cdf, total = {}, 0
for k = 1, files do
  total = total + 1 / (k ^ s)
  cdf[k] = total
end
for k = 1, files do cdf[k] = cdf[k] / total end
math.randomseed(42)

local function draw()
  local u, lo, hi = math.random(), 1, files
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

request = function()
  return wrk.format("GET", string.format("/f/%04d.bin", draw()))
end
