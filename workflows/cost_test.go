package workflows_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/cost"
)

// Budgets of issue 19 for the standard case (registration to completion:
// counselling, low-risk screening, fit, one flight, arrival, a plan of one cash
// and one in-kind item approved at once, delivery, three monitoring visits),
// across both of its runs.
const (
	maxActionsPerStandardCase = 65
	maxEventsPerStandardCase  = 200
)

// TestWhatAStandardCaseCosts counts the billable actions (Temporal Cloud's rules,
// see package cost) and the history events of the standard case, from the
// histories the dev server recorded for the newest version of the workflow
// (e2e/histories_test.go, path "standard"), and holds them to the budgets. The
// table shows the version before beside it.
func TestWhatAStandardCaseCosts(t *testing.T) {
	versions := historyVersions(t)
	newest := versions[len(versions)-1]
	now := standardCase(t, newest)
	require.NotNil(t, now, "no standard case recorded for %s: make histories VERSION=%s", newest, newest)
	var before *cost.Count
	for i := len(versions) - 2; i >= 0 && before == nil; i-- {
		before = standardCase(t, versions[i])
		if before != nil {
			t.Logf("before: %s", versions[i])
		}
	}
	t.Logf("the standard case, %s (both runs):", newest)
	cost.Print(testWriter{t}, *now, before)
	require.LessOrEqual(t, now.Total(), maxActionsPerStandardCase, "billable actions per standard case")
	require.LessOrEqual(t, now.Events, maxEventsPerStandardCase, "history events per standard case")
}

// historyVersions lists the folders of recorded histories, oldest first (v0, v1, ...).
func historyVersions(t *testing.T) []string {
	dirs, err := filepath.Glob(filepath.Join("testdata", "histories", "v*"))
	require.NoError(t, err)
	var vs []string
	for _, d := range dirs {
		if regexp.MustCompile(`^v[0-9]+$`).MatchString(filepath.Base(d)) {
			vs = append(vs, filepath.Base(d))
		}
	}
	n := func(v string) int { i, _ := strconv.Atoi(v[1:]); return i }
	slices.SortFunc(vs, func(a, b string) int { return n(a) - n(b) })
	require.NotEmpty(t, vs)
	return vs
}

// standardCase counts the standard case's runs recorded for a version, or nil.
func standardCase(t *testing.T, version string) *cost.Count {
	var hs []*historypb.History
	for run := 1; ; run++ {
		f, err := os.Open(filepath.Join("testdata", "histories", version, "standard-run"+strconv.Itoa(run)+".json"))
		if os.IsNotExist(err) {
			break
		}
		require.NoError(t, err)
		h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
		_ = f.Close()
		require.NoError(t, err)
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return nil
	}
	c := cost.OfRuns(hs...)
	return &c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
