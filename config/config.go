// Package config loads Homeward's one Config struct with Viper: built-in defaults
// (defaults.yaml), then an optional YAML file (--config or HOMEWARD_CONFIG), then
// HOMEWARD_* environment variables. Load validates the result, so a bad value stops
// the program with one line that names the key.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// Config is everything Homeward reads at start.
type Config struct {
	Temporal  Temporal  `mapstructure:"temporal"`
	Database  Database  `mapstructure:"database"`
	HTTP      HTTP      `mapstructure:"http"`
	Dev       Dev       `mapstructure:"dev"`
	Services  Services  `mapstructure:"services"`
	Simulator Simulator `mapstructure:"simulator"`
	Auth      Auth      `mapstructure:"auth"`
	Rules     Rules     `mapstructure:"rules"`
	Retention Retention `mapstructure:"retention"`
	Codec     Codec     `mapstructure:"codec"`
	Workspace Workspace `mapstructure:"workspace"`
	Budgets   []Budget  `mapstructure:"budgets"`
}

// Budget is a programme's yearly envelope in one currency: what its approved
// plans may commit in a year. Year 0 is every year without an entry of its own.
// Not a rule a case keeps: the envelope in force when a plan is decided counts.
type Budget struct {
	Programme string `mapstructure:"programme"`
	Currency  string `mapstructure:"currency"`
	Year      int    `mapstructure:"year"`
	Envelope  string `mapstructure:"envelope"`
}

// Envelope returns the envelope of a programme in a currency for a year: the
// year's own entry, else the every-year entry.
func (c Config) Envelope(programme, currency string, year int) (Budget, bool) {
	var every *Budget
	for i, b := range c.Budgets {
		if b.Programme != programme || b.Currency != currency {
			continue
		}
		if b.Year == year {
			return b, true
		}
		if b.Year == 0 {
			every = &c.Budgets[i]
		}
	}
	if every == nil {
		return Budget{}, false
	}
	return *every, true
}

// Workspace configures the web application for people, served with the API at /.
type Workspace struct {
	// DevSignIn offers the configured tokens' people on the sign-in page, to pick
	// from without a password: set by `homeward dev` only, never in production.
	DevSignIn bool `mapstructure:"dev_sign_in"`
	// SessionTTL is how long a sign-in lasts (a working day by default).
	SessionTTL time.Duration `mapstructure:"session_ttl"`
}

// Codec holds the keys that encrypt Temporal payloads (AES-256-GCM), and who may
// decode them from the Temporal UI. The keys come from a file (KeysFile) or one
// environment variable (HOMEWARD_CODEC_KEYS, the same JSON); never from the repo.
type Codec struct {
	KeysFile string `mapstructure:"keys_file"`
	Keys     string `mapstructure:"keys"`
	// UIOrigin is the Temporal UI's origin, the only one allowed to call /codec.
	UIOrigin string `mapstructure:"ui_origin"`
	// TrustLoopbackUI admits the UI on this machine without a token (homeward dev:
	// the UI sends tokens only over HTTPS). Never in production.
	TrustLoopbackUI bool `mapstructure:"trust_loopback_ui"`
}

// Retention says when closed cases lose their personal data: a Temporal Schedule
// runs the anonymisation every Every, for cases closed more than After ago.
type Retention struct {
	After time.Duration `mapstructure:"after"`
	Every time.Duration `mapstructure:"every"`
}

// Temporal says where the Temporal server is and which queue the case workers poll.
type Temporal struct {
	Address   string `mapstructure:"address"`
	Namespace string `mapstructure:"namespace"`
	TaskQueue string `mapstructure:"task_queue"`
	UIURL     string `mapstructure:"ui_url"`
	// A case whose file has not changed for TaskProbeAfter is checked by /stuck for
	// a failing workflow task (at most TaskProbeLimit cases at a time), in the
	// background at most every TaskProbeEvery (0: on every request).
	TaskProbeAfter time.Duration `mapstructure:"task_probe_after"`
	TaskProbeLimit int           `mapstructure:"task_probe_limit"`
	TaskProbeEvery time.Duration `mapstructure:"task_probe_every"`
	// StickyCacheSize is how many case workflows a worker process keeps in memory
	// between their tasks (the SDK's sticky cache, shared by the process's workers);
	// a case out of it replays its history on its next task. 0 turns caching off.
	StickyCacheSize int `mapstructure:"sticky_cache_size"`
}

