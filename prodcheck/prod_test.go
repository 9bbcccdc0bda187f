// Package prodcheck proves the production shape of docker-compose.yml on this
// machine, without a Docker engine: the same programs and files compose runs, as
// separate processes on the machine's Postgres. TestProduction (make prod-check,
// part of make test) creates Temporal's databases with deploy/temporal/schema.sh,
// starts the real temporal-server (built from go.temporal.io/server at the
// compose image's version) with deploy/temporal/config and its dynamic config,
// registers the namespace and search attributes with deploy/temporal/setup.sh,
// migrates Homeward's database as its owner role, and runs two `homeward worker`,
// two `homeward api` and `homeward simulator`, configured through the environment
// only. It measures one worker process against two on the same load, drives the
// soak's random paths through both APIs while it SIGKILLs a worker and an API and
// restarts the Temporal server, then checks the soak's invariants, the managers'
// saved queries on the SQL visibility store, and the alert rules against what the
// processes export.
package prodcheck

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.yaml.in/yaml/v3"

	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/simulator"
	"github.com/homeward/homeward/soak"
	"github.com/homeward/homeward/stack"
	"github.com/homeward/homeward/worker"
	"github.com/homeward/homeward/workflows"
)

const (
	namespace = "default"        // as compose's default
	taskQueue = "homeward-cases" // as compose
	seed      = 20261204
)

