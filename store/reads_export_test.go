package store

import "time"

// Statement is a read's SQL as it is sent (the dialect's placeholders) and its
// arguments: what the plan tests explain.
type Statement struct {
	Label string
	SQL   string
	Args  []any
}

func (s *Store) render(label, q string, args ...any) Statement {
	tx := s.db.Raw(q, args...)
	return Statement{Label: label, SQL: tx.Statement.SQL.String(), Args: tx.Statement.Vars}
}

func (s *Store) ListStatement(f Filter) Statement {
	q, args, err := s.listSQL(f)
	if err != nil {
		panic(err)
	}
	return s.render("list", q, args...)
}

func (s *Store) DueStatement(f Filter, waitingOn []string) Statement {
	q, args := s.dueSQL(f, waitingOn)
	return s.render("due", q, args...)
}

func (s *Store) StuckStatement(f Filter) Statement {
	q, args := s.stuckQuery(f)
	return s.render("stuck", q, args...)
}

func (s *Store) QuietStatement(before time.Time, limit int) Statement {
	q, args := s.quietSQL(before, limit)
	return s.render("quiet", q, args...)
}

func (s *Store) ReportStatements(from time.Time) []Statement {
	var out []Statement
	for _, q := range s.statisticsSQL() {
		out = append(out, s.render("statistics "+q.label, q.sql, map[string]any{"from": from, "to": from.AddDate(0, 1, 0)}))
	}
	return out
}

func (s *Store) SearchStatement(f Filter, q SearchQuery) Statement {
	sql, args, err := s.SearchSQL(f, q)
	if err != nil {
		panic(err)
	}
	return s.render("search", sql, args...)
}
