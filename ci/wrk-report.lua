-- wrk's summary as one JSON line, for ci/bench-http.sh (wrk -s ci/wrk-report.lua ...).
-- Latencies are in microseconds; errors_status counts responses that were not 2xx/3xx.
--
-- WRK_PIPELINE=N (default 1) sends N requests per write and waits for their N responses,
-- as HTTP pipelining does: the client then spends less per request, so the server, not
-- wrk, becomes the limit. wrk counts each response as a request.
local depth = tonumber(os.getenv("WRK_PIPELINE") or "1")
if depth > 1 then
    local pipelined
    init = function(args)
        local one = wrk.format()
        pipelined = string.rep(one, depth)
    end
    request = function()
        return pipelined
    end
end

done = function(summary, latency, requests)
    io.write(string.format(
        'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
        '"errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_status": %d, "errors_timeout": %d, ' ..
        '"latency_p50_us": %d, "latency_p90_us": %d, "latency_p99_us": %d, "latency_max_us": %d, "latency_mean_us": %.1f}\n',
        summary.requests, summary.duration, summary.bytes,
        summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