// Database names the GORM dialect and its DSN.
type Database struct {
	Driver string `mapstructure:"driver"` // sqlite or postgres
	DSN    string `mapstructure:"dsn"`
	// The key ring that seals sensitive columns at rest (not the payload ring),
	// from a file or one environment variable (HOMEWARD_DATABASE_KEYS, JSON), and
	// the key that identity lookups hash with (empty: the ring's active key; set
	// it in production, and never remove that key).
	KeysFile    string `mapstructure:"keys_file"`
	Keys        string `mapstructure:"keys"`
	LookupKeyID string `mapstructure:"lookup_key_id"`
	// AppRole is, on Postgres, the role the api and the workers connect as, when
	// it is not the one `homeward migrate` connects as (the tables' owner):
	// migrate then grants it what the application needs, and on audit_log only
	// INSERT and SELECT. Empty: migrate grants nothing.
	AppRole string `mapstructure:"app_role"`
	// MaxConns is, on Postgres, the most connections one process opens.
	MaxConns int `mapstructure:"max_conns"`
}

// HTTP configures the API server.
type HTTP struct {
	Address        string `mapstructure:"address"`
	BodyLimitBytes int64  `mapstructure:"body_limit_bytes"`
	// MetricsAddress serves /metrics on an internal address instead of the API's.
	MetricsAddress string `mapstructure:"metrics_address"`
	// How long a client may take to send its headers, its whole request, and to
	// be answered (above the 30 s an action waits for its workflow), and how long
	// an idle keep-alive connection stays open.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	ReadTimeout       time.Duration `mapstructure:"read_timeout"`
	WriteTimeout      time.Duration `mapstructure:"write_timeout"`
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"`
}

// LongestRequest is how long the API may take to answer a request at most: an
// action waits up to 30 s for its workflow, then reads the case.
const LongestRequest = 45 * time.Second

// Dev configures `homeward dev`, everything on one machine.
type Dev struct {
	DataDir          string `mapstructure:"data_dir"`
	TemporalCLI      string `mapstructure:"temporal_cli"`
	TemporalPort     int    `mapstructure:"temporal_port"`
	UIPort           int    `mapstructure:"ui_port"`
	SimulatorAddress string `mapstructure:"simulator_address"`
}

// Services locates the partners' HTTP services. One base URL serves all of them
// (the simulator does); each partner has its own path prefix under it.
type Services struct {
	BaseURL string        `mapstructure:"base_url"`
	APIKey  string        `mapstructure:"api_key"`
	Timeout time.Duration `mapstructure:"timeout"`
}

// Simulator configures the simulator of external services. Its callbacks present
// one token per partner: the medical provider's (a service token of partner kind
// medical) and the receiving office's (partner kind receiving).
type Simulator struct {
	APIURL         string        `mapstructure:"api_url"`
	MedicalToken   string        `mapstructure:"medical_token"`
	ReceivingToken string        `mapstructure:"receiving_token"`
	CallbackDelay  time.Duration `mapstructure:"callback_delay"`
	Latency        time.Duration `mapstructure:"latency"`
	FailureRate    float64       `mapstructure:"failure_rate"`
	Seed           int64         `mapstructure:"seed"`
}

// Auth maps bearer tokens to people: configured tokens, and (in production)
// OIDC/JWT access tokens from an identity provider.
type Auth struct {
	Tokens []Token `mapstructure:"tokens"`
	OIDC   OIDC    `mapstructure:"oidc"`
}

