// Package api is Homeward's HTTP API (Gin): case processors register returns and
// record what happened, approvers decide, partners call back, managers read. The
// workflow, not a handler, decides whether an action is allowed in the case's
// stage; handlers turn its answer into a status. routes.go shows the whole surface.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
)

// CaseFile is all the API reads and writes in the case file: *store.Store. Its
// parts are declared beside the handlers that use them, and the Server keeps each
// part on its own, so that a test of one concern fakes that part alone (the
// others may stay nil) and needs no database.
type CaseFile interface {
	Registrations
	CaseReads
	AuditLog
	Remembered
	Inboxes
	Searches
	StuckCases
	Reports
	Fees
	Casework
	DocumentStore
	Health
}

// Server holds what the handlers need.
type Server struct {
	// The case file's parts (New sets them all to the one given).
	registrations Registrations
	cases         CaseReads
	auditLog      AuditLog
	remembered    Remembered
	inboxes       Inboxes
	searches      Searches
	stuckCases    StuckCases
	reports       Reports
	fees          Fees
	casework      Casework
	documentStore DocumentStore
	health        Health

	temporal client.Client
	cfg      config.Config
	auth     *Authenticator
	logger   *slog.Logger
	metrics  *metrics
	ring     *codec.KeyRing
	now      func() time.Time
	probe    *taskProbe // /stuck's last answer about failing workflow tasks
}

// NewServer returns the API as an http.Handler.
// The ring decodes payloads for managers in the Temporal UI (/codec).
// With http.metrics_address set, /metrics is not on this handler: serve
// MetricsHandler on that internal address instead.
func NewServer(logger *slog.Logger, cfg config.Config, cf CaseFile, tc client.Client, ring *codec.KeyRing) http.Handler {
	return New(logger, cfg, cf, tc, ring).Handler()
}

// New builds the API server over the case file cf (*store.Store).
func New(logger *slog.Logger, cfg config.Config, cf CaseFile, tc client.Client, ring *codec.KeyRing) *Server {
	gin.SetMode(gin.ReleaseMode)
	m := newMetrics()
	if tc != nil {
		tc = countingQueries{Client: tc, queries: m.queries}
	}
	s := &Server{registrations: cf, cases: cf, auditLog: cf, remembered: cf, inboxes: cf, searches: cf, stuckCases: cf,
		reports: cf, fees: cf, casework: cf, documentStore: cf, health: cf, temporal: tc, cfg: cfg, auth: NewAuthenticator(context.Background(), cfg.Auth), logger: logger,
		metrics: m, ring: ring, now: func() time.Time { return time.Now().UTC() }}
	s.probe = newTaskProbe(cfg.Temporal.TaskProbeEvery, s.failingTasks, func(err error) {
		logger.Warn("asking Temporal about quiet cases failed; /stuck keeps the last answer", "error", err.Error())
	})
	return s
}

// Handler is the API, with what mount adds beside it (the workspace's pages).
func (s *Server) Handler(mount ...func(*gin.Engine)) http.Handler { return s.routes(mount...) }

// Config is the configuration the server runs with.
func (s *Server) Config() config.Config { return s.cfg }

// Authenticate finds who holds a bearer token, as the API does for each request.
func (s *Server) Authenticate(ctx context.Context, token string) (Principal, error) {
	return s.auth.Authenticate(ctx, token)
}

// MetricsHandler serves the Prometheus metrics (for an internal port).
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }

// decode reads a JSON body strictly: one object, no unknown fields, within the limit.
func decode(c *gin.Context, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail(KindTooLarge, "the body is over the limit of 1 MiB")
		}
		return fail(KindMalformed, "the body could not be read")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return malformed(err)
	}
	if dec.More() {
		return fail(KindMalformed, "the body must hold one JSON object")
	}
	return nil
}

// malformed says what is wrong with a body that does not decode, naming the field.
func malformed(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return fail(KindMalformed, "the body must be a JSON object")
	case errors.As(err, &typeErr):
		return &Error{Kind: KindMalformed, Detail: "a field has the wrong type",
			Fields: []contractFieldError{{Field: typeErr.Field, Message: "must be " + jsonKind(typeErr.Type)}}}
	case errors.As(err, &syntaxErr):
		return fail(KindMalformed, "the body is not valid JSON")
	case errors.As(err, &timeErr):
		return fail(KindMalformed, "a time must be RFC 3339, e.g. 2026-11-20T10:00:00Z")
	case errors.Is(err, io.EOF):
		return fail(KindMalformed, "the body is empty")
	}
	if f, ok := unknownField(err.Error()); ok {
		return &Error{Kind: KindMalformed, Detail: "unknown field " + f,
			Fields: []contractFieldError{{Field: f, Message: "is not a field of this request"}}}
	}
	return fail(KindMalformed, "the body is not a valid request")
}

type contractFieldError = contract.FieldError

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(t reflect.Type) string {
	if t == reflect.TypeOf(time.Time{}) {
		return "an RFC 3339 time string"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "another type"
}

// unknownField reads the field's name from encoding/json's error.
func unknownField(msg string) (string, bool) {
	const prefix = `json: unknown field "`
	if !strings.HasPrefix(msg, prefix) {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(msg, prefix), `"`), true
}