// The load: scaleCases cases for each of the two throughput runs, then soakCases
// on the soak's random paths for soakDrive.
var (
	scaleCases = envInt("HOMEWARD_PROD_CHECK_SCALE_CASES", 100)
	soakCases  = envInt("HOMEWARD_PROD_CHECK_CASES", 50)
	soakDrive  = 45 * time.Second
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// deployment is the running system and what the check needs to talk to it.
type deployment struct {
	root, logs string
	bin        map[string]string
	suffix     string
	admin      *sql.DB // the machine's Postgres as its superuser
	baseDSN    *url.URL

	roles struct{ temporal, owner, app string }
	dbs   struct{ temporal, visibility, homeward string }

	temporalAddr, serverMetrics string
	server                      *proc
	sim                         *proc
	simURL                      string
	apis, workers               []*proc
	apiURLs, apiMetrics         []string
	workerMetrics               []string
	tokens                      map[string]string // person -> token
	codecKeys, dbKeys, apiKey   string

	all []*proc
}

func TestProduction(t *testing.T) {
	if os.Getenv("HOMEWARD_PROD_CHECK") == "" {
		t.Skip("set HOMEWARD_PROD_CHECK=1 (make prod-check)")
	}
	base := os.Getenv("HOMEWARD_TEST_POSTGRES_DSN")
	require.NotEmpty(t, base, "HOMEWARD_TEST_POSTGRES_DSN: the machine's Postgres")
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	bins, err := binaries(root)
	require.NoError(t, err)
	logs, err := os.MkdirTemp("", "homeward-prod-check-")
	require.NoError(t, err)

	d := &deployment{root: root, logs: logs, bin: bins,
		suffix: strconv.FormatInt(time.Now().UnixNano()%1e12, 36) + strconv.Itoa(os.Getpid()%1000)}
	d.baseDSN, err = url.Parse(base)
	require.NoError(t, err)
	d.admin, err = sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() {
		// Processes first (they hold connections), then the databases and roles;
		// the logs stay when the check failed.
		for _, p := range slices.Backward(d.all) {
			p.stop(10 * time.Second)
		}
		d.dropDatabases(t)
		_ = d.admin.Close()
		if t.Failed() {
			fmt.Printf("prod-check: FAILED; the processes' logs are in %s\n", logs)
		} else {
			_ = os.RemoveAll(logs)
		}
	})

	d.createDatabases(t)
	d.startTemporal(t)
	d.migrate(t)
	d.startHomeward(t)

	ring, _, err := codec.Load(d.codecKeys, "", false)
	require.NoError(t, err)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tc, err := worker.Dial(context.Background(), config.Temporal{Address: d.temporalAddr, Namespace: namespace}, quiet, ring, nil)
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	st, err := stack.OpenCaseFile(config.Database{Driver: "postgres", DSN: d.dsn(d.roles.app, d.dbs.homeward), Keys: d.dbKeys}, false)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	db, err := st.SQL()
	require.NoError(t, err)
	api := &alternating{urls: d.apiURLs, client: &http.Client{Timeout: 60 * time.Second}}
	partners := simulator.Remote{URL: d.simURL}

	// ---- scaling out: the same load drained by one worker process, then by two ----
	one, err := d.throughput(api, db, d.workers[:1])
	require.NoError(t, err)
	// The first run's cases go overdue at counselling 3 s later, which is work for
	// the workers (notifications): done before the second run, so it is not timed.
	require.NoError(t, waitUntil("the first run's cases overdue", 2*time.Minute, d.workers[:1], func() error {
		return allCases(db, one.ids, "overdue")
	}))
	require.NoError(t, (&soak.Driver{Temporal: tc}).Settle(one.ids, 2*time.Minute))
	d.workers[0].stop(30 * time.Second)
	two, err := d.throughput(api, db, d.workers)
	require.NoError(t, err)
	registeredForScale := append(slices.Clone(one.ids), two.ids...)

	// ---- the soak's random paths through both APIs, with a worker and an API
	// SIGKILLed and the Temporal server restarted under it ----
	require.NoError(t, partners.SetFault("*", simulator.Fault{FailureRate: 0.1, Mode: simulator.ModeUnavailable}))
	drv := &soak.Driver{API: api, Partners: partners, Temporal: tc, Tokens: d.soakTokens(), Until: time.Now().Add(soakDrive)}
	cases := make([]*soak.Case, soakCases)
	for i := range cases {
		cases[i] = soak.NewCase(seed, i)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for _, c := range cases {
			wg.Go(func() { drv.Drive(c) })
		}
		wg.Wait()
	}()
	kills, restarts := 0, 0
	// A schedule of faults, not a synchronisation: each lands while the cases are
	// under way (early in the drive: on an idle machine the paths end well before
	// its limit), and the invariants must hold whatever they hit. A fault whose
	// time comes after the drive ended still happens, while the cases settle
	// (their timers run on): every run kills and restarts what it says.
	faults := []struct {
		at time.Duration
		do func() error
	}{
		{soakDrive / 15, func() error {
			kills++
			d.workers[0].kill()
			if err := d.workers[0].start(); err != nil {
				return err
			}
			return waitUntil("worker 1 serving its metrics again", time.Minute, d.workers[:1], httpOK(d.workerMetrics[0]))
		}},
		{2 * soakDrive / 15, func() error {
			kills++
			d.apis[0].kill()
			if err := d.apis[0].start(); err != nil {
				return err
			}
			return waitUntil("api 1 ready again", time.Minute, d.apis[:1], httpOK(d.apiURLs[0]+"/readyz"))
		}},
		{3 * soakDrive / 15, func() error {
			restarts++
			d.server.stop(30 * time.Second)
			if err := d.server.start(); err != nil {
				return err
			}
			return waitUntil("temporal-server serving again", time.Minute, []*proc{d.server}, func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_, err := tc.CheckHealth(ctx, nil)
				return err
			})
		}},
	}
	started := time.Now()
	for _, f := range faults {
		select {
		case <-done:
		case <-time.After(time.Until(started.Add(f.at))):
		}
		require.NoError(t, f.do())
	}
	<-done
	require.Equal(t, [2]int{2, 1}, [2]int{kills, restarts}, "a worker and an API killed, the server restarted")

	// ---- settle, then the invariants ----
	require.NoError(t, partners.SetFault("*", simulator.Fault{}))
	var ids []string
	for _, c := range cases {
		if c.ID != "" {
			ids = append(ids, c.ID)
		}
	}
	settled := drv.Settle(append(slices.Clone(registeredForScale), ids...), 90*time.Second)
	counts, err := partners.Counts()
	require.NoError(t, err)
	chk := &soak.Invariants{Temporal: tc, Store: st, Counts: counts, TaskQueue: taskQueue}
	chk.CheckDriven(cases, ids, settled)
	// The cases of the throughput runs wait for counselling: left alone, overdue.
	for i, id := range registeredForScale {
		chk.CheckCase(&soak.Case{N: -1 - i, ID: id})
	}
	chk.NoOrphans(append(slices.Clone(registeredForScale), ids...))

	// ---- the managers' saved queries, on the SQL visibility store ----
	d.savedQueries(chk, tc, db, registeredForScale)

	// ---- what operators see: the alert rules name metrics the processes export ----
	d.alertRules(chk)

	for _, v := range chk.Violations {
		fmt.Printf("prod-check: VIOLATION %s\n", v)
	}
	for _, c := range cases {
		if chk.Bad[c.ID] {
			fmt.Printf("prod-check: case %d (%s): what the driver did:\n  %s\n", c.N, c.ID, strings.Join(c.Log, "\n  "))
		}
	}
	outcomes := map[string]int{}
	for _, c := range cases {
		outcomes[c.Outcome]++
	}
	fmt.Printf("prod-check: outcomes %v; driver timeouts %d; retried after a stale view %d; partner calls %v; failures injected %v\n",
		outcomes, drv.Timeouts.Load(), drv.StaleRetries.Load(), counts.Calls, counts.FailuresInjected)
	fmt.Printf("prod-check: scaling out: %d cases through intake, 1 worker process %.1f cases/s, 2 worker processes %.1f cases/s: ratio %.2f\n",
		scaleCases, one.rate, two.rate, two.rate/one.rate)
	fmt.Printf("prod-check: cases=%d kills=%d temporal_restarts=%d invariants_checked=%d violations=%d\n",
		len(ids)+len(registeredForScale), kills, restarts, chk.Checked, len(chk.Violations))
	if len(chk.Violations) > 0 {
		t.Fail()
	}
}

