package e2e

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/config"
)

// Who sees what: caseworkers their offices' cases, approvers the cases waiting on
// them and those they decided, managers all, partners nothing but callbacks; and
// every read of personal data is in the case's audit trail.
func TestAccessByOfficeAndRoleAndTheAuditTrail(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Auth.Tokens = append(cfg.Auth.Tokens,
		config.Token{Token: "dev-caseworker-sn", User: "caseworker-sn", Role: "caseworker", Office: "SN-DKR"},
		config.Token{Token: "dev-approver-gn-2", User: "approver-gn-2", Role: "approver", Office: "GN-CKY"})
	h := start(t, cfg)
	id := h.register()
	path := "/api/v1/cases/" + id

	seen := func(token string) int { return h.call("GET", path, token, nil).Status }
	listed := func(token string) int {
		return len(h.call("GET", "/api/v1/cases", token, nil).JSON(t)["items"].([]any))
	}
	require.Equal(t, http.StatusOK, seen("dev-caseworker"), "the sending office")
	require.Equal(t, http.StatusOK, seen("dev-caseworker-gn"), "the receiving office")
	// A client's own request ID is echoed beside the server's, never recorded instead.
	mine := h.call("GET", path, "dev-caseworker-gn", nil, "X-Request-ID", "client-chosen-id")
	require.Equal(t, "client-chosen-id", mine.Header.Get("X-Client-Request-ID"))
	require.Equal(t, http.StatusNotFound, seen("dev-caseworker-sn"), "another office")
	require.Equal(t, 0, listed("dev-caseworker-sn"))
	require.Equal(t, http.StatusNotFound, seen("dev-approver-gn"), "not waiting on an approver")
	require.Equal(t, 0, listed("dev-approver-gn"))
	require.Equal(t, http.StatusForbidden, seen("dev-medical"), "partners only call back")
	require.Equal(t, http.StatusOK, seen("dev-manager"))

	h.counsel(id, "confirmed")
	h.screen(id, "low")
	h.depart(id)
	h.submitPlan(id, cost("cash", "300.00"))
	require.Equal(t, http.StatusOK, seen("dev-approver-gn"), "waiting on approvers")
	require.Equal(t, 1, listed("dev-approver-gn"))
	h.decide(id, "dev-approver-gn", "approve")
	h.waitCase(id, "procurement or later", func(c map[string]any) bool { return c["waiting_on"] != "approver" })
	require.Equal(t, http.StatusOK, seen("dev-approver-gn"), "they decided it")
	require.Equal(t, http.StatusNotFound, seen("dev-approver-gn-2"), "another approver did not")

	require.Equal(t, http.StatusForbidden, h.call("GET", path+"/audit", "dev-caseworker", nil).Status)
	trail := h.call("GET", path+"/audit", "dev-manager", nil).JSON(t)["items"].([]any)
	byUser := map[string][]string{}
	var requestIDs []string
	for _, e := range trail {
		e := e.(map[string]any)
		user := e["actor"].(map[string]any)["user"].(string)
		byUser[user] = append(byUser[user], e["part"].(string)+":"+e["action"].(string))
		requestIDs = append(requestIDs, e["request_id"].(string))
		_, err := uuid.Parse(e["request_id"].(string))
		require.NoError(t, err, "the server's own request ID, a UUID: %v", e["request_id"])
	}
	require.Equal(t, "registration:create", byUser["caseworker-de"][0])
	require.Contains(t, byUser["caseworker-gn"], "case_file:read")
	require.Contains(t, requestIDs, mine.Header.Get("X-Request-ID"), "the entry of the read names the ID its answer gave")
	require.Contains(t, byUser["approver-gn"], "case_file:read")
	require.NotContains(t, byUser, "caseworker-sn", "a refused read reads nothing")
}

// One person has at most one active case: a second registration of the same
// person (found by a keyed hash; the names are sealed at rest) is a conflict,
// and the sealed columns hold no names.
func TestOneActiveCasePerPersonAndSealedColumns(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	reg := registration()
	first := h.call("POST", "/api/v1/cases", "dev-caseworker", reg)
	require.Equal(t, http.StatusCreated, first.Status, string(first.Body))
	again := h.call("POST", "/api/v1/cases", "dev-caseworker", reg)
	require.Equal(t, http.StatusConflict, again.Status, string(again.Body))

	db, err := h.s.Store.SQL()
	require.NoError(t, err)
	var raw string
	require.NoError(t, db.QueryRow("SELECT beneficiary || household || vulnerabilities || state FROM cases").Scan(&raw))
	require.NotContains(t, raw, "Aminata")
	require.NotContains(t, raw, "Mariama")
	require.NotContains(t, raw, "health_needs")
	require.Equal(t, "Aminata", first.JSON(t)["beneficiary"].(map[string]any)["given_name"], "the API reads it back")

	id := first.JSON(t)["id"].(string)
	h.counsel(id, "withdrawn")
	h.waitCase(id, "closure", stageIs("Closed"))
	require.Equal(t, http.StatusCreated, h.call("POST", "/api/v1/cases", "dev-caseworker", reg).Status,
		"once the case is closed, the person may return later")
}
