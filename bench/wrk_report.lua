-- wrk script for bench/run.sh: prints one machine-readable line after wrk's own report.
-- Latencies are in microseconds; errors sums every wrk error class, non-2xx/3xx included.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d bytes=%d duration_us=%d errors=%d connect_errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.bytes, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout, e.connect,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