// ---- Postgres ----

func (d *deployment) dsn(role, db string) string {
	u := *d.baseDSN
	u.User, u.Path = url.UserPassword(role, "unused-trust-auth"), "/"+db
	return u.String()
}

// createDatabases runs compose's Postgres init script (deploy/postgres) under
// this run's role names, then deploy/temporal/schema.sh as the temporal role.
func (d *deployment) createDatabases(t *testing.T) {
	t.Helper()
	s := d.suffix
	d.roles.temporal, d.roles.owner, d.roles.app = "temporal_"+s, "homeward_owner_"+s, "homeward_"+s
	d.dbs.temporal, d.dbs.visibility, d.dbs.homeward = "temporal_"+s, "temporal_visibility_"+s, "homeward_"+s
	b, err := os.ReadFile(filepath.Join(d.root, "deploy", "postgres", "10-homeward.sql"))
	require.NoError(t, err)
	script := regexp.MustCompile(`\bhomeward_owner\b`).ReplaceAllString(string(b), d.roles.owner)
	script = regexp.MustCompile(`\bhomeward\b`).ReplaceAllString(script, d.roles.app) // the role and its database
	script = regexp.MustCompile(`\btemporal\b`).ReplaceAllString(script, d.roles.temporal)
	file := filepath.Join(d.logs, "10-homeward.sql")
	require.NoError(t, os.WriteFile(file, []byte(script), 0o600))
	psql, err := exec.LookPath("psql")
	require.NoError(t, err)
	cmd := exec.Command(psql, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", "-d", d.baseDSN.String(), "-f", file)
	cmd.Env = append(os.Environ(), "TEMPORAL_DB_PASSWORD=t", "HOMEWARD_OWNER_DB_PASSWORD=o", "HOMEWARD_DB_PASSWORD=h")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "psql: %s", out)

	tools := filepath.Join(d.logs, "path")
	require.NoError(t, os.MkdirAll(tools, 0o755))
	require.NoError(t, os.Symlink(d.bin["temporal-sql-tool"], filepath.Join(tools, "temporal-sql-tool")))
	require.NoError(t, runScript(filepath.Join(d.root, "deploy", "temporal", "schema.sh"), filepath.Join(d.logs, "schema.log"), []string{
		"PATH=" + tools + ":/usr/bin:/bin", "SQL_PLUGIN=postgres12", "SQL_HOST=" + d.baseDSN.Hostname(),
		"SQL_PORT=" + d.baseDSN.Port(), "SQL_USER=" + d.roles.temporal, "SQL_PASSWORD=t",
		"DBNAME=" + d.dbs.temporal, "VISIBILITY_DBNAME=" + d.dbs.visibility,
	}))
}

