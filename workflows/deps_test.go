package workflows_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTheWorkflowsDoNotLinkTheDatabase: the workflow code is deterministic and
// runs in the worker's replays; it shares its types with the activities through
// contract, not store, so no ORM or database driver is among what it links (its
// tests aside). go test puts its own go first on the PATH.
func TestTheWorkflowsDoNotLinkTheDatabase(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err, "go list -deps")
	forbidden := []string{"gorm.io/", "github.com/jackc/pgx", "github.com/lib/pq", "sqlite", "github.com/glebarez/",
		"modernc.org/sqlite", "github.com/homeward/homeward/store"}
	for dep := range strings.FieldsSeq(string(out)) {
		require.NotEqual(t, "database/sql", dep, "the workflows link database/sql")
		for _, f := range forbidden {
			require.NotContains(t, dep, f, "the workflows link %s", dep)
		}
	}
}
