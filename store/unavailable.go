package store

import (
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable says whether err means the database cannot be reached or is not
// taking work just now (restarting, shutting down, out of connections, locked):
// the same request may succeed later, so the caller should be told to retry, not
// that the request was wrong.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case strings.HasPrefix(pg.Code, "08"): // connection exception
			return true
		case pg.Code == "57P01", pg.Code == "57P02", pg.Code == "57P03": // admin/crash shutdown, cannot connect now
			return true
		case pg.Code == "53300", pg.Code == "40001", pg.Code == "40P01": // too many connections; serialization, deadlock: retry
			return true
		}
		return false
	}
	var netErr net.Error
	if errors.Is(err, driver.ErrBadConn) || pgconn.Timeout(err) || errors.As(err, &netErr) {
		return true
	}
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"database is locked", "SQLITE_BUSY", "connection refused", "broken pipe", "connection reset",
		"failed to connect", "the database system is", "bad connection", "server closed", "unexpected EOF", "conn closed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