func (d *deployment) dropDatabases(t *testing.T) {
	for _, db := range []string{d.dbs.homeward, d.dbs.temporal, d.dbs.visibility} {
		if db == "" {
			continue
		}
		if _, err := d.admin.Exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", db, err)
		}
	}
	for _, role := range []string{d.roles.app, d.roles.owner, d.roles.temporal} {
		if role == "" {
			continue
		}
		if _, err := d.admin.Exec("DROP ROLE IF EXISTS " + role); err != nil {
			t.Errorf("dropping role %s: %v", role, err)
		}
	}
}

// ---- Temporal ----

// startTemporal starts temporal-server as compose does (deploy/temporal/config,
// the dynamic config compose mounts), on free ports, then runs setup.sh.
func (d *deployment) startTemporal(t *testing.T) {
	t.Helper()
	env := []string{
		"POSTGRES_SEEDS=" + d.baseDSN.Hostname(), "DB_PORT=" + d.baseDSN.Port(), "POSTGRES_USER=" + d.roles.temporal,
		"POSTGRES_PWD=t", "DBNAME=" + d.dbs.temporal, "VISIBILITY_DBNAME=" + d.dbs.visibility,
		"BIND_ON_IP=127.0.0.1", "LOG_LEVEL=warn",
		"DYNAMIC_CONFIG_FILE_PATH=" + filepath.Join(d.root, "deploy", "temporal", "dynamicconfig", "homeward.yaml"),
	}
	ports := map[string]int{}
	for _, name := range []string{"FRONTEND_GRPC_PORT", "FRONTEND_HTTP_PORT", "FRONTEND_MEMBERSHIP_PORT", "HISTORY_GRPC_PORT",
		"HISTORY_MEMBERSHIP_PORT", "MATCHING_GRPC_PORT", "MATCHING_MEMBERSHIP_PORT", "WORKER_GRPC_PORT", "WORKER_MEMBERSHIP_PORT", "METRICS"} {
		p, err := freePort()
		if strings.HasSuffix(name, "MEMBERSHIP_PORT") {
			p, err = lowPort()
		}
		require.NoError(t, err)
		ports[name] = p
		if name != "METRICS" {
			env = append(env, fmt.Sprintf("%s=%d", name, p))
		}
	}
	env = append(env, fmt.Sprintf("PROMETHEUS_ENDPOINT=127.0.0.1:%d", ports["METRICS"]))
	d.temporalAddr = fmt.Sprintf("127.0.0.1:%d", ports["FRONTEND_GRPC_PORT"])
	d.serverMetrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", ports["METRICS"])
	d.server = d.proc("temporal-server", d.bin["temporal-server"], env,
		"--root", filepath.Join(d.root, "deploy", "temporal"), "--config", "config", "--env", "homeward", "--allow-no-auth", "start")
	require.NoError(t, d.server.start())
	require.NoError(t, waitUntil("temporal-server listening", time.Minute, []*proc{d.server}, listening(d.temporalAddr)))

	tools := filepath.Join(d.logs, "path")
	require.NoError(t, os.Symlink(d.bin["temporal"], filepath.Join(tools, "temporal")))
	require.NoError(t, runScript(filepath.Join(d.root, "deploy", "temporal", "setup.sh"), filepath.Join(d.logs, "setup.log"), []string{
		"PATH=" + tools + ":/usr/bin:/bin", "HOME=" + d.logs, "TEMPORAL_ADDRESS=" + d.temporalAddr,
		"TEMPORAL_NAMESPACE=" + namespace, "SETUP_ATTEMPTS=300", "SETUP_SLEEP_SECONDS=0.2",
	}))
}

