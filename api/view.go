package api

import (
	"encoding/json"
	"net/url"
	"time"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// CaseView is a case as the API shows it: the case file as registered, and the
// workflow's live state.
type CaseView struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
	contract.CaseState
	Beneficiary     json.RawMessage `json:"beneficiary"`
	Household       json.RawMessage `json:"household"`
	Vulnerabilities json.RawMessage `json:"vulnerabilities"`
	HostCountry     string          `json:"host_country"`
	CountryOfReturn string          `json:"country_of_return"`
	AreaOfReturn    Area            `json:"area_of_return"`
	SendingOffice   string          `json:"sending_office"`
	ReceivingOffice string          `json:"receiving_office"`
	Programme       string          `json:"programme"`
	Consent         json.RawMessage `json:"consent"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	Workflow        WorkflowRef     `json:"workflow"`
	// Owners and Documents: the case file beside the case (GET /cases/{id}).
	Owners    map[string]string `json:"owners,omitempty"`
	Documents []DocumentMeta    `json:"documents,omitempty"`
	// Budget: while a plan waits for a decision, what is left of the programme's
	// envelope, to whoever may read the programme's budget (withBudget).
	Budget *PlanBudget `json:"budget,omitempty"`
}

// WorkflowRef locates the case's workflow, and the case in the Temporal UI.
type WorkflowRef struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	UIURL      string `json:"ui_url"`
}

// Summary is a case in a list: no personal data.
type Summary struct {
	ID              string     `json:"id"`
	Reference       string     `json:"reference"`
	Status          string     `json:"status"`
	ClosureReason   string     `json:"closure_reason"`
	Stage           string     `json:"stage"`
	WaitingOn       string     `json:"waiting_on"`
	StageEnteredAt  time.Time  `json:"stage_entered_at"`
	StageDueAt      *time.Time `json:"stage_due_at"`
	Overdue         bool       `json:"overdue"`
	Blocked         string     `json:"blocked"`
	CountryOfReturn string     `json:"country_of_return"`
	SendingOffice   string     `json:"sending_office"`
	ReceivingOffice string     `json:"receiving_office"`
	Programme       string     `json:"programme"`
	Vulnerable      bool       `json:"vulnerable"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	// Owners by office, in the lists that show them (list, inbox, search).
	Owners map[string]string `json:"owners,omitempty"`
}

func (s *Server) view(c *store.Case, st contract.CaseState) CaseView {
	if st.Stage == "" { // no state recorded yet: the case was just registered
		st = contract.CaseState{Stage: contract.Stage(c.Stage), Status: contract.Status(c.Status),
			WaitingOn: contract.WaitingOn(c.WaitingOn), StageEnteredAt: c.StageEnteredAt}
	}
	st = st.AsOf(s.now()) // what the case published as opening later (a visit) has opened by now
	return CaseView{
		ID: c.ID, Reference: c.Reference, CaseState: st,
		Beneficiary: json.RawMessage(c.Beneficiary), Household: json.RawMessage(c.Household),
		Vulnerabilities: json.RawMessage(c.Vulnerabilities), HostCountry: c.HostCountry,
		CountryOfReturn: c.CountryOfReturn, AreaOfReturn: Area{Region: c.AreaRegion, District: c.AreaDistrict},
		SendingOffice: c.SendingOffice, ReceivingOffice: c.ReceivingOffice, Programme: c.Programme,
		Consent: json.RawMessage(c.Consent), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Workflow: WorkflowRef{WorkflowID: c.WorkflowID, RunID: c.RunID, UIURL: s.uiURL(c.WorkflowID)},
	}
}

// uiURL links to the case's workflow in the Temporal UI (its latest run).
func (s *Server) uiURL(workflowID string) string {
	return s.cfg.Temporal.UIURL + "/namespaces/" + url.PathEscape(s.cfg.Temporal.Namespace) +
		"/workflows/" + url.PathEscape(workflowID)
}

func summary(c store.Case) Summary {
	return Summary{ID: c.ID, Reference: c.Reference, Status: c.Status, ClosureReason: c.ClosureReason, Stage: c.Stage,
		WaitingOn: c.WaitingOn, StageEnteredAt: c.StageEnteredAt, StageDueAt: c.StageDueAt, Overdue: c.Overdue,
		Blocked: c.Blocked, CountryOfReturn: c.CountryOfReturn, SendingOffice: c.SendingOffice,
		ReceivingOffice: c.ReceivingOffice, Programme: c.Programme, Vulnerable: c.Vulnerable,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func summaries(cs []store.Case) []Summary {
	out := make([]Summary, 0, len(cs))
	for _, c := range cs {
		out = append(out, summary(c))
	}
	return out
}