// OIDC verifies JWT access tokens: issuer, audience, signature with keys from the
// JWKS URL; the user, role and office come from the named claims. An empty issuer
// turns it off.
type OIDC struct {
	Issuer      string `mapstructure:"issuer"`
	Audience    string `mapstructure:"audience"`
	JWKSURL     string `mapstructure:"jwks_url"`
	UserClaim   string `mapstructure:"user_claim"`
	RoleClaim   string `mapstructure:"role_claim"`
	OfficeClaim string `mapstructure:"office_claim"`
	// PartnerClaim names a service's partner kind (medical, receiving): a service
	// token without one is refused.
	PartnerClaim string `mapstructure:"partner_claim"`
	// The workspace signs people in with the identity provider as this client
	// (authorization code with PKCE), and is called back at RedirectURL
	// (https://<workspace>/signin/callback). An empty ClientID: no sign-in there.
	ClientID     string `mapstructure:"client_id"`
	ClientSecret string `mapstructure:"client_secret"`
	RedirectURL  string `mapstructure:"redirect_url"`
	// AuthorizedParties are the clients a token may have been issued to (its
	// azp claim, when it has one); empty: only the audience.
	AuthorizedParties []string `mapstructure:"authorized_parties"`
	// JWKSRefreshCooldown is the least time between two fetches of the JWKS: a
	// token naming an unknown key fetches it at most this often.
	JWKSRefreshCooldown time.Duration `mapstructure:"jwks_refresh_cooldown"`
}

// DevTokens are the well-known tokens of `homeward dev`: everyone who has read
// the README knows them. Only the one-machine stack adds them; `homeward api` and
// `homeward worker` refuse to start while any of them is configured.
func DevTokens() []Token {
	return []Token{
		{Token: "dev-caseworker", User: "caseworker-de", Role: "caseworker", Office: "DE-BER"},
		{Token: "dev-caseworker-gn", User: "caseworker-gn", Role: "caseworker", Office: "GN-CKY"},
		{Token: "dev-caseworker-sn", User: "caseworker-sn", Role: "caseworker", Office: "SN-DKR"},
		{Token: "dev-approver", User: "approver-de", Role: "approver", Office: "DE-BER"},
		{Token: "dev-approver-gn", User: "approver-gn", Role: "approver", Office: "GN-CKY"},
		{Token: "dev-procurement", User: "procurement-gn", Role: "procurement", Office: "GN-CKY"},
		{Token: "dev-manager", User: "manager", Role: "manager", Office: AllOffices},
		{Token: "dev-medical", User: "medical-provider", Role: "service", Office: AllOffices, Partner: "medical"},
		{Token: "dev-receiving", User: "receiving-office", Role: "service", Office: AllOffices, Partner: "receiving"},
	}
}

// AllOffices is the office of a manager or a partner service who deals with
// every office's cases.
const AllOffices = "*"

// WithDevTokens adds the dev tokens to the configured ones (a configured token
// of the same value stays as configured): for `homeward dev` and the tests.
func (a Auth) WithDevTokens() Auth {
	out := slices.Clone(a.Tokens)
	for _, d := range DevTokens() {
		if !slices.ContainsFunc(out, func(t Token) bool { return t.Token == d.Token }) {
			out = append(out, d)
		}
	}
	a.Tokens = out
	return a
}

// RefuseDevTokens is an error naming the configuration key of any dev token
// configured: the production commands do not start with one.
func (a Auth) RefuseDevTokens() error {
	for i, t := range a.Tokens {
		if IsDevToken(t.Token) {
			return fmt.Errorf("config: auth.tokens[%d]: %q is a well-known dev token, for `homeward dev` only: "+
				"configure your own secret tokens (or an OIDC issuer)", i, t.Token)
		}
	}
	return nil
}

// IsDevToken says whether a token is one of the well-known dev tokens.
func IsDevToken(token string) bool {
	return slices.ContainsFunc(DevTokens(), func(d Token) bool { return d.Token == token })
}

// MayHaveAllOffices says whether a role may act for every office ("*"): managers,
// and partner services, whose callbacks name the case they are for.
func MayHaveAllOffices(role string) bool { return role == "manager" || role == "service" }

// Token is one bearer token and who presents it. Office "*" means every office.
// A service token carries its partner kind (Partners): it may post that partner's
// facts only.
type Token struct {
	Token   string `mapstructure:"token"`
	User    string `mapstructure:"user"`
	Role    string `mapstructure:"role"`
	Office  string `mapstructure:"office"`
	Partner string `mapstructure:"partner"`
}