// ---- Homeward ----

func (d *deployment) migrate(t *testing.T) {
	t.Helper()
	m := d.proc("migrate", d.bin["homeward"], []string{
		"HOMEWARD_DATABASE_DRIVER=postgres", "HOMEWARD_DATABASE_DSN=" + d.dsn(d.roles.owner, d.dbs.homeward),
		"HOMEWARD_DATABASE_APP_ROLE=" + d.roles.app,
	}, "migrate")
	require.NoError(t, m.start())
	_, done := m.running()
	if done != nil {
		<-done
	}
	require.Equal(t, 0, m.cmd.ProcessState.ExitCode(), "homeward migrate failed: see %s", m.log)
}

// people are the tokens' holders, as in the dev tokens; the tokens are this run's.
var people = map[string]string{
	"caseworker": "caseworker-de:caseworker:DE-BER", "caseworker-gn": "caseworker-gn:caseworker:GN-CKY",
	"approver": "approver-de:approver:DE-BER", "approver-gn": "approver-gn:approver:GN-CKY",
	"procurement": "procurement-gn:procurement:GN-CKY", "manager": "manager:manager:*",
	"medical": "medical-provider:service:*:medical", "receiving": "receiving-office:service:*:receiving",
}

func (d *deployment) soakTokens() soak.Tokens {
	k := d.tokens
	return soak.Tokens{Caseworker: k["caseworker"], CaseworkerGN: k["caseworker-gn"], Approver: k["approver"],
		ApproverGN: k["approver-gn"], Procurement: k["procurement"], Manager: k["manager"]}
}

