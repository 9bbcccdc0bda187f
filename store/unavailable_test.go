package store_test

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/store"
)

func TestUnavailableTellsARetryFromAWrongRequest(t *testing.T) {
	for err, want := range map[error]bool{
		&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}: true,
		&pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}:                  true,
		&pgconn.PgError{Code: "08006", Message: "connection failure"}:                                  true,
		fmt.Errorf("list: %w", driver.ErrBadConn):                                                      true,
		errors.New("database is locked (5) (SQLITE_BUSY)"):                                             true,
		&pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint"}:      false,
		&pgconn.PgError{Code: "22P02", Message: "invalid input syntax for type uuid"}:                  false,
		store.ErrNotFound: false,
		nil:               false,
	} {
		require.Equal(t, want, store.Unavailable(err), "%v", err)
	}
}
