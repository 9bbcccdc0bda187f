package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/homeward/homeward/stack"
)

// syncBuffer collects log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A canary: a case whose every personal field carries a unique marker runs
// through the process; the marker appears in no log line, no metric, no problem
// body, and not in the Temporal history as the server stores it (read without the
// codec). A manager reads it through the codec endpoint, which is audited.
func TestPersonalDataStaysProtected(t *testing.T) {
	const marker = "Canary9c41"
	logs := &syncBuffer{}
	cfg := testConfig(t, "sqlite")
	h := startWith(t, stack.Options{Config: cfg, Temporal: temporalClient(),
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	reg := registration()
	reg["beneficiary"] = map[string]any{"given_name": marker + "Given", "family_name": marker + "Family",
		"date_of_birth": "1990-04-01", "sex": "female", "nationality": "GN", "languages": []string{"fr"},
		"phone": "+224621234567", "travel_document": map[string]any{"number": marker + "Doc", "expiry": "2030-01-01"}}
	reg["household"] = []any{map[string]any{"given_name": marker + "Child", "family_name": marker + "Family",
		"relationship": "child", "date_of_birth": "2016-02-11"}}
	reg["area_of_return"] = map[string]any{"region": "Kankan", "district": marker + "District"}
	r := h.call("POST", "/api/v1/cases", "dev-caseworker", reg)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)

	// Free text that people write about the returnee goes through the workflow.
	h.waitCase(id, "counselling", stageIs("Counselling"))
	h.accept("POST", "/api/v1/cases/"+id+"/counselling", "dev-caseworker",
		map[string]any{"outcome": "confirmed", "held_at": now(), "notes": marker + " spoke about her family"})
	h.screen(id, "high", "victim_of_trafficking")
	h.waitCase(id, "clearance", func(c map[string]any) bool { return c["waiting_on"] == "approver" })
	h.accept("POST", "/api/v1/cases/"+id+"/screening/clearance", "dev-approver",
		map[string]any{"decision": "not_cleared", "comment": marker + " protection concerns"})
	h.waitCase(id, "closure", stageIs("Closed"))

	// Bad requests that echo personal data must not echo it back.
	bad := registration()
	bad["beneficiary"].(map[string]any)["given_name"] = marker + strings.Repeat("x", 300)
	bad["beneficiary"].(map[string]any)["phone"] = marker
	problem := h.call("POST", "/api/v1/cases", "dev-caseworker", bad)
	require.Equal(t, http.StatusUnprocessableEntity, problem.Status)
	require.NotContains(t, string(problem.Body), marker)

	metrics := h.call("GET", "/metrics", "", nil)
	require.NotContains(t, string(metrics.Body), marker)
	require.NotContains(t, logs.String(), marker)
	require.NotEmpty(t, logs.String(), "the logs were captured")

	// The history, as Temporal stores it: ciphertext only.
	workflowID := "case-" + id
	var raw []byte
	for _, run := range runs(t, workflowID) {
		b, err := protojson.Marshal(history(t, workflowID, run))
		require.NoError(t, err)
		raw = append(raw, b...)
	}
	require.NotContains(t, string(raw), marker)
	require.NotContains(t, string(raw), base64.StdEncoding.EncodeToString([]byte(marker))[:8])
	require.Contains(t, string(raw), base64.StdEncoding.EncodeToString([]byte("binary/encrypted")))

	// A manager reads it through the codec endpoint, from the UI's origin.
	payloads := encryptedPayloads(t, workflowID)
	decode := func(token, origin string) response {
		req, err := http.NewRequest("POST", h.s.APIURL+"/codec/default/decode", bytes.NewReader(payloads))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = res.Body.Close() }()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return response{Status: res.StatusCode, Header: res.Header, Body: b.Bytes()}
	}
	ok := decode("dev-manager", cfg.Codec.UIOrigin)
	require.Equal(t, http.StatusOK, ok.Status, string(ok.Body))
	require.Equal(t, cfg.Codec.UIOrigin, ok.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, decodedData(t, ok.Body), marker, "the manager reads the notes")
	require.Equal(t, http.StatusForbidden, decode("dev-caseworker", cfg.Codec.UIOrigin).Status, "only managers decode")
	require.Equal(t, http.StatusUnauthorized, decode("", cfg.Codec.UIOrigin).Status)
	foreign := decode("dev-manager", "https://evil.example")
	require.Equal(t, http.StatusForbidden, foreign.Status, "only the UI's origin")
	require.Empty(t, foreign.Header.Get("Access-Control-Allow-Origin"))

	trail, err := h.s.Store.AuditTrail(context.Background(), "namespace:default")
	require.NoError(t, err)
	require.Len(t, trail, 1, "the one decode that happened is audited")
	require.Equal(t, "manager", trail[0].ActorUser)
	require.Equal(t, "decode", trail[0].Action)
}

// encryptedPayloads collects the update arguments of a case's first run, as the
// codec endpoint's request body.
func encryptedPayloads(t *testing.T, workflowID string) []byte {
	var ps commonpb.Payloads
	for _, ev := range history(t, workflowID, runs(t, workflowID)[0]).Events {
		if u := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes(); u != nil {
			ps.Payloads = append(ps.Payloads, u.GetAcceptedRequest().GetInput().GetArgs().GetPayloads()...)
		}
	}
	require.NotEmpty(t, ps.Payloads)
	b, err := protojson.Marshal(&ps)
	require.NoError(t, err)
	return b
}

// decodedData is the data of the payloads the codec endpoint answered, as text.
func decodedData(t *testing.T, body []byte) string {
	var ps commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(body, &ps))
	var all strings.Builder
	for _, p := range ps.Payloads {
		all.Write(p.Data)
	}
	return all.String()
}
