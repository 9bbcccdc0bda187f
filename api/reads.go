package api

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// inbox is who each role works for: the cases waiting on them.
var inbox = map[contract.Role][]string{
	contract.RoleCaseworker:  {string(contract.WaitingCaseworker)},
	contract.RoleApprover:    {string(contract.WaitingApprover)},
	contract.RoleProcurement: {string(contract.WaitingProcurement)},
	contract.RoleManager:     {string(contract.WaitingSystem)},
}

// tasks is the caller's inbox: cases waiting on their role, oldest due first.
func (s *Server) tasks(c *gin.Context) {
	items, err := s.Inbox(c, c.Query("owner"))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// Inbox is the cases waiting on the caller's role in their offices, the caller's
// own first, then the oldest due first; owner filters by owner (me, none, a user).
func (s *Server) Inbox(ctx context.Context, owner string) ([]Summary, error) {
	p := principal(ctx)
	if err := permit(p, "have an inbox", caseRoles...); err != nil {
		return nil, err
	}
	f := store.Filter{Offices: officeScope(p), Limit: 200}
	if err := ownerFilter(p, owner, &f); err != nil {
		return nil, &Error{Kind: KindInvalid, Detail: "the filters are not valid",
			Fields: []contract.FieldError{{Field: "owner", Message: "must be me, none or a user name"}}}
	}
	cases, err := s.store.Due(ctx, f, inbox[p.Role])
	if err != nil {
		return nil, err
	}
	items := summaries(cases)
	if err := s.withOwners(ctx, items); err != nil {
		return nil, err
	}
	mineFirst(p, items) // then the oldest due first
	return items, nil
}

var monthRE = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// monthlyReport is the statistical table: returns by country of return, stage and
// month; assistance committed and paid; service charges. JSON, or CSV on request.
func (s *Server) monthlyReport(c *gin.Context) {
	month := c.Query("month")
	rep, err := s.MonthlyReport(c, month)
	if err != nil {
		respondError(c, err)
		return
	}
	if strings.Contains(c.GetHeader("Accept"), "text/csv") {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Status(http.StatusOK)
		_ = WriteMonthlyCSV(c.Writer, month, rep)
		return
	}
	c.JSON(http.StatusOK, gin.H{"month": month, "returns": rep.Returns, "assistance": rep.Assistance})
}

// MonthlyReport is the statistical table of a month (YYYY-MM).
func (s *Server) MonthlyReport(ctx context.Context, month string) (store.MonthlyReport, error) {
	if err := permit(principal(ctx), "read the statistics", contract.RoleManager); err != nil {
		return store.MonthlyReport{}, err
	}
	if !monthRE.MatchString(month) {
		return store.MonthlyReport{}, &Error{Kind: KindInvalid, Detail: "month must be YYYY-MM",
			Fields: []contract.FieldError{{Field: "month", Message: "must be YYYY-MM"}}}
	}
	from, _ := time.Parse("2006-01", month)
	return s.store.MonthlyReport(ctx, from)
}

// WriteMonthlyCSV writes the month's table as CSV (the API's and the workspace's download).
func WriteMonthlyCSV(out io.Writer, month string, rep store.MonthlyReport) error {
	w := newCSVWriter(out) // cells a spreadsheet would run as a formula are neutralised
	_ = w.Write([]string{"table", "month", "country_of_return", "stage", "currency", "registered", "departed", "closed",
		"committed", "paid", "service_charges", "cases_committed", "payments"})
	for _, r := range rep.Returns {
		_ = w.Write([]string{"returns", month, r.CountryOfReturn, r.Stage, "", itoa(r.Registered), itoa(r.Departed),
			itoa(r.Closed), "", "", "", "", ""})
	}
	for _, a := range rep.Assistance {
		_ = w.Write([]string{"assistance", month, a.CountryOfReturn, "", a.Currency, "", "", "", a.Committed, a.Paid,
			a.ServiceCharges, itoa(a.CasesCommitted), itoa(a.Payments)})
	}
	return w.Flush()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ActiveByStage counts the active cases in each stage, in the caller's offices.
func (s *Server) ActiveByStage(ctx context.Context) (map[string]int64, error) {
	if err := permit(principal(ctx), "count cases", caseRoles...); err != nil {
		return nil, err
	}
	counts, err := s.store.ActiveByStage(ctx, officeScope(principal(ctx)))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(counts))
	for _, c := range counts {
		out[c.Stage] = c.Cases
	}
	return out, nil
}
