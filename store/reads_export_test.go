package store

import "time"

func (s *Store) ListStatement(f Filter) Statement {
	q, args, err := s.listSQL(f)
	if err != nil {
		panic(err)
	}
	return s.Render("list", q, args...)
}

func (s *Store) DueStatement(f Filter, waitingOn []string) Statement {
	q, args := s.dueSQL(f, waitingOn)
	return s.Render("due", q, args...)
}

func (s *Store) StuckStatement(f Filter) Statement {
	q, args := s.stuckQuery(f)
	return s.Render("stuck", q, args...)
}

func (s *Store) QuietStatement(before time.Time, limit int) Statement {
	q, args := s.quietSQL(before, limit)
	return s.Render("quiet", q, args...)
}

func (s *Store) ReportStatements(from time.Time) []Statement {
	var out []Statement
	for _, q := range s.statisticsSQL() {
		out = append(out, s.Render("statistics "+q.label, q.sql, map[string]any{"from": from, "to": from.AddDate(0, 1, 0)}))
	}
	return out
}
