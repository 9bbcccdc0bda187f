package workspace

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/store"
)

// The statistics page (managers): the tables of a month or a quarter as the API
// computes them (api.Server.MonthlyReport, QuarterlyReport), each with a bar
// chart drawn here as SVG (no script), and the downloads (CSV, XLSX).

type reportData struct {
	// Kind is "month" or "quarter"; Period its label (2026-11, 2026-Q4).
	Kind, Period string
	Month        string // the month field's value
	Year         int    // the quarter fields' values
	Quarter      int
	Years        []int
	Report       api.Statistics
	Tables       []statTable
	// Reconciliation: a month's fees charged otherwise than the agreed rates.
	Reconciliation *api.Reconciliation
}

// statTable is one breakdown's tables and charts.
type statTable struct {
	By            string
	Activity      []store.ActivityRow
	Money         []store.MoneyRow
	ActivityChart chart
	MoneyChart    chart
}

// chart is a horizontal bar chart, its geometry computed here: a group of bars
// per row (a key of the breakdown), one bar per series.
type chart struct {
	Width, Height, BarX int
	Rows                []chartRow
}

type chartRow struct {
	By, Key string
	Suffix  string // the currency of a money row
	LabelY  int
	Bars    []chartBar
}

type chartBar struct {
	Series               string
	Y, Width, TextX, TxY int
	Text                 string
}

const (
	chartLabelWidth = 230
	chartBarSpace   = 370
	chartWidth      = 720
	chartBarHeight  = 14
	chartGap        = 16
)

// barChart lays out rows of values (one per series), scaled to the largest.
func barChart(rows []chartRow, values [][]float64, texts [][]string, series []string) chart {
	top := 0.0
	for _, vs := range values {
		for _, v := range vs {
			top = max(top, v)
		}
	}
	y := 0
	for i := range rows {
		rows[i].LabelY = y + chartBarHeight
		for j, v := range values[i] {
			w := 1
			if top > 0 {
				w = max(1, int(float64(chartBarSpace)*v/top))
			}
			rows[i].Bars = append(rows[i].Bars, chartBar{Series: series[j], Y: y, Width: w,
				TextX: chartLabelWidth + w + 6, TxY: y + chartBarHeight - 2, Text: texts[i][j]})
			y += chartBarHeight + 4
		}
		y += chartGap
	}
	return chart{Width: chartWidth, Height: max(y, 1), BarX: chartLabelWidth, Rows: rows}
}

// activitySeries are the counts the activity charts draw.
var activitySeries = []string{"registered", "departed", "arrived", "closed"}

func tables(rep api.Statistics) []statTable {
	out := make([]statTable, 0, len(store.Breakdowns))
	for _, by := range store.Breakdowns {
		t := statTable{By: by}
		var rows []chartRow
		var values [][]float64
		var texts [][]string
		for _, a := range rep.Activity {
			if a.By != by {
				continue
			}
			t.Activity = append(t.Activity, a)
			rows = append(rows, chartRow{By: by, Key: a.Key})
			vs := []int64{a.Registered, a.Departed, a.Arrived, a.Closed}
			values = append(values, []float64{float64(vs[0]), float64(vs[1]), float64(vs[2]), float64(vs[3])})
			texts = append(texts, []string{strconv.FormatInt(vs[0], 10), strconv.FormatInt(vs[1], 10),
				strconv.FormatInt(vs[2], 10), strconv.FormatInt(vs[3], 10)})
		}
		t.ActivityChart = barChart(rows, values, texts, activitySeries)
		rows, values, texts = nil, nil, nil
		for _, m := range rep.Money {
			if m.By != by {
				continue
			}
			t.Money = append(t.Money, m)
			committed, _ := strconv.ParseFloat(m.Committed, 64)
			paid, _ := strconv.ParseFloat(m.Paid, 64)
			rows = append(rows, chartRow{By: by, Key: m.Key, Suffix: m.Currency})
			values = append(values, []float64{committed, paid})
			texts = append(texts, []string{m.Committed + " " + m.Currency, m.Paid + " " + m.Currency})
		}
		t.MoneyChart = barChart(rows, values, texts, []string{"committed", "paid"})
		out = append(out, t)
	}
	return out
}

