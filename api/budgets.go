package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

// Budgets (issue 21): each programme's yearly envelope per currency
// (configuration: budgets), and what approved plans committed and payments paid
// against it, per month, from the same dated facts as the statistics. An
// approver deciding a plan sees what is left in the case (CaseView.Budget), and a
// plan that would exceed it is flagged there; the workflow's rules are unchanged.

// BudgetStatus is a programme's budget in one currency for a year.
type BudgetStatus struct {
	Programme string `json:"programme"`
	Year      int    `json:"year"`
	Currency  string `json:"currency"`
	// Envelope and Remaining are absent when no envelope is configured.
	Envelope  *string       `json:"envelope,omitempty"`
	Committed string        `json:"committed"`
	Paid      string        `json:"paid"`
	Remaining *string       `json:"remaining,omitempty"`
	Months    []BudgetMonth `json:"months"`
	// remaining in cents, when there is an envelope.
	left int64
}

// BudgetMonth is what was committed and paid in one month of the year.
type BudgetMonth struct {
	Month     string `json:"month"`
	Committed string `json:"committed"`
	Paid      string `json:"paid"`
}

// PlanBudget is what an approver deciding a plan sees of the programme's budget:
// what is left this year, what would be left after this plan, and whether the
// plan would exceed the envelope.
type PlanBudget struct {
	Year           int    `json:"year"`
	Currency       string `json:"currency"`
	Envelope       string `json:"envelope"`
	Committed      string `json:"committed"`
	Remaining      string `json:"remaining"`
	PlanTotal      string `json:"plan_total"`
	RemainingAfter string `json:"remaining_after"`
	Exceeds        bool   `json:"exceeds"`
}

// mayReadBudget is the one rule of who reads a programme's budget: managers, and
// approvers of the offices that work in the programme (rules.programmes[].offices).
func (s *Server) mayReadBudget(p Principal, programme string) error {
	if err := permit(p, "read budgets", contract.RoleManager, contract.RoleApprover); err != nil {
		return err
	}
	prog, ok := s.cfg.Rules.Programme(programme)
	if !ok {
		return fail(KindNotFound, "no such programme")
	}
	if p.Role == contract.RoleManager || p.Office == "*" || slices.Contains(prog.Offices, p.Office) {
		return nil
	}
	return fail(KindForbidden, "an approver reads the budgets of the programmes their office works in")
}

func (s *Server) budget(c *gin.Context) {
	year := s.now().Year()
	if y := c.Query("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < 2000 || n > 2999 {
			respondError(c, &Error{Kind: KindInvalid, Detail: "the year is not valid",
				Fields: []contract.FieldError{{Field: "year", Message: "must be a year, YYYY"}}})
			return
		}
		year = n
	}
	b, err := s.Budget(c, c.Param("programme"), c.Query("currency"), year)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

// Budget is a programme's budget for a year in a currency (empty: the programme's).
func (s *Server) Budget(ctx context.Context, programme, currency string, year int) (BudgetStatus, error) {
	if err := s.mayReadBudget(principal(ctx), programme); err != nil {
		return BudgetStatus{}, err
	}
	if currency == "" {
		prog, _ := s.cfg.Rules.Programme(programme)
		currency = prog.Currency
	}
	sp, err := s.reports.SpendingOf(ctx, programme, currency, year)
	if err != nil {
		return BudgetStatus{}, err
	}
	b := BudgetStatus{Programme: programme, Year: year, Currency: currency, Months: make([]BudgetMonth, 12)}
	var committed, paid int64
	for m := range 12 {
		committed += sp.Committed[m]
		paid += sp.Paid[m]
		b.Months[m] = BudgetMonth{Month: fmt.Sprintf("%04d-%02d", year, m+1), Committed: money.Cents(sp.Committed[m]).String(),
			Paid: money.Cents(sp.Paid[m]).String()}
	}
	b.Committed, b.Paid = money.Cents(committed).String(), money.Cents(paid).String()
	if env, ok := s.cfg.Envelope(programme, currency, year); ok {
		b.left = int64(money.MustParse(env.Envelope)) - committed // validated at start
		remaining := money.Cents(b.left).String()
		b.Envelope, b.Remaining = &env.Envelope, &remaining
	}
	return b, nil
}

// withBudget shows an approver (or manager) who may read the programme's budget,
// while a plan waits for a decision, what is left of this year's envelope and
// whether the plan would exceed it.
func (s *Server) withBudget(ctx context.Context, v *CaseView) error {
	if v.Plan == nil || v.Plan.Status != contract.PlanSubmitted || s.mayReadBudget(principal(ctx), v.Programme) != nil {
		return nil
	}
	b, err := s.Budget(ctx, v.Programme, v.Plan.Total.Currency, s.now().Year())
	if err != nil || b.Envelope == nil {
		return err
	}
	total, err := v.Plan.Total.Cents()
	if err != nil {
		return err
	}
	after := money.Cents(b.left) - total
	v.Budget = &PlanBudget{Year: b.Year, Currency: b.Currency, Envelope: *b.Envelope, Committed: b.Committed,
		Remaining: *b.Remaining, PlanTotal: v.Plan.Total.Amount, RemainingAfter: after.String(), Exceeds: after < 0}
	return nil
}
