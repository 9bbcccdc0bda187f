package api

import (
	"encoding/csv"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
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
	p := principal(c)
	cases, err := s.store.Due(c, store.Filter{Offices: officeScope(p), Limit: 200}, inbox[p.Role])
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": summaries(cases)})
}

// StuckCase is a case that needs a manager's eye, and why.
type StuckCase struct {
	Case       Summary   `json:"case"`
	Reason     string    `json:"reason"` // overdue, system, blocked
	Detail     string    `json:"detail"`
	Since      time.Time `json:"since"`
	ForSeconds int64     `json:"for_seconds"`
	UIURL      string    `json:"ui_url"`
}

// stuck lists overdue cases and cases whose external calls fail or are refused.
func (s *Server) stuck(c *gin.Context) {
	cases, err := s.store.Stuck(c, store.Filter{Limit: 500})
	if err != nil {
		respondError(c, err)
		return
	}
	now := s.now()
	items := make([]StuckCase, 0, len(cases))
	for _, cs := range cases {
		item := StuckCase{Case: summary(cs), Since: cs.StageEnteredAt, UIURL: s.uiURL(cs.WorkflowID)}
		switch {
		case cs.Blocked != "":
			item.Reason, item.Detail = "blocked", cs.Blocked
		case cs.WaitingOn == string(contract.WaitingSystem):
			item.Reason, item.Detail = "system", "an external service keeps failing; Homeward retries"
		default:
			item.Reason, item.Since = "overdue", *cs.StageDueAt
			item.Detail = cs.Stage + " was due " + cs.StageDueAt.UTC().Format(time.RFC3339) + ", waiting on " + cs.WaitingOn
		}
		item.ForSeconds = int64(now.Sub(item.Since).Seconds())
		items = append(items, item)
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

var monthRE = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// monthlyReport is the statistical table: returns by country of return, stage and
// month; assistance committed and paid; service charges. JSON, or CSV on request.
func (s *Server) monthlyReport(c *gin.Context) {
	month := c.Query("month")
	if !monthRE.MatchString(month) {
		respondError(c, &Error{Kind: KindInvalid, Detail: "month must be YYYY-MM",
			Fields: []contract.FieldError{{Field: "month", Message: "must be YYYY-MM"}}})
		return
	}
	from, _ := time.Parse("2006-01", month)
	charges := map[string]int64{}
	for _, p := range s.cfg.Rules.Programmes {
		charges[p.Name] = int64(mustCents(p.ServiceCharge))
	}
	rep, err := s.store.MonthlyReport(c, from, charges)
	if err != nil {
		respondError(c, err)
		return
	}
	if strings.Contains(c.GetHeader("Accept"), "text/csv") {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
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
		w.Flush()
		return
	}
	c.JSON(http.StatusOK, gin.H{"month": month, "returns": rep.Returns, "assistance": rep.Assistance})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustCents(s string) money.Cents {
	c, _ := money.Parse(s) // validated when the configuration was loaded
	return c
}
