package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// The search attributes a case keeps up to date at every transition, so that
// managers find stuck and overdue cases in the Temporal UI. None carries personal data.
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