// Partners are the partner kinds a service token may carry (contract.PartnerKinds).
var Partners = []string{"medical", "receiving"}

// Rules are the programme rules a case starts with and keeps to its end.
type Rules struct {
	SLA                      SLA             `mapstructure:"sla"`
	MaxRebookings            int             `mapstructure:"max_rebookings"`
	SystemStuckAfterAttempts int             `mapstructure:"system_stuck_after_attempts"`
	MonitoringOffsets        []time.Duration `mapstructure:"monitoring_offsets"`
	Programmes               []Programme     `mapstructure:"programmes"`
}

// SLA is how long each waiting stage may take before the case is overdue.
type SLA struct {
	Counselling           time.Duration `mapstructure:"counselling"`
	Screening             time.Duration `mapstructure:"screening"`
	Clearance             time.Duration `mapstructure:"clearance"`
	MedicalClearance      time.Duration `mapstructure:"medical_clearance"`
	Travel                time.Duration `mapstructure:"travel"`
	Arrival               time.Duration `mapstructure:"arrival"`
	ReintegrationPlanning time.Duration `mapstructure:"reintegration_planning"`
	PlanApproval          time.Duration `mapstructure:"plan_approval"`
	Procurement           time.Duration `mapstructure:"procurement"`
	MonitoringVisit       time.Duration `mapstructure:"monitoring_visit"`
	DonorDecision         time.Duration `mapstructure:"donor_decision"`
}

// Programme is one assistance programme's amounts (decimal strings) and thresholds.
type Programme struct {
	Name                string `mapstructure:"name"`
	Currency            string `mapstructure:"currency"`
	PerAdult            string `mapstructure:"per_adult"`
	PerMinor            string `mapstructure:"per_minor"`
	FamilyCap           string `mapstructure:"family_cap"`
	SecondApprovalAbove string `mapstructure:"second_approval_above"`
	QuotesThreshold     string `mapstructure:"quotes_threshold"`
	QuotesAbove         int    `mapstructure:"quotes_above"`
	QuotesBelow         int    `mapstructure:"quotes_below"`
	ServiceCharge       string `mapstructure:"service_charge"`
	// DonorApproval says which plans the donor must approve after the approvers.
	DonorApproval DonorApproval `mapstructure:"donor_approval"`
	// PaymentValidationAbove: a payment above this amount waits for an approver
	// of the sending office to validate it ("": none waits).
	PaymentValidationAbove string `mapstructure:"payment_validation_above"`
	// AgreedFees are the rates agreed with the partners, per partner kind (travel:
	// the travel agency's ticketing, escort: a medical escort, medical: a
	// fit-to-travel assessment), in the programme's currency. The monthly fee
	// reconciliation lists the fees charged otherwise.
	AgreedFees map[string]string `mapstructure:"agreed_fees"`
	// Offices are the offices that work in the programme: their approvers read
	// its budget (managers read every budget). Not a rule a case keeps.
	Offices []string `mapstructure:"offices"`
}

// DonorApproval is which plans of a programme its donor must approve (any rule
// that holds is enough): above the household's cap (taken instead of refused),
// above an amount ("": no such rule), or with an item of one of the kinds.
type DonorApproval struct {
	AboveCap bool     `mapstructure:"above_cap"`
	Above    string   `mapstructure:"above"`
	Kinds    []string `mapstructure:"kinds"`
}

// PlanItemKinds are the kinds of a plan's items (contract.KindCash, ...).
var PlanItemKinds = []string{"cash", "in_kind", "service", "referral"}

// Programme returns the programme with that name.
func (r Rules) Programme(name string) (Programme, bool) {
	i := slices.IndexFunc(r.Programmes, func(p Programme) bool { return p.Name == name })
	if i < 0 {
		return Programme{}, false
	}
	return r.Programmes[i], true
}

