package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/xuri/excelize/v2"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// The statistical tables (issue 21): what happened in a month or a quarter, from
// facts dated in it (store.Statistics), so a past period never changes. JSON,
// CSV (Accept: text/csv) or XLSX (Accept: the spreadsheet's media type).

// Reports read the dated facts behind the statistics and the budgets.
type Reports interface {
	Statistics(ctx context.Context, from, to time.Time) (store.Statistics, error)
	SpendingOf(ctx context.Context, programme, currency string, year int) (store.Spending, error)
}

// XLSXType is the media type of an XLSX workbook.
const XLSXType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// Statistics is the statistical tables of a period, as the API answers them.
type Statistics struct {
	// Period is the month (YYYY-MM) or the quarter (YYYY-Qn).
	Period   string              `json:"period"`
	From     time.Time           `json:"from"`
	To       time.Time           `json:"to"`
	Activity []store.ActivityRow `json:"activity"`
	Money    []store.MoneyRow    `json:"money"`
}

var (
	monthRE   = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
	quarterRE = regexp.MustCompile(`^([0-9]{4})-Q([1-4])$`)
)

// MonthlyReport is the statistical tables of a month (YYYY-MM).
func (s *Server) MonthlyReport(ctx context.Context, month string) (Statistics, error) {
	if !monthRE.MatchString(month) {
		return Statistics{}, invalidPeriod("month", "must be YYYY-MM")
	}
	from, _ := time.Parse("2006-01", month)
	return s.statistics(ctx, month, from, from.AddDate(0, 1, 0))
}

// QuarterlyReport is the statistical tables of a quarter (YYYY-Qn): the donor's report.
func (s *Server) QuarterlyReport(ctx context.Context, quarter string) (Statistics, error) {
	m := quarterRE.FindStringSubmatch(quarter)
	if m == nil {
		return Statistics{}, invalidPeriod("quarter", "must be YYYY-Qn, n from 1 to 4")
	}
	year, _ := strconv.Atoi(m[1])
	q, _ := strconv.Atoi(m[2])
	from := time.Date(year, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC)
	return s.statistics(ctx, quarter, from, from.AddDate(0, 3, 0))
}

func invalidPeriod(field, msg string) error {
	return &Error{Kind: KindInvalid, Detail: "the period is not valid", Fields: []contract.FieldError{{Field: field, Message: msg}}}
}

func (s *Server) statistics(ctx context.Context, period string, from, to time.Time) (Statistics, error) {
	if err := permit(principal(ctx), "read the statistics", contract.RoleManager); err != nil {
		return Statistics{}, err
	}
	st, err := s.reports.Statistics(ctx, from, to)
	if err != nil {
		return Statistics{}, err
	}
	return Statistics{Period: period, From: st.From, To: st.To, Activity: st.Activity, Money: st.Money}, nil
}

// monthlyReport and quarterlyReport answer the tables in the format asked for.
func (s *Server) monthlyReport(c *gin.Context) {
	rep, err := s.MonthlyReport(c, c.Query("month"))
	respondReport(c, rep, err)
}

func (s *Server) quarterlyReport(c *gin.Context) {
	rep, err := s.QuarterlyReport(c, c.Query("quarter"))
	respondReport(c, rep, err)
}

func respondReport(c *gin.Context, rep Statistics, err error) {
	if err != nil {
		respondError(c, err)
		return
	}
	accept := c.GetHeader("Accept")
	switch {
	case strings.Contains(accept, "text/csv"):
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Status(http.StatusOK)
		_ = WriteReportCSV(c.Writer, rep)
	case strings.Contains(accept, XLSXType):
		c.Header("Content-Type", XLSXType)
		c.Status(http.StatusOK)
		_ = WriteReportXLSX(c.Writer, rep)
	default:
		c.JSON(http.StatusOK, rep)
	}
}

// The tables' columns, one layout for the CSV and the workbook.
var (
	activityColumns = append([]string{"registered", "departed", "arrived", "plans_approved", "visits_done",
		"visits_missed", "closed"}, closureColumns()...)
	moneyColumns = []string{"committed", "paid", "service_fees", "payments"}
)

