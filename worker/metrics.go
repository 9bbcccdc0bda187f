package worker

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// latencyBuckets are the histogram boundaries, in seconds, of the SDK's latencies
// (task schedule-to-start and execution, requests to the server): OpenTelemetry's
// defaults are meant for milliseconds.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Metrics is what the worker process shows Prometheus on /metrics: the Temporal
// SDK's own metrics (temporal_*: task latencies, pollers, slots, sticky cache,
// activity and workflow task failures), recorded through the SDK's OpenTelemetry
// handler (go.temporal.io/sdk/contrib/opentelemetry) and exported by
// OpenTelemetry's Prometheus exporter into Registry, beside the process's Go and
// process collectors and anything else registered there.
type Metrics struct {
	Registry *prometheus.Registry
	// SDK goes into the Temporal client's options; workers built on that client
	// report through it.
	SDK      client.MetricsHandler
	provider *sdkmetric.MeterProvider
}

// NewMetrics builds the registry and the SDK's handler.
func NewMetrics() (*Metrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter),
		sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: latencyBuckets}})))
	sdk := temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: provider.Meter("homeward-worker"),
		// Counters that only go up, so Prometheus sees counters (rate() works).
		UseMonotonicCounters: true,
		// A metric that cannot be recorded must not stop the worker (the default panics).
		OnError: func(error) {},
	})
	return &Metrics{Registry: reg, SDK: sdk, provider: provider}, nil
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Close stops the SDK's meter provider.
func (m *Metrics) Close(ctx context.Context) error { return m.provider.Shutdown(ctx) }