// Load reads the configuration. file may be empty; getenv is os.Getenv in production
// and a map lookup in tests.
func Load(file string, getenv func(string) string) (Config, error) {
	v := viper.New()
	defaults := viper.New()
	defaults.SetConfigType("yaml")
	if err := defaults.ReadConfig(bytes.NewReader(defaultsYAML)); err != nil {
		return Config{}, fmt.Errorf("config: built-in defaults: %w", err)
	}
	// Every key gets a default, so that an environment variable alone can set it.
	for _, k := range defaults.AllKeys() {
		v.SetDefault(k, defaults.Get(k))
	}
	if file == "" {
		file = getenv("HOMEWARD_CONFIG")
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("config: reading %s: %w", file, err)
		}
	}
	for _, k := range v.AllKeys() {
		env := "HOMEWARD_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		if val := getenv(env); val != "" {
			v.Set(k, val)
		}
	}
	var c Config
	err := v.Unmarshal(&c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		durationHook, tokensHook, durationsHook, mapstructure.StringToSliceHookFunc(","),
	)), func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = true })
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ParseDuration accepts Go durations and whole days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

var durationType = reflect.TypeOf(time.Duration(0))

func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from.Kind() != reflect.String {
		return data, nil
	}
	return ParseDuration(data.(string))
}

// durationsHook reads a list of durations from "90d,180d" (an environment variable).
func durationsHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf([]time.Duration(nil)) || from.Kind() != reflect.String {
		return data, nil
	}
	var out []time.Duration
	for _, p := range strings.Split(data.(string), ",") {
		d, err := ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// tokensHook reads tokens from "token=user:role:office;..." so that they can come
// from one environment variable (HOMEWARD_AUTH_TOKENS); a service token adds its
// partner kind: "token=user:service:office:medical".
func tokensHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf([]Token(nil)) || from.Kind() != reflect.String {
		return data, nil
	}
	var out []Token
	for _, entry := range strings.Split(data.(string), ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		tok, who, ok := strings.Cut(entry, "=")
		parts := strings.Split(who, ":")
		if !ok || len(parts) < 3 || len(parts) > 4 {
			return nil, errors.New(`auth.tokens: want "token=user:role:office;..." (a service: "token=user:service:office:partner")`)
		}
		t := Token{Token: tok, User: parts[0], Role: parts[1], Office: parts[2]}
		if len(parts) == 4 {
			t.Partner = parts[3]
		}
		out = append(out, t)
	}
	return out, nil
}

// sqlName is a Postgres name that needs no quoting.
var sqlName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Roles are the roles a token may carry.
var Roles = []string{"caseworker", "approver", "procurement", "manager", "service"}

