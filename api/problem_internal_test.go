package api

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/homeward/homeward/contract"
)

// What a client may send again (503 with Retry-After) and what it must not.
func TestErrorsAreClassifiedForTheClient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Kind
	}{
		{serviceerror.NewUnavailable("frontend down"), KindUnavailable},
		{serviceerror.NewWorkflowNotReady("workflow task failed while the update was in it"), KindUnavailable},
		{fmt.Errorf("update: %w", serviceerror.NewResourceExhausted(0, "busy")), KindUnavailable},
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, KindUnavailable},
		{temporal.NewApplicationError("no flight is ticketed yet", contract.RefusedWrongStage), KindConflict},
		{temporal.NewApplicationError("a caseworker may not do this", contract.RefusedForbidden), KindForbidden},
		{errors.New("json: cannot marshal"), KindInternal},
	} {
		require.Equal(t, tc.want, classify(tc.err).Kind, "%v", tc.err)
	}
}
