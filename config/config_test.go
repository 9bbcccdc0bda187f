package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreValid(t *testing.T) {
	c, err := config.Load("", env(nil))
	require.NoError(t, err)
	require.Equal(t, "homeward-cases", c.Temporal.TaskQueue)
	require.Equal(t, "sqlite", c.Database.Driver)
	require.Equal(t, 14*24*time.Hour, c.Rules.SLA.Counselling)
	require.Empty(t, c.Auth.Tokens, "no token is built in: the dev tokens are homeward dev's alone")
	require.NoError(t, c.Auth.RefuseDevTokens())
	dev := c.Auth.WithDevTokens()
	require.Len(t, dev.Tokens, 9)
	// A partner service's token carries its kind: it posts only that partner's facts.
	require.Equal(t, config.Token{Token: "dev-receiving", User: "receiving-office", Role: "service", Office: "*", Partner: "receiving"},
		dev.Tokens[8])
	require.Equal(t, config.Token{Token: "dev-approver-gn", User: "approver-gn", Role: "approver", Office: "GN-CKY"}, dev.Tokens[4])
	require.Error(t, dev.RefuseDevTokens())
	p, ok := c.Rules.Programme("REAG-GARP")
	require.True(t, ok)
	require.Equal(t, "EUR", p.Currency)
	require.Equal(t, map[string]string{"travel": "100.00", "escort": "75.00", "medical": "50.00"}, p.AgreedFees)
}

func TestEnvironmentOverridesEveryKind(t *testing.T) {
	c, err := config.Load("", env(map[string]string{
		"HOMEWARD_DATABASE_DRIVER":          "postgres",
		"HOMEWARD_DATABASE_DSN":             "postgres://postgres@127.0.0.1:5432/test",
		"HOMEWARD_RULES_SLA_PLAN_APPROVAL":  "3d",
		"HOMEWARD_RULES_MONITORING_OFFSETS": "90d,180d",
		"HOMEWARD_AUTH_TOKENS":              "t1=ana:approver:GN-CKY;t2=clinic:service:*:medical",
		"HOMEWARD_SIMULATOR_FAILURE_RATE":   "0.3",
		"HOMEWARD_RULES_MAX_REBOOKINGS":     "4",
		"HOMEWARD_TEMPORAL_ADDRESS":         "temporal:7233",
	}))
	require.NoError(t, err)
	require.Equal(t, "postgres", c.Database.Driver)
	require.Equal(t, 72*time.Hour, c.Rules.SLA.PlanApproval)
	require.Equal(t, []time.Duration{90 * 24 * time.Hour, 180 * 24 * time.Hour}, c.Rules.MonitoringOffsets)
	require.Equal(t, []config.Token{{Token: "t1", User: "ana", Role: "approver", Office: "GN-CKY"},
		{Token: "t2", User: "clinic", Role: "service", Office: "*", Partner: "medical"}}, c.Auth.Tokens)
	require.InDelta(t, 0.3, c.Simulator.FailureRate, 1e-9)
	require.Equal(t, 4, c.Rules.MaxRebookings)
	require.Equal(t, "temporal:7233", c.Temporal.Address)
}

func TestFileThenEnvironment(t *testing.T) {
	f := filepath.Join(t.TempDir(), "h.yaml")
	require.NoError(t, os.WriteFile(f, []byte("http:\n  address: 0.0.0.0:9000\ndatabase:\n  dsn: /tmp/x.db\n"), 0o600))
	c, err := config.Load("", env(map[string]string{"HOMEWARD_CONFIG": f, "HOMEWARD_DATABASE_DSN": "/tmp/y.db"}))
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:9000", c.HTTP.Address)
	require.Equal(t, "/tmp/y.db", c.Database.DSN, "the environment wins over the file")
}

func TestExampleFileLoads(t *testing.T) {
	_, err := config.Load("homeward.example.yaml", env(nil))
	require.NoError(t, err)
}

