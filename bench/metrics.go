package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
)

// sdkMetrics is a client.MetricsHandler that keeps the SDK's own counters
// (summed over tags), gauges (last value) and timers (count and sum) in memory,
// so the benchmark can read the sticky cache's size, hits, misses and evictions.
type sdkMetrics struct {
	mu     sync.Mutex
	counts map[string]*atomic.Int64
	gauges map[string]*atomic.Int64 // float64 bits
	timers map[string]*timerAcc
}

type timerAcc struct{ n, sum atomic.Int64 }

func newSDKMetrics() *sdkMetrics {
	return &sdkMetrics{counts: map[string]*atomic.Int64{}, gauges: map[string]*atomic.Int64{}, timers: map[string]*timerAcc{}}
}

func (m *sdkMetrics) WithTags(map[string]string) client.MetricsHandler { return m }

func (m *sdkMetrics) Counter(name string) client.MetricsCounter {
	m.mu.Lock()
	c := m.counts[name]
	if c == nil {
		c = &atomic.Int64{}
		m.counts[name] = c
	}
	m.mu.Unlock()
	return counterFunc(func(d int64) { c.Add(d) })
}

func (m *sdkMetrics) Gauge(name string) client.MetricsGauge {
	m.mu.Lock()
	g := m.gauges[name]
	if g == nil {
		g = &atomic.Int64{}
		m.gauges[name] = g
	}
	m.mu.Unlock()
	return gaugeFunc(func(v float64) { g.Store(int64(v)) })
}

func (m *sdkMetrics) Timer(name string) client.MetricsTimer {
	m.mu.Lock()
	t := m.timers[name]
	if t == nil {
		t = &timerAcc{}
		m.timers[name] = t
	}
	m.mu.Unlock()
	return timerFunc(func(d time.Duration) { t.n.Add(1); t.sum.Add(int64(d)) })
}

func (m *sdkMetrics) count(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.counts[name]; c != nil {
		return c.Load()
	}
	return 0
}

func (m *sdkMetrics) gauge(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := m.gauges[name]; g != nil {
		return g.Load()
	}
	return 0
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

// Names of the SDK metrics read here.
const (
	mStickyHit      = "temporal_sticky_cache_hit"
	mStickyMiss     = "temporal_sticky_cache_miss"
	mStickyEvicted  = "temporal_sticky_cache_total_forced_eviction"
	mStickySize     = "temporal_sticky_cache_size"
	mWFTReplayCount = "temporal_workflow_task_replay_latency"
)