// startHomeward starts the simulator and two api processes, ready, and prepares
// two workers (the throughput runs start them). Everything is configured through
// the environment, with the keys of compose's x-homeward-env.
func (d *deployment) startHomeward(t *testing.T) {
	t.Helper()
	d.tokens = map[string]string{}
	var entries []string
	for who, as := range people {
		d.tokens[who] = token()
		entries = append(entries, d.tokens[who]+"="+as)
	}
	d.codecKeys, d.dbKeys, d.apiKey = keyRing("c1"), keyRing("d1"), token()
	port := func() int {
		p, err := freePort()
		require.NoError(t, err)
		return p
	}
	apiPorts := []int{port(), port()}
	simPort := port()
	d.simURL = fmt.Sprintf("http://127.0.0.1:%d", simPort)
	common := []string{
		"HOMEWARD_TEMPORAL_ADDRESS=" + d.temporalAddr, "HOMEWARD_TEMPORAL_NAMESPACE=" + namespace,
		"HOMEWARD_TEMPORAL_TASK_QUEUE=" + taskQueue, "HOMEWARD_TEMPORAL_UI_URL=http://localhost:8233",
		"HOMEWARD_DATABASE_DRIVER=postgres", "HOMEWARD_DATABASE_DSN=" + d.dsn(d.roles.app, d.dbs.homeward),
		"HOMEWARD_SERVICES_BASE_URL=" + d.simURL, "HOMEWARD_SERVICES_API_KEY=" + d.apiKey,
		"HOMEWARD_AUTH_TOKENS=" + strings.Join(entries, ";"), "HOMEWARD_CODEC_KEYS=" + d.codecKeys,
		"HOMEWARD_DATABASE_KEYS=" + d.dbKeys, "HOMEWARD_CODEC_UI_ORIGIN=http://localhost:8233",
		// Four processes and the Temporal server share this Postgres's 100
		// connections with the test: 20 each (the default) could take them all, and
		// a killed worker then fails to come back (as it did once).
		"HOMEWARD_DATABASE_MAX_CONNS=10",
		// A case runs in seconds instead of months: counselling is due at once (so
		// a case left there is overdue), visits come seconds apart.
		"HOMEWARD_RULES_SLA_COUNSELLING=3s", "HOMEWARD_RULES_MONITORING_OFFSETS=2s,4s,6s", "HOMEWARD_SERVICES_TIMEOUT=2s",
	}
	// The simulator's callbacks go to the api that is not killed (compose's
	// service name "api" spreads them over every api container).
	d.sim = d.proc("simulator", d.bin["homeward"], []string{
		fmt.Sprintf("HOMEWARD_DEV_SIMULATOR_ADDRESS=127.0.0.1:%d", simPort),
		fmt.Sprintf("HOMEWARD_SIMULATOR_API_URL=http://127.0.0.1:%d", apiPorts[1]),
		"HOMEWARD_SIMULATOR_MEDICAL_TOKEN=" + d.tokens["medical"], "HOMEWARD_SIMULATOR_RECEIVING_TOKEN=" + d.tokens["receiving"],
		"HOMEWARD_SERVICES_API_KEY=" + d.apiKey,
		"HOMEWARD_SIMULATOR_CALLBACK_DELAY=50ms", "HOMEWARD_SIMULATOR_SEED=" + strconv.Itoa(seed),
	}, "simulator")
	require.NoError(t, d.sim.start())
	for i, p := range apiPorts {
		mp := port()
		env := append(slices.Clone(common), fmt.Sprintf("HOMEWARD_HTTP_ADDRESS=127.0.0.1:%d", p),
			fmt.Sprintf("HOMEWARD_HTTP_METRICS_ADDRESS=127.0.0.1:%d", mp))
		d.apis = append(d.apis, d.proc(fmt.Sprintf("api-%d", i+1), d.bin["homeward"], env, "api"))
		d.apiURLs = append(d.apiURLs, fmt.Sprintf("http://127.0.0.1:%d", p))
		d.apiMetrics = append(d.apiMetrics, fmt.Sprintf("http://127.0.0.1:%d/metrics", mp))
		require.NoError(t, d.apis[i].start())
	}
	for i := range 2 {
		mp := port()
		env := append(slices.Clone(common), fmt.Sprintf("HOMEWARD_HTTP_METRICS_ADDRESS=127.0.0.1:%d", mp))
		d.workers = append(d.workers, d.proc(fmt.Sprintf("worker-%d", i+1), d.bin["homeward"], env, "worker"))
		d.workerMetrics = append(d.workerMetrics, fmt.Sprintf("http://127.0.0.1:%d/metrics", mp))
	}
	require.NoError(t, waitUntil("the simulator", time.Minute, []*proc{d.sim}, httpOK(d.simURL+"/_sim/counts")))
	for i, u := range d.apiURLs {
		require.NoError(t, waitUntil("api "+strconv.Itoa(i+1)+" ready", time.Minute, d.apis[i:i+1], httpOK(u+"/readyz")))
	}
}

func (d *deployment) proc(name, bin string, env []string, args ...string) *proc {
	p := &proc{name: name, bin: bin, args: args, env: env, log: filepath.Join(d.logs, name+".log")}
	d.all = append(d.all, p)
	return p
}

// ---- throughput ----

type run struct {
	ids  []string
	rate float64 // cases through intake per second
}

