package contract

import (
	"strings"
	"time"
)

// UpdateTransfer is the update that moves a case to another receiving office
// before departure (see api.Transfer).
const UpdateTransfer = "transfer"

// Transfer is what the workflow is told of a transfer: the new receiving office
// and why (free text, kept sealed in the timeline). The area of return, which
// changes with it, stays in the case file.
type Transfer struct {
	ReceivingOffice string `json:"receiving_office"`
	Reason          string `json:"reason"`
}

// Validate checks the request's shape.
func (t Transfer) Validate(time.Time) []FieldError {
	var p problems
	if t.ReceivingOffice == "" {
		p.add("receiving_office", "is required")
	}
	if strings.TrimSpace(t.Reason) == "" {
		p.add("reason", "is required: why the case moves")
	}
	p.freeText("reason", t.Reason)
	return p
}
