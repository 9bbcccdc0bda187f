package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

type metrics struct {
	registry *prometheus.Registry
	queries  prometheus.Counter
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// newMetrics counts requests by route template (never the raw path, which holds
// IDs), method and status.
func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "homeward_http_requests_total", Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "homeward_http_request_duration_seconds", Help: "HTTP request latency by route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		queries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "homeward_temporal_queries_total",
			Help: "Workflow queries the API sent to Temporal (each is a billed action; reads answer from the case file).",
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.queries, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Inc()
	m.latency.WithLabelValues(route, c.Request.Method).Observe(time.Since(start).Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// accessLog logs each request by route template: no query strings, no bodies.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	loggerFrom(c).Info("request", "method", c.Request.Method, "route", c.FullPath(), "status", c.Writer.Status(),
		"duration_ms", time.Since(start).Milliseconds())
}

// recovered turns a panic into a 500 problem without a stack trace for the client.
func recovered(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			loggerFrom(c).Error("panic in handler", "route", c.FullPath())
			respondError(c, fail(KindInternal, "panic"))
		}
	}()
	c.Next()
}

// Health says whether the case file's database answers.
type Health interface {
	Ping(ctx context.Context) error
}

func (s *Server) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// readyz checks that the database and Temporal answer.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := gin.H{"database": "ok", "temporal": "ok"}
	ready := true
	if err := s.health.Ping(ctx); err != nil {
		checks["database"], ready = "unavailable", false
	}
	if _, err := s.temporal.CheckHealth(ctx, nil); err != nil {
		checks["temporal"], ready = "unavailable", false
	}
	if !ready {
		c.Header("Retry-After", retryAfterSeconds)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": checks})
}

// countingQueries is the API's Temporal client, counting the workflow queries it
// sends (homeward_temporal_queries_total): no read of a case needs one.
type countingQueries struct {
	client.Client
	queries prometheus.Counter
}

func (c countingQueries) QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error) {
	c.queries.Inc()
	return c.Client.QueryWorkflow(ctx, workflowID, runID, queryType, args...)
}

func (c countingQueries) QueryWorkflowWithOptions(ctx context.Context, request *client.QueryWorkflowWithOptionsRequest) (*client.QueryWorkflowWithOptionsResponse, error) {
	c.queries.Inc()
	return c.Client.QueryWorkflowWithOptions(ctx, request)
}