// Validate checks every value Homeward relies on and names the first bad key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	hostPort := func(key, v string) {
		if _, _, err := net.SplitHostPort(v); err != nil {
			bad(key, "want host:port, got %q", v)
		}
	}
	httpURL := func(key, v string) {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key, "want an http(s) URL, got %q", v)
		}
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, "must be a positive duration, got %s", d)
		}
	}
	hostPort("temporal.address", c.Temporal.Address)
	if c.Temporal.Namespace == "" {
		bad("temporal.namespace", "must not be empty")
	}
	if c.Temporal.TaskQueue == "" {
		bad("temporal.task_queue", "must not be empty")
	}
	httpURL("temporal.ui_url", c.Temporal.UIURL)
	if c.Temporal.TaskProbeAfter < 0 {
		bad("temporal.task_probe_after", "must not be negative")
	}
	if c.Temporal.TaskProbeLimit < 0 || c.Temporal.TaskProbeLimit > 1000 {
		bad("temporal.task_probe_limit", "must be 0 to 1000")
	}
	if c.Temporal.StickyCacheSize < 0 || c.Temporal.StickyCacheSize > 1_000_000 {
		bad("temporal.sticky_cache_size", "must be 0 to 1000000")
	}
	if c.Temporal.TaskProbeEvery < 0 {
		bad("temporal.task_probe_every", "must not be negative")
	}
	if c.Database.Driver != "sqlite" && c.Database.Driver != "postgres" {
		bad("database.driver", `must be "sqlite" or "postgres", got %q`, c.Database.Driver)
	}
	if c.Database.DSN == "" {
		bad("database.dsn", "must not be empty")
	}
	if c.Database.KeysFile == "" && c.Database.Keys == "" {
		bad("database", "keys_file or keys is required: sensitive columns are always sealed")
	}
	if c.Database.MaxConns < 1 || c.Database.MaxConns > 1000 {
		bad("database.max_conns", "must be 1 to 1000, got %d", c.Database.MaxConns)
	}
	if r := c.Database.AppRole; r != "" && !sqlName.MatchString(r) {
		bad("database.app_role", "want a lower-case role name (letters, digits, _), got %q", r)
	}
	hostPort("http.address", c.HTTP.Address)
	if c.HTTP.MetricsAddress != "" {
		hostPort("http.metrics_address", c.HTTP.MetricsAddress)
	}
	if c.HTTP.BodyLimitBytes <= 0 {
		bad("http.body_limit_bytes", "must be positive")
	}
	positive("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	positive("http.read_timeout", c.HTTP.ReadTimeout)
	positive("http.idle_timeout", c.HTTP.IdleTimeout)
	if c.HTTP.WriteTimeout < LongestRequest {
		bad("http.write_timeout", "must be at least %s (an action waits up to 30 s for its workflow), got %s", LongestRequest, c.HTTP.WriteTimeout)
	}
	hostPort("dev.simulator_address", c.Dev.SimulatorAddress)
	positive("workspace.session_ttl", c.Workspace.SessionTTL)
	httpURL("services.base_url", c.Services.BaseURL)
	positive("services.timeout", c.Services.Timeout)
	httpURL("simulator.api_url", c.Simulator.APIURL)
	if c.Simulator.FailureRate < 0 || c.Simulator.FailureRate > 1 {
		bad("simulator.failure_rate", "must be between 0 and 1, got %v", c.Simulator.FailureRate)
	}
	if o := c.Auth.OIDC; o.Issuer != "" {
		httpURL("auth.oidc.issuer", o.Issuer)
		httpURL("auth.oidc.jwks_url", o.JWKSURL)
		if o.Audience == "" || o.UserClaim == "" || o.RoleClaim == "" || o.OfficeClaim == "" || o.PartnerClaim == "" {
			bad("auth.oidc", "audience, user_claim, role_claim, office_claim and partner_claim are required with an issuer")
		}
		if o.ClientID != "" {
			httpURL("auth.oidc.redirect_url", o.RedirectURL)
		}
		positive("auth.oidc.jwks_refresh_cooldown", o.JWKSRefreshCooldown)
	}
	seen := map[string]bool{}
	for i, t := range c.Auth.Tokens {
		key := fmt.Sprintf("auth.tokens[%d]", i)
		switch {
		case t.Token == "" || t.User == "" || t.Office == "":
			bad(key, "token, user and office are required")
		case !slices.Contains(Roles, t.Role):
			bad(key, "role must be one of %v, got %q", Roles, t.Role)
		case seen[t.Token]:
			bad(key, "duplicate token")
		case t.Office == AllOffices && !MayHaveAllOffices(t.Role):
			bad(key, "office %q (every office) is for managers and services only, not a %s", AllOffices, t.Role)
		case t.Role == "service" && !slices.Contains(Partners, t.Partner):
			bad(key, "a service token needs its partner kind, one of %v, got %q", Partners, t.Partner)
		case t.Role != "service" && t.Partner != "":
			bad(key, "only a service token has a partner kind")
		}
		seen[t.Token] = true
	}
	s := reflect.ValueOf(c.Rules.SLA)
	for i := range s.NumField() {
		positive("rules.sla."+s.Type().Field(i).Tag.Get("mapstructure"), s.Field(i).Interface().(time.Duration))
	}
	if c.Rules.MaxRebookings < 0 {
		bad("rules.max_rebookings", "must not be negative")
	}
	if c.Rules.SystemStuckAfterAttempts < 1 {
		bad("rules.system_stuck_after_attempts", "must be at least 1")
	}
	if len(c.Rules.MonitoringOffsets) == 0 {
		bad("rules.monitoring_offsets", "needs at least one visit")
	}
	for i, d := range c.Rules.MonitoringOffsets {
		positive(fmt.Sprintf("rules.monitoring_offsets[%d]", i), d)
		if i > 0 && d <= c.Rules.MonitoringOffsets[i-1] {
			bad(fmt.Sprintf("rules.monitoring_offsets[%d]", i), "offsets must increase")
		}
	}
	if c.Codec.KeysFile == "" && c.Codec.Keys == "" {
		bad("codec", "keys_file or keys is required: Temporal payloads are always encrypted")
	}
	httpURL("codec.ui_origin", c.Codec.UIOrigin)
	positive("retention.after", c.Retention.After)
	positive("retention.every", c.Retention.Every)
	if len(c.Rules.Programmes) == 0 {
		bad("rules.programmes", "needs at least one programme")
	}
	for i, p := range c.Rules.Programmes {
		key := fmt.Sprintf("rules.programmes[%d]", i)
		if p.Name == "" {
			bad(key+".name", "must not be empty")
		}
		if len(p.Currency) != 3 || strings.ToUpper(p.Currency) != p.Currency {
			bad(key+".currency", "want an ISO 4217 code, got %q", p.Currency)
		}
		for _, a := range []struct{ field, amount string }{
			{"per_adult", p.PerAdult}, {"per_minor", p.PerMinor}, {"family_cap", p.FamilyCap},
			{"second_approval_above", p.SecondApprovalAbove}, {"quotes_threshold", p.QuotesThreshold},
			{"service_charge", p.ServiceCharge},
		} {
			if _, err := money.Parse(a.amount); err != nil {
				bad(key+"."+a.field, "%v, got %q", err, a.amount)
			}
		}
		for _, a := range []struct{ field, amount string }{
			{"donor_approval.above", p.DonorApproval.Above}, {"payment_validation_above", p.PaymentValidationAbove},
		} {
			if a.amount == "" {
				continue // no such rule
			}
			if c, err := money.Parse(a.amount); err != nil || c < 0 {
				bad(key+"."+a.field, "want an amount or empty (none), got %q", a.amount)
			}
		}
		for j, k := range p.DonorApproval.Kinds {
			if !slices.Contains(PlanItemKinds, k) {
				bad(fmt.Sprintf("%s.donor_approval.kinds[%d]", key, j), "must be one of %v, got %q", PlanItemKinds, k)
			}
		}
		for _, kind := range slices.Sorted(maps.Keys(p.AgreedFees)) {
			if !slices.Contains(contract.FeeKinds, kind) {
				bad(key+".agreed_fees."+kind, "want one of %v", contract.FeeKinds)
			} else if _, err := money.Parse(p.AgreedFees[kind]); err != nil {
				bad(key+".agreed_fees."+kind, "%v, got %q", err, p.AgreedFees[kind])
			}
		}
		if p.QuotesAbove < 1 || p.QuotesBelow < 1 {
			bad(key+".quotes_above", "quotes_above and quotes_below must be at least 1")
		}
	}
	type envelopeKey struct {
		programme, currency string
		year                int
	}
	envelopes := map[envelopeKey]bool{}
	for i, b := range c.Budgets {
		key := fmt.Sprintf("budgets[%d]", i)
		if _, ok := c.Rules.Programme(b.Programme); !ok {
			bad(key+".programme", "no programme %q in rules.programmes", b.Programme)
		}
		if len(b.Currency) != 3 || strings.ToUpper(b.Currency) != b.Currency {
			bad(key+".currency", "want an ISO 4217 code, got %q", b.Currency)
		}
		if b.Year != 0 && (b.Year < 2000 || b.Year > 2999) {
			bad(key+".year", "want a year (or 0 for every year), got %d", b.Year)
		}
		if a, err := money.Parse(b.Envelope); err != nil || a <= 0 {
			bad(key+".envelope", "want a positive amount, got %q", b.Envelope)
		}
		k := envelopeKey{b.Programme, b.Currency, b.Year}
		if envelopes[k] {
			bad(key, "a second envelope for %s in %s, year %d", b.Programme, b.Currency, b.Year)
		}
		envelopes[k] = true
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}
