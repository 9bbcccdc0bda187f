package workflows

import "go.temporal.io/sdk/workflow"

// Changes of the workflow's behaviour, each behind workflow.GetVersion: a case
// started on older code replays the way it ran (its history has no marker and gets
// workflow.DefaultVersion), while new cases take the new behaviour. A change needs
// a version when it changes the commands a case's history records (activities,
// timers, local activities, markers, their order) on any path; a change that only
// changes what the workflow computes from them does not. The histories under
// testdata/histories prove it: each directory holds the cases of one version.
const (
	// Calls under way when a case is withdrawn run to their end and the case waits
	// for them (ActivityOptions.WaitForCancellation); the case file is written on a
	// context the withdrawal does not cancel; a compensating call the partner refuses
	// is recorded instead of blocking the closure; a withdrawal that comes while the
	// case moves into monitoring closes it instead of being lost.
	changeFinishInFlightCalls                   = "finish-in-flight-calls"
	versionFinishInFlightCalls workflow.Version = 1
)

func (w *caseRun) finishesInFlightCalls() bool { return w.version >= versionFinishInFlightCalls }

// disconnected is a context that a withdrawal does not cancel.
func disconnected(ctx workflow.Context) workflow.Context {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	return ctx
}