// throughput registers scaleCases cases while no worker runs, then starts the
// given workers and measures how fast they take the cases through intake (to
// counselling, where the cases wait on a caseworker): the backlog is the same
// for one worker process and for two.
func (d *deployment) throughput(api *alternating, db *sql.DB, workers []*proc) (run, error) {
	var r run
	for range scaleCases {
		res, err := api.Attempt("POST", "/api/v1/cases", d.tokens["caseworker"], soak.Registration(), "Idempotency-Key", "scale-"+token())
		if err != nil || res.Status != http.StatusCreated {
			return r, fmt.Errorf("registering: %v %d %s", err, res.Status, res.Body)
		}
		var v struct{ ID string }
		if err := json.Unmarshal(res.Body, &v); err != nil {
			return r, err
		}
		r.ids = append(r.ids, v.ID)
	}
	start := time.Now()
	for _, w := range workers {
		if err := w.start(); err != nil {
			return r, err
		}
	}
	err := waitUntil(fmt.Sprintf("%d cases through intake with %d workers", scaleCases, len(workers)), 3*time.Minute, workers, func() error {
		return allCases(db, r.ids, "stage = 'Counselling'")
	})
	r.rate = float64(scaleCases) / time.Since(start).Seconds()
	return r, err
}

// allCases is a condition: every case of ids is where cond (SQL on cases) holds.
func allCases(db *sql.DB, ids []string, cond string) error {
	args := make([]any, len(ids))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args[i], marks[i] = id, "$"+strconv.Itoa(i+1)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM cases WHERE "+cond+" AND id IN ("+strings.Join(marks, ",")+")", args...).Scan(&n); err != nil {
		return err
	}
	if n < len(ids) {
		return fmt.Errorf("%d of %d", n, len(ids))
	}
	return nil
}

// ---- the managers' saved queries ----

// savedQueries runs each saved query of the README (workflows/queries.go) on the
// server's SQL visibility store: the overdue ones find every case left waiting
// for counselling past its due date, and every case a query finds is, in the
// case file, in the situation the query is for.
func (d *deployment) savedQueries(chk *soak.Invariants, tc client.Client, db *sql.DB, overdue []string) {
	list := func(q string) ([]string, error) {
		var ids []string
		var token []byte
		for {
			res, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token})
			if err != nil {
				return nil, err
			}
			for _, e := range res.Executions {
				ids = append(ids, strings.TrimPrefix(e.Execution.WorkflowId, "case-"))
			}
			if token = res.NextPageToken; len(token) == 0 {
				return ids, nil
			}
		}
	}
	row := func(id string) (waitingOn string, isOverdue bool, office string, err error) {
		err = db.QueryRow("SELECT waiting_on, overdue, receiving_office FROM cases WHERE id = $1", id).Scan(&waitingOn, &isOverdue, &office)
		return
	}
	for _, q := range []struct {
		query string
		finds []string // must be among the found
		holds func(waitingOn string, overdue bool, office string) bool
	}{
		{workflows.QueryOverdue, overdue, func(_ string, o bool, _ string) bool { return o }},
		{workflows.QueryOverdueVulnerable("GN-CKY"), overdue, func(_ string, o bool, office string) bool { return o && office == "GN-CKY" }},
		{workflows.QueryWaitingOnApprovers(0, time.Now().Add(time.Minute)), nil, func(w string, _ bool, _ string) bool { return w == "approver" }},
		{workflows.QueryFailingCalls, nil, func(w string, _ bool, _ string) bool { return w == "system" }},
	} {
		found, err := list(q.query)
		chk.Check("a saved query runs on the SQL visibility store", err == nil, "%s: %v", q.query, err)
		for _, id := range q.finds {
			chk.Check("a saved query finds the cases it is for", slices.Contains(found, id), "%s does not find case (%s)", q.query, id)
		}
		for _, id := range found {
			w, o, office, err := row(id)
			chk.Check("a case a saved query finds is in that situation", err == nil && q.holds(w, o, office),
				"%s found case (%s), which waits on %q, overdue %v, office %s (%v)", q.query, id, w, o, office, err)
		}
		fmt.Printf("prod-check: saved query %s: %d cases\n", q.query, len(found))
	}
}

