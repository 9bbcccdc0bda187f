package workflows_test

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/homeward/homeward/workflows"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
)

// The README shows managers the saved queries exactly as the code (and the e2e
// tests) use them.
func TestTheREADMEShowsTheSavedQueries(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	example := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for _, q := range []string{workflows.QueryOverdue, workflows.QueryFailingCalls,
		workflows.QueryWaitingOnApprovers(7, example), workflows.QueryOverdueVulnerable("GN-CKY")} {
		require.Contains(t, string(readme), "`"+q+"`")
	}
}

// The search attributes are declared once in code, and production registers the
// same list (deploy/temporal/search-attributes.txt).
func TestProductionRegistersTheSameSearchAttributes(t *testing.T) {
	f, err := os.Open("../deploy/temporal/search-attributes.txt")
	require.NoError(t, err)
	defer f.Close()
	deployed := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		deployed[fields[0]] = fields[1]
	}
	inCode := map[string]string{}
	for name, typ := range workflows.SearchAttributes() {
		inCode[name] = map[enumspb.IndexedValueType]string{enumspb.INDEXED_VALUE_TYPE_KEYWORD: "Keyword",
			enumspb.INDEXED_VALUE_TYPE_BOOL: "Bool", enumspb.INDEXED_VALUE_TYPE_DATETIME: "Datetime"}[typ]
	}
	require.Equal(t, inCode, deployed)
	require.Len(t, workflows.DevServerSearchAttributes().GetUntypedValues(), len(inCode), "homeward dev registers them all")
}
