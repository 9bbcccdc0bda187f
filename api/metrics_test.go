package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
)

// In production /metrics lives on an internal address, not on the public API.
func TestMetricsCanMoveToAnInternalAddress(t *testing.T) {
	cfg, err := config.Load("", func(string) string { return "" })
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	get := func(h http.Handler, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}

	public := api.New(logger, cfg, nil, nil, codec.GenerateKeyRing())
	require.Equal(t, http.StatusOK, get(public.Handler(), "/metrics").Code, "on one machine, beside the API")

	cfg.HTTP.MetricsAddress = "127.0.0.1:9090"
	internal := api.New(logger, cfg, nil, nil, codec.GenerateKeyRing())
	h := internal.Handler()
	require.Equal(t, http.StatusOK, get(h, "/healthz").Code)
	require.Equal(t, http.StatusNotFound, get(h, "/metrics").Code, "not on the public API")
	m := get(internal.MetricsHandler(), "/metrics")
	require.Equal(t, http.StatusOK, m.Code)
	require.True(t, strings.Contains(m.Body.String(), `homeward_http_requests_total{method="GET",route="/healthz",status="200"} 1`))
}
