package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// The monthly fee reconciliation (issue 21, point 3): the fees the partners
// charged in a month that differ from the programme's agreed rates, each with
// both figures and the difference: the "inconsistencies" the sending office
// resolves with the partners. JSON, or CSV (Accept: text/csv).

// Reconciliation is a month's fees that differ from the agreed rates.
type Reconciliation struct {
	Period      string                `json:"period"`
	From        time.Time             `json:"from"`
	To          time.Time             `json:"to"`
	Differences []store.FeeDifference `json:"differences"`
}

// FeeReconciliation is the reconciliation of a month (YYYY-MM), for managers.
// Fees is what the fee reconciliation reads of the case file.
type Fees interface {
	FeeReconciliation(ctx context.Context, from, to time.Time) ([]store.FeeDifference, error)
}

func (s *Server) FeeReconciliation(ctx context.Context, month string) (Reconciliation, error) {
	if err := permit(principal(ctx), "read the fee reconciliation", contract.RoleManager); err != nil {
		return Reconciliation{}, err
	}
	if !monthRE.MatchString(month) {
		return Reconciliation{}, invalidPeriod("month", "must be YYYY-MM")
	}
	from, _ := time.Parse("2006-01", month)
	to := from.AddDate(0, 1, 0)
	diffs, err := s.fees.FeeReconciliation(ctx, from, to)
	if err != nil {
		return Reconciliation{}, err
	}
	return Reconciliation{Period: month, From: from, To: to, Differences: diffs}, nil
}

func (s *Server) feeReconciliation(c *gin.Context) {
	rec, err := s.FeeReconciliation(c, c.Query("month"))
	if err != nil {
		respondError(c, err)
		return
	}
	if strings.Contains(c.GetHeader("Accept"), "text/csv") {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Status(http.StatusOK)
		_ = WriteReconciliationCSV(c.Writer, rec)
		return
	}
	c.JSON(http.StatusOK, rec)
}

// ReconciliationColumns are the CSV's columns.
var ReconciliationColumns = []string{"period", "case_id", "reference", "programme", "partner", "service",
	"partner_reference", "charged_at", "charged", "charged_currency", "agreed", "agreed_currency", "difference"}

// WriteReconciliationCSV writes the reconciliation as CSV, a row per fee (the
// API's and the workspace's download). A negative difference starts with "-":
// like every cell a spreadsheet would run as a formula, it gets an apostrophe.
func WriteReconciliationCSV(out io.Writer, rec Reconciliation) error {
	w := newCSVWriter(out)
	_ = w.Write(ReconciliationColumns)
	for _, d := range rec.Differences {
		diff := ""
		if d.Difference != nil {
			diff = d.Difference.Amount
		}
		_ = w.Write([]string{rec.Period, d.CaseID, d.Reference, d.Programme, d.Partner, d.Service, d.PartnerReference,
			d.ChargedAt.UTC().Format(time.RFC3339), d.Charged.Amount, d.Charged.Currency, d.Agreed.Amount, d.Agreed.Currency, diff})
	}
	return w.Flush()
}
