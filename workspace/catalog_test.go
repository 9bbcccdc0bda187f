package workspace

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// Every string of the pages comes from the catalogues, in both languages: each
// key a template names is in English and French, and both have the same keys.
func TestEveryPageStringIsInBothCatalogues(t *testing.T) {
	cats, err := loadCatalogs()
	require.NoError(t, err)
	for k := range cats["en"] {
		require.Contains(t, cats["fr"], k, "French lacks %q", k)
	}
	for k := range cats["fr"] {
		if _, ok := cats["en"][k]; !ok {
			// French may translate the API's and the workflow's English words (keys with spaces).
			require.Regexp(t, ` `, k, "English lacks %q", k)
		}
	}
	literal := regexp.MustCompile(`\.T "([^"]+)"`)
	names, err := fs.Glob(templateFiles, "templates/*.html")
	require.NoError(t, err)
	for _, n := range names {
		b, err := templateFiles.ReadFile(n)
		require.NoError(t, err)
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			require.Contains(t, cats["en"], m[1], "%s names %q", n, m[1])
		}
	}
	// The keys pages make from values: each value a case can have.
	values := map[string][]string{
		"role": {"caseworker", "approver", "procurement", "manager", "service", "operator"}, "vuln": contract.Vulnerabilities,
		"waiting":  {"caseworker", "approver", "procurement", "medical_provider", "receiving_office", "system"},
		"closure":  {"completed", "withdrawn", "not_fit", "no_show", "absconded", "deceased", "ineligible", "transferred", "operator_cancelled"},
		"doc":      api.DocumentKinds,
		"stuck":    {"not_started", "overdue", "system", "blocked", "workflow_task_failing"},
		"medical":  {"fit", "fit_with_escort", "unfit_temporary", "unfit"},
		"decision": {"approve", "reject", "request_changes"}, "planstatus": strs(contract.PlanStatuses), "donor": {"approve", "refuse"}, "donordone": {"approve", "refuse"},
		"payment": {"validate", "refuse"}, "paymentdone": {"validate", "refuse"},
		"itemstatus": strs(contract.ItemStatuses), "visitstatus": strs(contract.VisitStatuses),
		"booking": strs(contract.BookingStatuses), "partner": contract.FeeKinds, "step": {"done", "current", "todo", "skipped"},
		"problem": {"validation", "conflict", "forbidden", "not-found", "unavailable", "internal", "malformed", "too-large", "unauthorized"},
	}
	// The statistics page's tables and the labels of their keys.
	values["reports.activity_by"], values["reports.money_by"], values["reports.col"] = store.Breakdowns, store.Breakdowns, store.Breakdowns
	values["sex"] = []string{"female", "male", "other", "unknown"}
	values["age_band"] = []string{store.AgeMinor, store.AgeAdult, store.AgeOlder, store.AgeUnknown}
	values["reports"] = []string{"all", "vulnerable", "not_vulnerable"}
	for _, st := range contract.Stages {
		values["stage"] = append(values["stage"], string(st))
		values["todo"] = append(values["todo"], string(st))
	}
	for _, a := range actions {
		values["done"] = append(values["done"], a.name)
		values["action"] = append(values["action"], a.name)
	}
	for prefix, vs := range values {
		for _, v := range vs {
			for _, lang := range languages {
				require.Contains(t, cats[lang], prefix+"."+v, "%s lacks %s.%s", lang, prefix, v)
			}
		}
	}
}

func TestFieldLabels(t *testing.T) {
	for field, want := range map[string]struct {
		key string
		n   int
	}{
		"beneficiary.phone":          {"beneficiary.phone", 0},
		"household[1].date_of_birth": {"household.date_of_birth", 2},
		"items[0].cost.amount":       {"items.cost.amount", 1},
		"vulnerabilities[3]":         {"vulnerabilities", 4},
	} {
		key, n := fieldLabelKey(field)
		require.Equal(t, want.key, key, field)
		require.Equal(t, want.n, n, field)
	}
}

func TestMoneyAsPeopleTypeIt(t *testing.T) {
	for in, want := range map[string]string{"900": "900.00", "900,5": "900.50", "1 250.00": "1250.00", "12.345": "12.345", "": ""} {
		require.Equal(t, want, normaliseAmount(in), in)
	}
}

// The language switch goes back to a page of this site only, however the address
// is written (a browser drops a tab and reads a backslash as a slash).
func TestTheLanguageSwitchStaysOnTheSite(t *testing.T) {
	const page = "/cases/0b9e7d7e-6a35-4c56-9f0a-3c1f1d2e4a5b"
	require.Equal(t, page, localPath(page))
	require.Equal(t, "/", localPath("/"))
	for _, back := range []string{"", "//evil.example", "/\t/evil.example", "/%09/evil.example", "/\\evil.example",
		"/%5Cevil.example", "https://evil.example/", "evil.example", "/%2F/evil.example"} {
		require.Equal(t, "/", localPath(back), "%q", back)
	}
}

// strs are a named string type's values as strings.
func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}