// ---- alert rules ----

// alertRules checks deploy/prometheus/alerts.yml: promtool accepts it, and every
// metric its expressions name is exported by the api, the worker or the Temporal
// server, scraped now (a counter shows up once it has counted: the rules name
// those the run makes sure of, such as failed activities under injected faults).
func (d *deployment) alertRules(chk *soak.Invariants) {
	file := filepath.Join(d.root, "deploy", "prometheus", "alerts.yml")
	promtool, err := exec.LookPath(filepath.Join(d.root, "bin", "promtool")) // deploy/prometheus/promtool.sh
	if err != nil {
		promtool, err = exec.LookPath("promtool")
	}
	if err == nil {
		out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
		chk.Check("promtool accepts the alert rules", err == nil, "%v: %s", err, out)
	} else if os.Getenv("CI") == "true" {
		chk.Check("promtool is there (make prod-check unpacks Debian's)", false, "%v", err)
	}
	// up is Prometheus's own, of every target it scrapes.
	exported := map[string]bool{"up": true}
	for _, u := range append(append([]string{d.serverMetrics}, d.apiMetrics[1]), d.workerMetrics...) {
		text, err := scrape(u)
		chk.Check("the metrics can be scraped", err == nil, "%s: %v", u, err)
		for _, line := range strings.Split(text, "\n") {
			if line == "" || line[0] == '#' {
				continue
			}
			exported[strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
		}
	}
	var names []string
	for m := range exported {
		names = append(names, m)
	}
	slices.Sort(names)
	_ = os.WriteFile(filepath.Join(d.logs, "exported-metrics.txt"), []byte(strings.Join(names, "\n")+"\n"), 0o644)
	b, err := os.ReadFile(file)
	chk.Check("the alert rules can be read", err == nil, "%v", err)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	chk.Check("the alert rules are YAML", yaml.Unmarshal(b, &rules) == nil, "%s", file)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			names := metricNames(r.Expr)
			chk.Check("an alert names a metric", len(names) > 0, "alert %s: %s", r.Alert, r.Expr)
			for _, m := range names {
				chk.Check("an alert's metric is exported", exported[m], "alert %s: no process exports %s", r.Alert, m)
			}
		}
	}
	chk.Check("there are alert rules", n > 0, "%s has none", file)
}

var (
	promLabels   = regexp.MustCompile(`\{[^}]*\}`)
	promRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promStrings  = regexp.MustCompile(`"[^"]*"`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true}
)

// metricNames are the metric names a PromQL expression reads: identifiers that
// are neither functions (followed by a bracket), nor labels, nor keywords.
func metricNames(expr string) []string {
	e := promStrings.ReplaceAllString(expr, " ")
	e = promLabels.ReplaceAllString(e, " ")
	e = promRanges.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(e, -1) {
		name := e[loc[0]:loc[1]]
		rest := strings.TrimLeft(e[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || promKeywords[strings.ToLower(name)] || (loc[0] > 0 && isDigit(e[loc[0]-1])) {
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' || b == '.' }

// ---- the API client ----

// alternating sends each request to the next api process in turn, as a load
// balancer would; a client retries a refused connection (the driver does).
type alternating struct {
	urls   []string
	next   atomic.Int64
	client *http.Client
}

func (a *alternating) Attempt(method, path, token string, body any, headers ...string) (soak.Response, error) {
	u := a.urls[int(a.next.Add(1))%len(a.urls)]
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return soak.Response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u+path, rd)
	if err != nil {
		return soak.Response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := a.client.Do(req)
	if err != nil {
		return soak.Response{}, err
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	return soak.Response{Status: res.StatusCode, Header: res.Header, Body: b}, err
}