func closureColumns() []string {
	out := make([]string, len(store.ClosureReasons))
	for i, r := range store.ClosureReasons {
		out[i] = "closed_" + r
	}
	return out
}

// activityCells are an activity row's counts in activityColumns' order.
func activityCells(a store.ActivityRow) []int64 {
	out := []int64{a.Registered, a.Departed, a.Arrived, a.PlansApproved, a.VisitsDone, a.VisitsMissed, a.Closed}
	for _, r := range store.ClosureReasons {
		out = append(out, a.Closures[r])
	}
	return out
}

// WriteReportCSV writes the tables as one CSV: a row per table row, the table's
// name first, the other table's columns empty (the API's and the workspace's
// download). Cells a spreadsheet would run as a formula are neutralised.
func WriteReportCSV(out io.Writer, rep Statistics) error {
	w := newCSVWriter(out)
	header := append([]string{"table", "period", "by", "key", "currency"}, activityColumns...)
	_ = w.Write(append(header, moneyColumns...))
	blankMoney := make([]string, len(moneyColumns))
	for _, a := range rep.Activity {
		row := []string{"activity", rep.Period, a.By, a.Key, ""}
		for _, n := range activityCells(a) {
			row = append(row, itoa(n))
		}
		_ = w.Write(append(row, blankMoney...))
	}
	blankActivity := make([]string, len(activityColumns))
	for _, m := range rep.Money {
		row := append([]string{"money", rep.Period, m.By, m.Key, m.Currency}, blankActivity...)
		_ = w.Write(append(row, m.Committed, m.Paid, m.ServiceFees, itoa(m.Payments)))
	}
	return w.Flush()
}

// WriteReportXLSX writes the tables as a workbook: a sheet per table, counts and
// amounts as numbers (amounts with two decimals), text cells as text (a
// workbook's string cell is never run as a formula).
func WriteReportXLSX(out io.Writer, rep Statistics) error {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	const activity, money = "Activity", "Money"
	if err := f.SetSheetName("Sheet1", activity); err != nil {
		return err
	}
	if _, err := f.NewSheet(money); err != nil {
		return err
	}
	decimals := 2
	amountStyle, err := f.NewStyle(&excelize.Style{DecimalPlaces: &decimals, NumFmt: 2}) // 0.00
	if err != nil {
		return err
	}
	headerStyle, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	writeRow := func(sheet string, row int, cells []any) error {
		cell, err := excelize.CoordinatesToCellName(1, row)
		if err != nil {
			return err
		}
		return f.SetSheetRow(sheet, cell, &cells)
	}
	header := func(sheet string, cols []string) error {
		cells := make([]any, len(cols))
		for i, c := range cols {
			cells[i] = c
		}
		if err := writeRow(sheet, 1, cells); err != nil {
			return err
		}
		last, err := excelize.CoordinatesToCellName(len(cols), 1)
		if err != nil {
			return err
		}
		return f.SetCellStyle(sheet, "A1", last, headerStyle)
	}
	if err := header(activity, append([]string{"period", "by", "key"}, activityColumns...)); err != nil {
		return err
	}
	for i, a := range rep.Activity {
		cells := []any{rep.Period, a.By, a.Key}
		for _, n := range activityCells(a) {
			cells = append(cells, n)
		}
		if err := writeRow(activity, i+2, cells); err != nil {
			return err
		}
	}
	if err := header(money, append([]string{"period", "by", "key", "currency"}, moneyColumns...)); err != nil {
		return err
	}
	for i, m := range rep.Money {
		cells := []any{rep.Period, m.By, m.Key, m.Currency}
		for _, amount := range []string{m.Committed, m.Paid, m.ServiceFees} {
			v, err := strconv.ParseFloat(amount, 64)
			if err != nil {
				return fmt.Errorf("amount %q: %w", amount, err)
			}
			cells = append(cells, v)
		}
		if err := writeRow(money, i+2, append(cells, m.Payments)); err != nil {
			return err
		}
	}
	if n := len(rep.Money); n > 0 {
		last, err := excelize.CoordinatesToCellName(7, n+1)
		if err != nil {
			return err
		}
		if err := f.SetCellStyle(money, "E2", last, amountStyle); err != nil {
			return err
		}
	}
	return f.Write(out)
}