func TestBadValuesNameTheKey(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		file string
		want string
	}{
		"driver":       {env: map[string]string{"HOMEWARD_DATABASE_DRIVER": "mysql"}, want: "config: database.driver:"},
		"duration":     {env: map[string]string{"HOMEWARD_RULES_SLA_SCREENING": "soon"}, want: "soon"},
		"negative sla": {env: map[string]string{"HOMEWARD_RULES_SLA_SCREENING": "-1h"}, want: "config: rules.sla.screening:"},
		"address":      {env: map[string]string{"HOMEWARD_HTTP_ADDRESS": "8080"}, want: "config: http.address:"},
		"role":         {env: map[string]string{"HOMEWARD_AUTH_TOKENS": "t=u:boss:DE-BER"}, want: "config: auth.tokens[0]: role"},
		"token syntax": {env: map[string]string{"HOMEWARD_AUTH_TOKENS": "t-u-boss"}, want: "auth.tokens"},
		"every office for a caseworker": {env: map[string]string{"HOMEWARD_AUTH_TOKENS": "t=m:manager:*;c=u:caseworker:*"},
			want: "config: auth.tokens[1]: office"},
		"a service of no partner kind": {env: map[string]string{"HOMEWARD_AUTH_TOKENS": "s=clinic:service:*"},
			want: "config: auth.tokens[0]: a service token needs its partner kind"},
		"a partner kind for a person": {env: map[string]string{"HOMEWARD_AUTH_TOKENS": "c=ana:caseworker:DE-BER:medical"},
			want: "config: auth.tokens[0]: only a service token has a partner kind"},
		"app role":      {env: map[string]string{"HOMEWARD_DATABASE_APP_ROLE": "homeward; DROP TABLE cases"}, want: "config: database.app_role:"},
		"write timeout": {env: map[string]string{"HOMEWARD_HTTP_WRITE_TIMEOUT": "30s"}, want: "config: http.write_timeout:"},
		"idle timeout":  {env: map[string]string{"HOMEWARD_HTTP_IDLE_TIMEOUT": "-1s"}, want: "config: http.idle_timeout:"},
		"jwks cooldown": {env: map[string]string{"HOMEWARD_AUTH_OIDC_ISSUER": "https://idp.example", "HOMEWARD_AUTH_OIDC_JWKS_URL": "https://idp.example/jwks",
			"HOMEWARD_AUTH_OIDC_JWKS_REFRESH_COOLDOWN": "0s"}, want: "config: auth.oidc.jwks_refresh_cooldown:"},
		"failure rate":      {env: map[string]string{"HOMEWARD_SIMULATOR_FAILURE_RATE": "2"}, want: "config: simulator.failure_rate:"},
		"offsets order":     {env: map[string]string{"HOMEWARD_RULES_MONITORING_OFFSETS": "90d,30d"}, want: "config: rules.monitoring_offsets[1]:"},
		"unknown key":       {file: "temporal:\n  adress: x:1\n", want: "adress"},
		"amount":            {file: "rules:\n  programmes:\n    - {name: P, currency: EUR, per_adult: '1,000', per_minor: '1', family_cap: '1', second_approval_above: '1', quotes_threshold: '1', quotes_above: 3, quotes_below: 1, service_charge: '0'}\n", want: "config: rules.programmes[0].per_adult:"},
		"agreed fee kind":   {file: "rules:\n  programmes:\n    - {name: P, currency: EUR, per_adult: '1', per_minor: '1', family_cap: '1', second_approval_above: '1', quotes_threshold: '1', quotes_above: 3, quotes_below: 1, service_charge: '0', agreed_fees: {hotel: '1.00'}}\n", want: "config: rules.programmes[0].agreed_fees.hotel:"},
		"agreed fee amount": {file: "rules:\n  programmes:\n    - {name: P, currency: EUR, per_adult: '1', per_minor: '1', family_cap: '1', second_approval_above: '1', quotes_threshold: '1', quotes_above: 3, quotes_below: 1, service_charge: '0', agreed_fees: {travel: 'ten'}}\n", want: "config: rules.programmes[0].agreed_fees.travel:"},
		"budget programme":  {file: "budgets:\n  - {programme: NOPE, currency: EUR, year: 2026, envelope: '1.00'}\n", want: "config: budgets[0].programme:"},
		"budget envelope":   {file: "budgets:\n  - {programme: REAG-GARP, currency: EUR, year: 2026, envelope: '0.00'}\n", want: "config: budgets[0].envelope:"},
		"budget twice": {file: "budgets:\n  - {programme: REAG-GARP, currency: EUR, year: 0, envelope: '1.00'}\n  - {programme: REAG-GARP, currency: EUR, year: 0, envelope: '2.00'}\n",
			want: "config: budgets[1]: a second envelope"},
		"sticky cache": {env: map[string]string{"HOMEWARD_TEMPORAL_STICKY_CACHE_SIZE": "-1"}, want: "config: temporal.sticky_cache_size:"},
	} {
		t.Run(name, func(t *testing.T) {
			file := ""
			if tc.file != "" {
				file = filepath.Join(t.TempDir(), "c.yaml")
				require.NoError(t, os.WriteFile(file, []byte(tc.file), 0o600))
			}
			_, err := config.Load(file, env(tc.env))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// A year's own envelope wins over the every-year one; none for an unknown currency.
func TestBudgetEnvelopes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("budgets:\n  - {programme: REAG-GARP, currency: EUR, year: 0, envelope: '900.00'}\n"+
		"  - {programme: REAG-GARP, currency: EUR, year: 2027, envelope: '100.00'}\n"), 0o600))
	c, err := config.Load(file, env(nil))
	require.NoError(t, err)
	b, ok := c.Envelope("REAG-GARP", "EUR", 2027)
	require.True(t, ok)
	require.Equal(t, "100.00", b.Envelope)
	b, ok = c.Envelope("REAG-GARP", "EUR", 2026)
	require.True(t, ok)
	require.Equal(t, "900.00", b.Envelope)
	_, ok = c.Envelope("REAG-GARP", "USD", 2026)
	require.False(t, ok)
	_, ok = c.Envelope("EU-IOM-JI", "EUR", 2026)
	require.False(t, ok, "a file that sets budgets replaces the whole list")
}

// The dev tokens are recognised wherever they are configured, and a configured
// token of the same value is kept as configured when homeward dev adds them.
func TestDevTokensAreRecognised(t *testing.T) {
	c, err := config.Load("", env(map[string]string{"HOMEWARD_AUTH_TOKENS": "s3cret=ana:approver:GN-CKY;dev-manager=eve:manager:*",
		"HOMEWARD_AUTH_OIDC_AUTHORIZED_PARTIES": "homeward-web,homeward-cli"}))
	require.NoError(t, err)
	err = c.Auth.RefuseDevTokens()
	require.ErrorContains(t, err, "auth.tokens[1]")
	require.ErrorContains(t, err, "dev-manager")
	require.Equal(t, []string{"homeward-web", "homeward-cli"}, c.Auth.OIDC.AuthorizedParties)
	dev := c.Auth.WithDevTokens()
	require.Len(t, dev.Tokens, len(config.DevTokens())+1) // the secret token, and every dev token
	require.Equal(t, "eve", dev.Tokens[1].User)
}
