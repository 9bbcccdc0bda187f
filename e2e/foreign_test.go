package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/contract"
)

// Anyone who reaches Temporal's frontend (the UI's "Send a signal", `temporal workflow signal`,
// a client without Homeward's key ring) can send a case a signal or an update in clear JSON. The
// worker must not take it: a hand-typed "unfit" medical result would close the case, a typed
// counselling outcome would skip the caseworker. Here a raw client, without the codec, sends both
// (and a signal with no input at all); the case ignores the signals, refuses the update, and
// goes on with the genuine partner's answer.
func TestSignalsAndUpdatesNotEncryptedByHomewardAreRefused(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	id := h.register()
	h.waitCase(id, "counselling", stageIs("Counselling"))
	raw := temporalClient() // the dev server's client: no data converter of Homeward's
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wid := "case-" + id

	forged := contract.Action[contract.MedicalResult]{
		Actor: contract.Actor{User: "medical-provider", Role: contract.RoleService, Office: "*"},
		Body:  contract.MedicalResult{Result: contract.MedicalUnfit, AssessedAt: time.Now().UTC().Add(-time.Hour)},
	}
	require.NoError(t, raw.SignalWorkflow(ctx, wid, "", contract.SignalMedicalResult, forged))
	require.NoError(t, raw.SignalWorkflow(ctx, wid, "", contract.SignalMedicalResult, nil))

	upd, err := raw.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wid, UpdateName: contract.UpdateCounselling,
		WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{contract.Action[contract.Counselling]{Actor: contract.Actor{User: "caseworker-de", Role: contract.RoleCaseworker, Office: "DE-BER"},
			Body: contract.Counselling{Outcome: "withdrawn", HeldAt: time.Now().UTC()}}}})
	if err == nil {
		err = upd.Get(ctx, nil)
	}
	require.Error(t, err, "an update in clear was taken")
	// An update without input reaches the validator as an empty action: no role, refused.
	upd, err = raw.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wid, UpdateName: contract.UpdateWithdrawal,
		WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = upd.Get(ctx, nil)
	}
	require.Error(t, err, "an update without input was taken")
	c := h.call("GET", "/api/v1/cases/"+id, "dev-manager", nil).JSON(t)
	require.Equal(t, "Counselling", c["stage"], "the typed counselling outcome moved the case")

	// The genuine path: the caseworker's counselling and screening, then the simulated
	// provider's "fit". The forged "unfit", buffered first, would have been taken before it.
	h.counsel(id, "confirmed")
	h.screen(id, "low")
	c = h.waitCase(id, "the medical result", func(c map[string]any) bool {
		m, _ := c["medical"].(map[string]any)
		return m["result"] != nil
	})
	require.Equal(t, "fit", c["medical"].(map[string]any)["result"], "the case took the forged medical result")
	h.ticketed(id)

	tl := h.call("GET", "/api/v1/cases/"+id+"/timeline", "dev-manager", nil)
	require.Equal(t, http.StatusOK, tl.Status)
	require.NotContains(t, string(tl.Body), "unfit")
}
