package contract

// UpdateCorrection is the update that corrects what the workflow decides with
// (a correction of the case file that changes the household's make-up or the
// vulnerabilities; see api.CorrectCase).
const UpdateCorrection = "correction"

// Correction is what a correction of the case file changes in the workflow's
// input: counts and flags, never the personal data they come from.
type Correction struct {
	Adults      int  `json:"adults"` // the applicant included
	Minors      int  `json:"minors"`
	Vulnerable  bool `json:"vulnerable"`
	HealthNeeds bool `json:"health_needs"`
}