// period reads the page's period: ?quarter=YYYY-Qn, else ?month=YYYY-MM, else this month.
func (w *Workspace) period(c *gin.Context) (kind, period string) {
	if q := c.Query("quarter"); q != "" {
		return "quarter", q
	}
	if y, q := c.Query("year"), c.Query("q"); y != "" && q != "" {
		return "quarter", y + "-Q" + q
	}
	if m := c.Query("month"); m != "" {
		return "month", m
	}
	return "month", w.now().Format("2006-01")
}

func (w *Workspace) statistics(c *gin.Context, kind, period string) (api.Statistics, error) {
	if kind == "quarter" {
		return w.api.QuarterlyReport(c.Request.Context(), period)
	}
	return w.api.MonthlyReport(c.Request.Context(), period)
}

func (w *Workspace) reportPage(c *gin.Context) {
	kind, period := w.period(c)
	rep, err := w.statistics(c, kind, period)
	now := w.now().UTC()
	d := reportData{Kind: kind, Period: period, Month: now.Format("2006-01"), Year: now.Year(),
		Quarter: (int(now.Month())-1)/3 + 1, Report: rep}
	for y := now.Year(); y >= now.Year()-4; y-- {
		d.Years = append(d.Years, y)
	}
	if err != nil {
		if api.ProblemOf(err).Kind != api.KindInvalid {
			w.fail(c, err)
			return
		}
		d.Period = ""
		w.render(c, http.StatusUnprocessableEntity, "reports", pageData{Title: "reports.title", Nav: "reports", Data: d,
			Problem: problemOf(err)})
		return
	}
	if kind == "month" {
		d.Month = period
		rec, err := w.api.FeeReconciliation(c.Request.Context(), period)
		if err != nil {
			w.fail(c, err)
			return
		}
		d.Reconciliation = &rec
	} else {
		d.Year, d.Quarter = rep.From.Year(), (int(rep.From.Month())-1)/3+1
	}
	d.Tables = tables(rep)
	w.render(c, http.StatusOK, "reports", pageData{Title: "reports.title", Nav: "reports", Data: d})
}

// reportDownload serves the tables of a month (?month=) or a quarter (?quarter=)
// as CSV or XLSX, written by the API's own writers.
func (w *Workspace) reportDownload(kind, format string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var period string
		var rep api.Statistics
		var err error
		if kind == "quarterly" {
			period = c.Query("quarter")
			rep, err = w.api.QuarterlyReport(c.Request.Context(), period)
		} else {
			period = c.Query("month")
			if period == "" {
				period = w.now().Format("2006-01")
			}
			rep, err = w.api.MonthlyReport(c.Request.Context(), period)
		}
		if err != nil {
			w.fail(c, err)
			return
		}
		// The period is checked (YYYY-MM or YYYY-Qn): safe in the file name.
		name := fmt.Sprintf("homeward-%s.%s", period, format)
		c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
		if format == "xlsx" {
			c.Header("Content-Type", api.XLSXType)
			c.Status(http.StatusOK)
			_ = api.WriteReportXLSX(c.Writer, rep)
			return
		}
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Status(http.StatusOK)
		_ = api.WriteReportCSV(c.Writer, rep)
	}
}

// labelKey is the catalogue key of a breakdown's key, if it has one (countries
// and programmes are shown as they are).
func labelKey(by, key string) string {
	switch by {
	case store.ByTotal:
		return "reports.all"
	case store.BySex:
		return "sex." + key
	case store.ByAgeBand:
		return "age_band." + key
	case store.ByVulnerability:
		return "reports." + key
	}
	return ""
}

// reconciliationDownload serves a month's fee reconciliation (?month=, this
// month without) as CSV, written by the API's own writer.
func (w *Workspace) reconciliationDownload(c *gin.Context) {
	month := c.Query("month")
	if month == "" {
		month = w.now().Format("2006-01")
	}
	rec, err := w.api.FeeReconciliation(c.Request.Context(), month)
	if err != nil {
		w.fail(c, err)
		return
	}
	// The month is checked (YYYY-MM): safe in the file name.
	c.Header("Content-Disposition", `attachment; filename="homeward-fees-`+month+`.csv"`)
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Status(http.StatusOK)
	_ = api.WriteReconciliationCSV(c.Writer, rec)
}
