package api

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
)

// database is the case file's Health, without a database: it answers err.
type database struct{ err error }

func (d database) Ping(context.Context) error { return d.err }

// answering is a Temporal client whose server answers health checks.
type answering struct{ client.Client }

func (answering) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, nil
}

// /readyz names what does not answer: a database down makes the API unready
// (503, to retry), while Temporal still answers.
func TestReadinessNamesTheDatabaseThatDoesNotAnswer(t *testing.T) {
	cfg, err := config.Load("", func(string) string { return "" })
	require.NoError(t, err)
	srv := New(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, nil, answering{}, codec.GenerateKeyRing())
	ready := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		var v map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
		return rec.Code, v
	}

	srv.health = database{}
	code, v := ready()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"database": "ok", "temporal": "ok"}, v["checks"])

	srv.health = database{err: driver.ErrBadConn}
	code, v = ready()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, map[string]any{"database": "unavailable", "temporal": "ok"}, v["checks"])
}
