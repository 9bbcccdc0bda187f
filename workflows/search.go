package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The search attributes a case keeps up to date, so that managers find stuck and
// overdue cases in the Temporal UI (from version 5 only those they search on, see
// searched). None carries personal data.
var (
	SACaseStage       = temporal.NewSearchAttributeKeyKeyword("CaseStage")
	SACaseStatus      = temporal.NewSearchAttributeKeyKeyword("CaseStatus")
	SAWaitingOn       = temporal.NewSearchAttributeKeyKeyword("WaitingOn")
	SAStageEnteredAt  = temporal.NewSearchAttributeKeyTime("StageEnteredAt")
	SAStageDueAt      = temporal.NewSearchAttributeKeyTime("StageDueAt")
	SAOverdue         = temporal.NewSearchAttributeKeyBool("Overdue")
	SACountryOfReturn = temporal.NewSearchAttributeKeyKeyword("CountryOfReturn")
	SASendingOffice   = temporal.NewSearchAttributeKeyKeyword("SendingOffice")
	SAReceivingOffice = temporal.NewSearchAttributeKeyKeyword("ReceivingOffice")
	SAVulnerable      = temporal.NewSearchAttributeKeyBool("Vulnerable")
	SAProgramme       = temporal.NewSearchAttributeKeyKeyword("Programme")
)

// declared is every custom search attribute, once, with its type (the zero value
// only carries the key and its type).
func declared() temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		SACaseStage.ValueSet(""), SACaseStatus.ValueSet(""), SAWaitingOn.ValueSet(""),
		SAStageEnteredAt.ValueSet(time.Time{}), SAStageDueAt.ValueSet(time.Time{}), SAOverdue.ValueSet(false),
		SACountryOfReturn.ValueSet(""), SASendingOffice.ValueSet(""), SAReceivingOffice.ValueSet(""),
		SAVulnerable.ValueSet(false), SAProgramme.ValueSet(""),
	)
}

// SearchAttributes are the custom search attributes a Temporal namespace needs
// for Homeward, with their types, for registering them (operator API, compose).
func SearchAttributes() map[string]enumspb.IndexedValueType {
	out := map[string]enumspb.IndexedValueType{}
	for key := range declared().GetUntypedValues() {
		out[key.GetName()] = key.GetValueType()
	}
	return out
}

// DevServerSearchAttributes is the same set in the form the SDK's dev server
// launcher takes (it reads the keys' types).
func DevServerSearchAttributes() temporal.SearchAttributes { return declared() }

// StartSearchAttributes are the attributes a case's workflow starts with.
func StartSearchAttributes(country, sending, receiving, programme string, vulnerable bool, now time.Time) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		SACaseStage.ValueSet("Intake"), SACaseStatus.ValueSet("active"), SAWaitingOn.ValueSet("caseworker"),
		SAStageEnteredAt.ValueSet(now), SAOverdue.ValueSet(false),
		SACountryOfReturn.ValueSet(country), SASendingOffice.ValueSet(sending), SAReceivingOffice.ValueSet(receiving),
		SAVulnerable.ValueSet(vulnerable), SAProgramme.ValueSet(programme),
	)
}

// searched are the search attributes a case keeps up to date from version 5: the
// ones managers search on (workflows/queries.go, the README's table), and its
// status. The others are set at the start and stay (a transfer changes the
// receiving office); StageDueAt is no longer kept (the case file has it).
type searched struct {
	stage, status, waitingOn, receivingOffice string
	stageEnteredAt                            time.Time
	overdue                                   bool
}

// searchedNow reads the attributes the run started with (the registration's, or
// those the run before had when it continued as new).
func searchedNow(ctx workflow.Context) searched {
	sa := workflow.GetTypedSearchAttributes(ctx)
	var s searched
	s.stage, _ = sa.GetKeyword(SACaseStage)
	s.status, _ = sa.GetKeyword(SACaseStatus)
	s.waitingOn, _ = sa.GetKeyword(SAWaitingOn)
	s.receivingOffice, _ = sa.GetKeyword(SAReceivingOffice)
	s.stageEnteredAt, _ = sa.GetTime(SAStageEnteredAt)
	s.overdue, _ = sa.GetBool(SAOverdue)
	return s
}

// upsertSearch upserts the attributes that changed since the last upsert, if any,
// in one command (version 5 on: the case file's writer calls it once per task).
func (w *caseRun) upsertSearch(ctx workflow.Context) {
	want := searched{stage: string(w.st.Stage), status: string(w.st.Status), waitingOn: string(w.st.WaitingOn),
		receivingOffice: w.in.ReceivingOffice, stageEnteredAt: w.st.StageEnteredAt, overdue: w.st.Overdue}
	was := w.searched
	var set []temporal.SearchAttributeUpdate
	if want.stage != was.stage {
		set = append(set, SACaseStage.ValueSet(want.stage))
	}
	if want.status != was.status {
		set = append(set, SACaseStatus.ValueSet(want.status))
	}
	if want.waitingOn != was.waitingOn {
		set = append(set, SAWaitingOn.ValueSet(want.waitingOn))
	}
	if want.receivingOffice != was.receivingOffice {
		set = append(set, SAReceivingOffice.ValueSet(want.receivingOffice))
	}
	if !want.stageEnteredAt.Equal(was.stageEnteredAt) {
		set = append(set, SAStageEnteredAt.ValueSet(want.stageEnteredAt))
	}
	if want.overdue != was.overdue {
		set = append(set, SAOverdue.ValueSet(want.overdue))
	}
	if len(set) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, set...); err != nil {
		w.logger.Warn("search attributes not updated", "error", err)
		return
	}
	w.searched = want
}
