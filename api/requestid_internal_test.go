package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// The audit trail holds the server's own request ID, never one a client sent:
// a client's X-Request-ID is only echoed beside it.
func TestTheAuditTrailHoldsTheServersRequestID(t *testing.T) {
	e := newRegEnv(t, "sqlite")
	const theirs = "client-chosen-id-1"
	rec := e.register(person("Camara"), "X-Request-ID", theirs)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	ours := rec.Header().Get("X-Request-ID")
	_, err := uuid.Parse(ours)
	require.NoError(t, err, "X-Request-ID is the server's: %q", ours)
	require.Equal(t, theirs, rec.Header().Get("X-Client-Request-ID"))

	trail := e.call("GET", "/api/v1/cases/"+idOf(t, rec)+"/audit", nil, "Authorization", "Bearer dev-manager",
		"X-Request-ID", "client-chosen-id-2")
	require.Equal(t, http.StatusOK, trail.Code, trail.Body.String())
	var body struct {
		Items []struct {
			Part      string `json:"part"`
			RequestID string `json:"request_id"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(trail.Body.Bytes(), &body))
	require.NotEmpty(t, body.Items)
	for _, it := range body.Items {
		_, err := uuid.Parse(it.RequestID)
		require.NoError(t, err, "a server-generated UUID in the audit trail, not %q", it.RequestID)
		require.NotContains(t, it.RequestID, "client-chosen")
	}
	require.Equal(t, ours, body.Items[0].RequestID, "the registration's entry has the ID its answer named")

	// A client ID unfit for a log line or a header is not echoed at all.
	bad := e.register(person("Diallo"), "X-Request-ID", "line\", \"forged\": \"x")
	require.Empty(t, bad.Header().Get("X-Client-Request-ID"))
	_, err = uuid.Parse(bad.Header().Get("X-Request-ID"))
	require.NoError(t, err)
}
