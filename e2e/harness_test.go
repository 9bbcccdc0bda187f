package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/soak"
	"github.com/homeward/homeward/stack"
	"github.com/homeward/homeward/store/storetest"
)

var queues atomic.Int64

// testConfig is the default configuration with a test's own database, task queue
// and free ports, and short delays so a whole case runs in seconds.
func testConfig(t *testing.T, driver string) config.Config {
	t.Helper()
	cfg, err := config.Load("", func(string) string { return "" })
	require.NoError(t, err)
	cfg.Database.Driver, cfg.Database.DSN = driver, storetest.DSN(t, driver)
	cfg.Temporal.TaskQueue = fmt.Sprintf("e2e-%s-%d", t.Name(), queues.Add(1))
	cfg.HTTP.Address, cfg.Dev.SimulatorAddress = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Simulator.CallbackDelay = 50 * time.Millisecond
	cfg.Services.Timeout = 2 * time.Second
	cfg.Rules.MonitoringOffsets = []time.Duration{2 * time.Second, 3 * time.Second, 4 * time.Second}
	keys := t.TempDir()
	cfg.Codec.KeysFile = filepath.Join(keys, "codec-keys.json") // created on first use
	cfg.Database.KeysFile = filepath.Join(keys, "database-keys.json")
	return cfg
}

// homeward is a running stack and an HTTP client that validates every response
// against the OpenAPI contract.
type homeward struct {
	t      *testing.T
	s      *stack.Stack
	router routers.Router
}

func start(t *testing.T, cfg config.Config) *homeward {
	t.Helper()
	return startWith(t, stack.Options{Config: cfg, Temporal: temporalClient()})
}

func startWith(t *testing.T, o stack.Options) *homeward {
	t.Helper()
	s, err := stack.Start(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	return &homeward{t: t, s: s, router: contractRouter(t)}
}

func contractRouter(t *testing.T) routers.Router {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	r, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return r
}

// response is what the API answered.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), string(r.Body))
	return m
}

// call sends a request as the holder of token; body may be a string (sent as is)
// or a value (sent as JSON). The response must agree with the contract.
func (h *homeward) call(method, path, token string, body any, headers ...string) response {
	h.t.Helper()
	req, res, b, err := h.exchange(method, path, token, body, headers...)
	require.NoError(h.t, err)
	h.conforms(req, res, b)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// exchange sends one request to the API and reads the answer: the body as given
// (a string or bytes) or as JSON, the token as a bearer token, headers in pairs.
func (h *homeward) exchange(method, path, token string, body any, headers ...string) (*http.Request, *http.Response, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, nil, nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.s.APIURL+path, rd)
	if err != nil {
		return nil, nil, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return req, nil, nil, err
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	return req, res, b, err
}

// conforms checks a response against api/openapi.yaml.
func (h *homeward) conforms(req *http.Request, res *http.Response, body []byte) {
	h.t.Helper()
	route, params, err := h.router.FindRoute(req)
	if err != nil {
		require.Equal(h.t, http.StatusNotFound, res.StatusCode, "%s %s is not in the contract", req.Method, req.URL.Path)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	require.NoError(h.t, openapi3filter.ValidateResponse(context.Background(), in),
		"%s %s answered %d, not as api/openapi.yaml says: %s", req.Method, req.URL.Path, res.StatusCode, body)
}

// eventually polls cond until it holds or the deadline passes.
func (h *homeward) eventually(what string, within time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// caseAt fetches a case and waits until it satisfies cond.
func (h *homeward) waitCase(id, what string, cond func(c map[string]any) bool) map[string]any {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second) // generous: the machine may be busy; a passing wait returns at once
	for {
		r := h.call("GET", "/api/v1/cases/"+id, "dev-manager", nil)
		require.Equal(h.t, http.StatusOK, r.Status, string(r.Body))
		if c := r.JSON(h.t); cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; the case is: %s", what, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func stageIs(stage string) func(map[string]any) bool {
	return func(c map[string]any) bool { return c["stage"] == stage }
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// registration is a valid registration body, each time of another person.
func registration() map[string]any { return soak.Registration() }

func (h *homeward) register() string {
	h.t.Helper()
	r := h.call("POST", "/api/v1/cases", "dev-caseworker", registration())
	require.Equal(h.t, http.StatusCreated, r.Status, string(r.Body))
	return r.JSON(h.t)["id"].(string)
}

// registerWithout registers a case whose registration lacks the optional fields named.
func (h *homeward) registerWithout(fields ...string) string {
	h.t.Helper()
	body := registration()
	for _, f := range fields {
		delete(body, f)
	}
	r := h.call("POST", "/api/v1/cases", "dev-caseworker", body)
	require.Equal(h.t, http.StatusCreated, r.Status, string(r.Body))
	return r.JSON(h.t)["id"].(string)
}

func eachDatabase(t *testing.T, f func(t *testing.T, driver string)) {
	for _, d := range storetest.Drivers {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}
