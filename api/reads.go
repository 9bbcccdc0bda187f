package api

import (
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
	p := principal(c)
	cases, err := s.store.Due(c, store.Filter{Offices: officeScope(p), Limit: 200}, inbox[p.Role])
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": summaries(cases)})
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
	rep, err := s.store.MonthlyReport(c, from)
	if err != nil {
		respondError(c, err)
		return
	}
	if strings.Contains(c.GetHeader("Accept"), "text/csv") {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Status(http.StatusOK)
		w := newCSVWriter(c.Writer)
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
		_ = w.Flush()
		return
	}
	c.JSON(http.StatusOK, gin.H{"month": month, "returns": rep.Returns, "assistance": rep.Assistance})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
