package simulator_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/simulator"
)

// Remote scripts and reads a simulator in another process exactly as the
// simulator's own methods do, through its control routes.
func TestRemoteControlsASimulatorOverHTTP(t *testing.T) {
	sim := simulator.New(simulator.Options{Seed: 1})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	r := simulator.Remote{URL: srv.URL + "/"}

	require.NoError(t, r.SetFault("finance", simulator.Fault{FailureRate: 0.5, Mode: simulator.ModeReject, Latency: 5 * time.Millisecond}))
	require.Equal(t, simulator.Fault{FailureRate: 0.5, Mode: simulator.ModeReject, Latency: 5 * time.Millisecond}, sim.Faults()["finance"])
	require.ErrorContains(t, r.SetFault("nobody", simulator.Fault{}), "400")

	require.NoError(t, r.ScriptMedical("c1", simulator.MedicalScript{Results: []string{"unfit"}}))
	require.ErrorContains(t, r.ScriptMedical("c1", simulator.MedicalScript{Results: []string{"tired"}}), "must be fit")
	require.NoError(t, r.ScriptEligibility("c1", partners.Eligibility{Eligible: false, Reason: "out of scope"}))

	c, err := r.Counts()
	require.NoError(t, err)
	require.Equal(t, sim.Counts(), c)
}
