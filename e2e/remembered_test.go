package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A request sent with an Idempotency-Key is remembered without its answer, which
// can hold personal data (a case view with names and vulnerabilities, a note's
// text): the database keeps the status, the case and the created note's ID, even
// once opened with the key that seals it. A repeat re-reads the answer through
// the audited read path, so it is in the audit trail like any read.
func TestRememberedAnswersKeepNoPersonalDataAndRepeatsAreAudited(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	reg := registration()
	family := reg["beneficiary"].(map[string]any)["family_name"].(string)
	r := h.call("POST", "/api/v1/cases", "dev-caseworker", reg)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	h.waitCase(id, "counselling", stageIs("Counselling"))

	const secret = "Canary-Remembered-7 called about her daughter"
	notes := "/api/v1/cases/" + id + "/notes"
	n1 := h.call("POST", notes, "dev-caseworker", map[string]any{"text": secret}, "Idempotency-Key", "note-1")
	require.Equal(t, http.StatusCreated, n1.Status, string(n1.Body))
	counselling := map[string]any{"outcome": "confirmed", "held_at": "2026-11-21T10:00:00Z"}
	a1 := h.call("POST", "/api/v1/cases/"+id+"/counselling", "dev-caseworker", counselling, "Idempotency-Key", "counsel-1")
	require.Equal(t, http.StatusOK, a1.Status, string(a1.Body))
	require.Contains(t, string(a1.Body), family, "the first answer is the case view")

	db, err := h.s.Store.SQL()
	require.NoError(t, err)
	rows, err := db.Query("SELECT key FROM idempotent_requests")
	require.NoError(t, err)
	var keys []string
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Close())
	require.Len(t, keys, 2)
	for _, k := range keys {
		m, err := h.s.Store.RememberedResponse(t.Context(), k) // opened with the sealing key
		require.NoError(t, err)
		require.Equal(t, id, m.CaseID)
		require.NotContains(t, m.Body, secret, "a note's text is remembered")
		require.NotContains(t, m.Body, family, "the case view is remembered")
		require.NotContains(t, m.Body, "Aminata")
	}

	reads := func(part string) int {
		trail, err := h.s.Store.AuditTrail(t.Context(), id)
		require.NoError(t, err)
		n := 0
		for _, e := range trail {
			if e.Part == part && e.Action == "read" {
				n++
			}
		}
		return n
	}
	caseReads, noteReads := reads("case_file"), reads("notes")
	a2 := h.call("POST", "/api/v1/cases/"+id+"/counselling", "dev-caseworker", counselling, "Idempotency-Key", "counsel-1")
	require.Equal(t, http.StatusOK, a2.Status, string(a2.Body))
	require.Equal(t, id, a2.JSON(t)["id"])
	require.Contains(t, string(a2.Body), family, "the repeat is answered with the case view")
	require.Equal(t, caseReads+1, reads("case_file"), "the repeat is an audited read of the case file")

	n2 := h.call("POST", notes, "dev-caseworker", map[string]any{"text": secret}, "Idempotency-Key", "note-1")
	require.Equal(t, http.StatusCreated, n2.Status, string(n2.Body))
	require.JSONEq(t, string(n1.Body), string(n2.Body), "the repeat answers the same note")
	require.Equal(t, noteReads+1, reads("notes"), "the repeat is an audited read of the notes")
	require.Len(t, h.call("GET", notes, "dev-caseworker", nil).JSON(t)["items"], 1, "one note")
}

// A delivery whose answer was lost (the case file could not be read to answer
// it, so nothing was remembered) is retried with its Idempotency-Key after the
// case has continued into monitoring, in a new run of its workflow that no longer
// knows the update: the retry gets the case, as the first attempt would have,
// and records nothing twice. Another key for the same delivery is refused.
func TestARetryFindsItsActionAppliedInAnEarlierRun(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	id := h.register()
	h.planApproved(id, cost("cash", "400.00"), cost("in_kind", "900.00"))
	c := h.waitCase(id, "the in-kind item ordered", func(c map[string]any) bool {
		ps := list(c["procurement"])
		return len(ps) == 2 && ps[1]["status"] == "ordered"
	})
	path := fmt.Sprintf("/api/v1/cases/%s/procurement/%s/delivery", id, list(c["procurement"])[1]["id"])
	body := map[string]any{"delivered_at": now(), "handover_certificate": "HC-1"}
	first := h.call("POST", path, "dev-procurement", body, "Idempotency-Key", "deliver-1")
	require.Equal(t, http.StatusOK, first.Status, string(first.Body))
	h.waitCase(id, "monitoring", stageIs("Monitoring"))

	db, err := h.s.Store.SQL()
	require.NoError(t, err)
	_, err = db.Exec("DELETE FROM idempotent_requests") // the answer that was lost
	require.NoError(t, err)
	timeline := func() int {
		evs, err := h.s.Store.Timeline(t.Context(), id)
		require.NoError(t, err)
		return len(evs)
	}
	lines := timeline()

	again := h.call("POST", path, "dev-procurement", body, "Idempotency-Key", "deliver-1")
	require.Equal(t, http.StatusOK, again.Status, string(again.Body))
	require.Equal(t, id, again.JSON(t)["id"])
	require.Equal(t, "Monitoring", again.JSON(t)["stage"])
	require.Equal(t, lines, timeline(), "nothing recorded twice")

	other := h.call("POST", path, "dev-procurement", body, "Idempotency-Key", "deliver-2")
	require.Equal(t, http.StatusConflict, other.Status, "a new request for a delivery made: %s", other.Body)
}
