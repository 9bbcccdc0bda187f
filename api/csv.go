package api

import (
	"encoding/csv"
	"io"
	"strings"
)

// csvWriter writes CSV that a spreadsheet opens as data: a cell that begins
// with =, +, -, @, a tab or a carriage return would be read as a formula (CSV
// injection), so it gets a leading apostrophe. Every CSV download goes through it.
type csvWriter struct{ w *csv.Writer }

func newCSVWriter(w io.Writer) *csvWriter { return &csvWriter{w: csv.NewWriter(w)} }

// Write writes one record, each cell neutralised.
func (c *csvWriter) Write(record []string) error {
	safe := make([]string, len(record))
	for i, cell := range record {
		safe[i] = csvCell(cell)
	}
	return c.w.Write(safe)
}

// Flush writes what is buffered and reports an error of any write.
func (c *csvWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// csvCell neutralises a cell a spreadsheet would take for a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
