package store

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// Rebind turns ? placeholders into $1, $2, ... on Postgres, for SQL run outside
// GORM (the benchmark's seeding, the tests that read plans).
func Rebind(driver, q string) string {
	if driver != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Statement is a read's SQL as it is sent (GORM's expansion of lists, the
// dialect's placeholders) and its arguments: what the plan tests and the
// benchmark explain.
type Statement struct {
	Label string
	SQL   string
	Args  []any
}

// Render is the statement GORM sends for q and args, without running it.
func (s *Store) Render(label, q string, args ...any) Statement {
	tx := s.db.Raw(q, args...)
	return Statement{Label: label, SQL: tx.Statement.SQL.String(), Args: tx.Statement.Vars}
}

// PlanLines reads the rows of an EXPLAIN (SQLite's EXPLAIN QUERY PLAN or
// Postgres's EXPLAIN): the last column of each, which holds the plan's text.
func PlanLines(rows *sql.Rows) ([]string, error) {
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		lines = append(lines, fmt.Sprint(vals[len(vals)-1]))
	}
	return lines, rows.Err()
}
