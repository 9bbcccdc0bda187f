// Package deploy_test checks the production-like deployment files (docker-compose.yml,
// Dockerfile, deploy/...) without a Docker engine, which these machines do not have:
// the compose file is loaded and interpolated with compose-go (the library behind
// `docker compose`), the Dockerfile is parsed, and the shell scripts the one-shot
// services run are executed against fake `temporal` / `temporal-sql-tool` commands.
// When the real Temporal CLI has been built (bin/temporal), setup.sh also runs against
// a real Temporal dev server.
package deploy_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.yaml.in/yaml/v3"

	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/workflows"
)

// root is the repository root, seen from this package's directory.
const root = ".."

// searchAttributes is what Homeward's workflows set and managers query in the UI,
// as the workflow code declares them (workflows/search.go), in the CLI's type names.
var searchAttributes = func() map[string]string {
	names := map[enumspb.IndexedValueType]string{enumspb.INDEXED_VALUE_TYPE_KEYWORD: "Keyword",
		enumspb.INDEXED_VALUE_TYPE_BOOL: "Bool", enumspb.INDEXED_VALUE_TYPE_DATETIME: "Datetime"}
	out := map[string]string{}
	for name, typ := range workflows.SearchAttributes() {
		out[name] = names[typ]
	}
	return out
}()

// requiredEnv is the least a production start needs: the two secrets without defaults.
func requiredEnv() map[string]string {
	return map[string]string{
		"HOMEWARD_AUTH_TOKENS":      "t-cw=caseworker-de:caseworker:DE-BER;t-med=clinic:service:*:medical;t-rcv=reception:service:*:receiving",
		"HOMEWARD_SERVICES_API_KEY": "partner-key",
		"HOMEWARD_CODEC_KEYS":       `{"active":"k1","keys":{"k1":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}}`,
		"HOMEWARD_DATABASE_KEYS":    `{"active":"d1","keys":{"d1":"ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="}}`,
	}
}

// load interpolates docker-compose.yml with exactly env (not this process's
// environment, nor a .env file a developer may have), with the given profiles on.
func load(t *testing.T, env map[string]string, profiles ...string) (*types.Project, error) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(list),
		cli.WithProfiles(profiles),
	)
	require.NoError(t, err)
	return opts.LoadProject(context.Background())
}

func mustLoad(t *testing.T, env map[string]string, profiles ...string) *types.Project {
	t.Helper()
	p, err := load(t, env, profiles...)
	require.NoError(t, err)
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	require.Truef(t, ok, "service %q missing; have %v", name, p.ServiceNames())
	return s
}

func env(t *testing.T, s types.ServiceConfig, key string) string {
	t.Helper()
	v, ok := s.Environment[key]
	require.Truef(t, ok && v != nil, "%s: environment has no %s", s.Name, key)
	return *v
}

func TestComposeHasEveryService(t *testing.T) {
	p := mustLoad(t, requiredEnv(), "simulator")
	for _, name := range []string{
		"postgres", "temporal-schema", "temporal", "temporal-setup", "temporal-ui",
		"migrate", "api", "worker", "simulator", "prometheus",
	} {
		service(t, p, name)
	}
	assert.Equal(t, "homeward", p.Name)

	// The simulator answers callbacks like a partner: it runs only when asked for.
	p = mustLoad(t, requiredEnv())
	assert.NotContains(t, p.Services, "simulator")
	assert.Contains(t, p.DisabledServices, "simulator")
	assert.Equal(t, []string{"simulator"}, p.DisabledServices["simulator"].Profiles)
}

func TestComposeImages(t *testing.T) {
	p := mustLoad(t, requiredEnv(), "simulator")
	for name, s := range p.Services {
		assert.NotContainsf(t, s.Image, "auto-setup", "%s: temporalio/auto-setup is deprecated", name)
	}
	assert.Equal(t, "postgres:16", service(t, p, "postgres").Image)
	assert.Equal(t, "temporalio/server:1.29.1", service(t, p, "temporal").Image)
	assert.Equal(t, "temporalio/ui:2.42.1", service(t, p, "temporal-ui").Image)
	for _, name := range []string{"temporal-schema", "temporal-setup"} {
		// Same release as the server: the schema tool migrates to its own version.
		assert.True(t, strings.HasPrefix(service(t, p, name).Image, "temporalio/admin-tools:1.29.1"), name)
	}

	var image string
	for _, name := range []string{"migrate", "api", "worker", "simulator"} {
		s := service(t, p, name)
		require.NotNilf(t, s.Build, "%s: not built from the project's Dockerfile", name)
		abs, err := filepath.Abs(root)
		require.NoError(t, err)
		assert.Equal(t, abs, s.Build.Context, name)
		assert.Equal(t, "Dockerfile", s.Build.Dockerfile, name)
		if image == "" {
			image = s.Image
		}
		assert.Equalf(t, image, s.Image, "%s: every role should run the one image", name)
		assert.Contains(t, s.CapDrop, "ALL", name)
	}
	assert.Equal(t, []string{"migrate"}, []string(service(t, p, "migrate").Command))
	assert.Equal(t, []string{"api"}, []string(service(t, p, "api").Command))
	assert.Equal(t, []string{"worker"}, []string(service(t, p, "worker").Command))
	assert.Equal(t, []string{"simulator"}, []string(service(t, p, "simulator").Command))

	// Versions can be moved without editing the file.
	p = mustLoad(t, merge(requiredEnv(), map[string]string{
		"TEMPORAL_VERSION": "1.30.1", "TEMPORAL_ADMINTOOLS_VERSION": "1.30.1",
		"HOMEWARD_IMAGE": "registry.example.org/homeward:1.2.3",
	}))
	assert.Equal(t, "temporalio/server:1.30.1", service(t, p, "temporal").Image)
	assert.Equal(t, "temporalio/admin-tools:1.30.1", service(t, p, "temporal-setup").Image)
	assert.Equal(t, "registry.example.org/homeward:1.2.3", service(t, p, "api").Image)
}

func TestComposeDependencies(t *testing.T) {
	p := mustLoad(t, requiredEnv(), "simulator")
	want := map[string]map[string]string{
		"temporal-schema": {"postgres": types.ServiceConditionHealthy},
		"temporal": {
			"postgres":        types.ServiceConditionHealthy,
			"temporal-schema": types.ServiceConditionCompletedSuccessfully,
		},
		"temporal-setup": {"temporal": types.ServiceConditionHealthy},
		"temporal-ui":    {"temporal": types.ServiceConditionHealthy},
		"migrate":        {"postgres": types.ServiceConditionHealthy},
		"api": {
			"migrate":        types.ServiceConditionCompletedSuccessfully,
			"temporal-setup": types.ServiceConditionCompletedSuccessfully,
		},
		"worker": {
			"migrate":        types.ServiceConditionCompletedSuccessfully,
			"temporal-setup": types.ServiceConditionCompletedSuccessfully,
		},
	}
	for name, deps := range want {
		s := service(t, p, name)
		got := map[string]string{}
		for dep, d := range s.DependsOn {
			got[dep] = d.Condition
			assert.Truef(t, d.Required, "%s: dependency on %s should be required", name, dep)
		}
		assert.Equal(t, deps, got, name)
	}

	// One-shot jobs must not be restarted (a restarted job never "completes"); the
	// long-running services come back after a crash or a reboot.
	for _, name := range []string{"temporal-schema", "temporal-setup", "migrate"} {
		assert.Equal(t, "no", service(t, p, name).Restart, name)
	}
	for _, name := range []string{"postgres", "temporal", "temporal-ui", "api", "worker", "simulator"} {
		assert.Equal(t, "unless-stopped", service(t, p, name).Restart, name)
	}

	pg := service(t, p, "postgres")
	require.NotNil(t, pg.HealthCheck)
	assert.Contains(t, []string(pg.HealthCheck.Test), "pg_isready")
	// Over TCP: the init scripts' temporary server listens on the socket only.
	assert.Contains(t, []string(pg.HealthCheck.Test), "127.0.0.1")
	require.NotNil(t, service(t, p, "temporal").HealthCheck)
}

func TestComposeHomewardEnvironment(t *testing.T) {
	p := mustLoad(t, requiredEnv(), "simulator")
	common := map[string]string{
		"HOMEWARD_TEMPORAL_ADDRESS":    "temporal:7233",
		"HOMEWARD_TEMPORAL_NAMESPACE":  "default",
		"HOMEWARD_TEMPORAL_TASK_QUEUE": "homeward-cases",
		"HOMEWARD_TEMPORAL_UI_URL":     "http://localhost:8233",
		"HOMEWARD_DATABASE_DRIVER":     "postgres",
		"HOMEWARD_DATABASE_DSN":        "postgres://homeward:homeward@postgres:5432/homeward?sslmode=disable",
		"HOMEWARD_SERVICES_BASE_URL":   "http://simulator:8090",
		"HOMEWARD_SERVICES_API_KEY":    "partner-key",
		"HOMEWARD_AUTH_TOKENS":         requiredEnv()["HOMEWARD_AUTH_TOKENS"],
		"HOMEWARD_CODEC_KEYS":          requiredEnv()["HOMEWARD_CODEC_KEYS"],
		"HOMEWARD_DATABASE_KEYS":       requiredEnv()["HOMEWARD_DATABASE_KEYS"],
		"HOMEWARD_CODEC_UI_ORIGIN":     "http://localhost:8233",
	}
	for _, name := range []string{"api", "worker"} {
		s := service(t, p, name)
		for k, v := range common {
			assert.Equalf(t, v, env(t, s, k), "%s: %s", name, k)
		}
	}
	assert.Equal(t, "0.0.0.0:8080", env(t, service(t, p, "api"), "HOMEWARD_HTTP_ADDRESS"))
	// Migrations run as the database's owner, which grants the application role
	// (that of the api and the worker) no right to change the audit trail.
	assert.Equal(t, "postgres", env(t, service(t, p, "migrate"), "HOMEWARD_DATABASE_DRIVER"))
	assert.Equal(t, "postgres://homeward_owner:homeward_owner@postgres:5432/homeward?sslmode=disable",
		env(t, service(t, p, "migrate"), "HOMEWARD_DATABASE_DSN"))
	assert.Equal(t, "homeward", env(t, service(t, p, "migrate"), "HOMEWARD_DATABASE_APP_ROLE"))

	sim := service(t, p, "simulator")
	assert.Equal(t, "0.0.0.0:8090", env(t, sim, "HOMEWARD_DEV_SIMULATOR_ADDRESS"))
	assert.Equal(t, "http://api:8080", env(t, sim, "HOMEWARD_SIMULATOR_API_URL"))
	assert.Equal(t, "partner-key", env(t, sim, "HOMEWARD_SERVICES_API_KEY"))
	env(t, sim, "HOMEWARD_SIMULATOR_MEDICAL_TOKEN")
	env(t, sim, "HOMEWARD_SIMULATOR_RECEIVING_TOKEN")
	// The worker's default partner URL must be the simulator's host and port.
	u, err := url.Parse(common["HOMEWARD_SERVICES_BASE_URL"])
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(env(t, sim, "HOMEWARD_DEV_SIMULATOR_ADDRESS"))
	assert.Equal(t, "simulator:"+port, u.Host)

	// What the containers get must pass Homeward's own configuration loader.
	for _, name := range []string{"api", "worker", "migrate", "simulator"} {
		s := service(t, p, name)
		c, err := config.Load("", func(k string) string {
			if v, ok := s.Environment[k]; ok && v != nil {
				return *v
			}
			return ""
		})
		require.NoErrorf(t, err, "%s: config.Load", name)
		if name != "simulator" { // the simulator keeps no case files
			assert.Equal(t, "postgres", c.Database.Driver, name)
		}
	}
	c, err := config.Load("", func(k string) string { return common[k] })
	require.NoError(t, err)
	assert.Len(t, c.Auth.Tokens, 3, "the dev tokens must not be mixed in")

	// Real partners and real passwords replace the defaults, consistently everywhere.
	p = mustLoad(t, merge(requiredEnv(), map[string]string{
		"HOMEWARD_SERVICES_BASE_URL": "https://partners.example.org",
		"HOMEWARD_DB_PASSWORD":       "h-secret",
		"HOMEWARD_OWNER_DB_PASSWORD": "o-secret",
		"TEMPORAL_DB_PASSWORD":       "t-secret",
		"POSTGRES_PASSWORD":          "p-secret",
	}))
	for name, who := range map[string][2]string{"api": {"homeward", "h-secret"}, "worker": {"homeward", "h-secret"},
		"migrate": {"homeward_owner", "o-secret"}} {
		s := service(t, p, name)
		dsn, err := url.Parse(env(t, s, "HOMEWARD_DATABASE_DSN"))
		require.NoError(t, err)
		pw, _ := dsn.User.Password()
		assert.Equal(t, who[0], dsn.User.Username(), name)
		assert.Equal(t, who[1], pw, name)
		assert.Equal(t, "postgres:5432", dsn.Host, name)
		assert.Equal(t, "/homeward", dsn.Path, name)
	}
	assert.Equal(t, "https://partners.example.org", env(t, service(t, p, "worker"), "HOMEWARD_SERVICES_BASE_URL"))
	pg := service(t, p, "postgres")
	assert.Equal(t, "p-secret", env(t, pg, "POSTGRES_PASSWORD"))
	assert.Equal(t, "h-secret", env(t, pg, "HOMEWARD_DB_PASSWORD"))
	assert.Equal(t, "o-secret", env(t, pg, "HOMEWARD_OWNER_DB_PASSWORD"))
	assert.Equal(t, "t-secret", env(t, pg, "TEMPORAL_DB_PASSWORD"))
	assert.Equal(t, "t-secret", env(t, service(t, p, "temporal"), "POSTGRES_PWD"))
	assert.Equal(t, "t-secret", env(t, service(t, p, "temporal-schema"), "SQL_PASSWORD"))
}

func TestComposeTemporalOnPostgres(t *testing.T) {
	p := mustLoad(t, requiredEnv())
	tmp := service(t, p, "temporal")
	for k, v := range map[string]string{
		"DB_PORT": "5432", "POSTGRES_SEEDS": "postgres",
		"POSTGRES_USER": "temporal", "POSTGRES_PWD": "temporal",
		"DBNAME": "temporal", "VISIBILITY_DBNAME": "temporal_visibility",
		"BIND_ON_IP": "0.0.0.0", "PROMETHEUS_ENDPOINT": "0.0.0.0:8000",
	} {
		assert.Equal(t, v, env(t, tmp, k), k)
	}
	// The server runs deploy/temporal/config/homeward.yaml, the file make prod-check
	// starts bin/temporal-server with (prodcheck): --root and --config name the mount.
	script := strings.Join(tmp.Entrypoint, " ")
	assert.Contains(t, script, "exec temporal-server --root /etc/temporal --config homeward --env homeward --allow-no-auth start")
	assert.Contains(t, script, "TEMPORAL_BROADCAST_ADDRESS=")
	cfgMount := volume(t, tmp, "/etc/temporal/homeward")
	assert.True(t, cfgMount.ReadOnly)
	cfgDir, _ := filepath.Abs(filepath.Join(root, "deploy", "temporal", "config"))
	assert.Equal(t, cfgDir, cfgMount.Source)
	_, err := os.Stat(filepath.Join(cfgDir, "homeward.yaml"))
	assert.NoError(t, err, "the server's configuration")
	// Empty: the configuration file's shard count.
	assert.Equal(t, "", env(t, tmp, "NUM_HISTORY_SHARDS"))
	// The server refuses to start without its dynamic config file: ours is mounted.
	dc := env(t, tmp, "DYNAMIC_CONFIG_FILE_PATH")
	mount := volume(t, tmp, filepath.Dir(dc))
	assert.True(t, mount.ReadOnly)
	_, err = os.Stat(filepath.Join(mount.Source, filepath.Base(dc)))
	assert.NoError(t, err, "dynamic config file")

	schema := service(t, p, "temporal-schema")
	assert.Equal(t, "postgres12", env(t, schema, "SQL_PLUGIN"))
	assert.Equal(t, "postgres", env(t, schema, "SQL_HOST"))
	assert.Equal(t, env(t, tmp, "POSTGRES_USER"), env(t, schema, "SQL_USER"))
	assert.Equal(t, env(t, tmp, "DBNAME"), env(t, schema, "DBNAME"))
	assert.Equal(t, env(t, tmp, "VISIBILITY_DBNAME"), env(t, schema, "VISIBILITY_DBNAME"))
	assert.Equal(t, []string{"sh", "/homeward/schema.sh"}, []string(schema.Entrypoint))
	assertMountsDeployTemporal(t, schema)

	setup := service(t, p, "temporal-setup")
	assert.Equal(t, "temporal:7233", env(t, setup, "TEMPORAL_ADDRESS"))
	assert.Equal(t, "default", env(t, setup, "TEMPORAL_NAMESPACE"))
	assert.Equal(t, []string{"sh", "/homeward/setup.sh"}, []string(setup.Entrypoint))
	assertMountsDeployTemporal(t, setup)

	ui := service(t, p, "temporal-ui")
	assert.Equal(t, "temporal:7233", env(t, ui, "TEMPORAL_ADDRESS"))
	assert.Equal(t, "http://localhost:8080/codec", env(t, ui, "TEMPORAL_CODEC_ENDPOINT"))
	assert.Equal(t, "http://localhost:8233", env(t, ui, "TEMPORAL_CORS_ORIGINS"))
	// Nobody starts, signals, updates, cancels, terminates or resets a case from the UI: a
	// cancellation there would close a case as withdrawn, a signal would be a partner's answer.
	assert.Equal(t, "true", env(t, ui, "TEMPORAL_DISABLE_WRITE_ACTIONS"))

	// The namespace the setup job creates is the one api and worker use.
	p = mustLoad(t, merge(requiredEnv(), map[string]string{"HOMEWARD_TEMPORAL_NAMESPACE": "homeward"}))
	assert.Equal(t, "homeward", env(t, service(t, p, "temporal-setup"), "TEMPORAL_NAMESPACE"))
	assert.Equal(t, "homeward", env(t, service(t, p, "worker"), "HOMEWARD_TEMPORAL_NAMESPACE"))
}

func TestComposePortsAndVolumes(t *testing.T) {
	p := mustLoad(t, requiredEnv(), "simulator")
	ports := func(name string) []string {
		var out []string
		for _, pc := range service(t, p, name).Ports {
			out = append(out, fmt.Sprintf("%s:%s->%d", pc.HostIP, pc.Published, pc.Target))
		}
		return out
	}
	assert.Equal(t, []string{":8080->8080"}, ports("api"))
	// The Temporal UI has no sign-in here and the frontend no authorization: both only on the
	// host's loopback (a manager comes through an SSH tunnel, see the README).
	assert.Equal(t, []string{"127.0.0.1:8233->8080"}, ports("temporal-ui"))
	assert.Equal(t, []string{"127.0.0.1:7233->7233"}, ports("temporal"))
	for _, name := range []string{"temporal-ui", "temporal", "temporal-setup", "temporal-schema"} {
		for _, pc := range service(t, p, name).Ports {
			assert.Equal(t, "127.0.0.1", pc.HostIP, "%s publishes %s beyond loopback", name, pc.Published)
		}
		assert.NotEqual(t, "host", service(t, p, name).NetworkMode, name)
	}
	for _, name := range []string{"postgres", "worker", "simulator", "migrate"} {
		assert.Empty(t, ports(name), name)
	}

	pg := service(t, p, "postgres")
	data := volume(t, pg, "/var/lib/postgresql/data")
	assert.Equal(t, types.VolumeTypeVolume, data.Type)
	assert.Contains(t, p.Volumes, data.Source)
	initdb := volume(t, pg, "/docker-entrypoint-initdb.d")
	abs, _ := filepath.Abs(filepath.Join(root, "deploy", "postgres"))
	assert.Equal(t, abs, initdb.Source)
}

// Prometheus scrapes every api and worker container on the port their
// HOMEWARD_HTTP_METRICS_ADDRESS serves /metrics on, and the Temporal server on its
// PROMETHEUS_ENDPOINT, and loads the alert rules (which make prod-check checks).
func TestComposePrometheus(t *testing.T) {
	p := mustLoad(t, requiredEnv())
	prom := service(t, p, "prometheus")
	mount := volume(t, prom, "/etc/prometheus/homeward")
	assert.True(t, mount.ReadOnly)
	dir, _ := filepath.Abs(filepath.Join(root, "deploy", "prometheus"))
	assert.Equal(t, dir, mount.Source)
	assert.Contains(t, []string(prom.Command), "--config.file=/etc/prometheus/homeward/prometheus.yml")
	for _, pc := range prom.Ports {
		assert.Equal(t, "127.0.0.1", pc.HostIP, "Prometheus has no sign-in")
	}
	assert.Equal(t, "unless-stopped", prom.Restart)

	b, err := os.ReadFile(filepath.Join(dir, "prometheus.yml"))
	require.NoError(t, err)
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
			DNS     []struct {
				Names []string `yaml:"names"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
			Static []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	require.Len(t, cfg.RuleFiles, 1)
	rules, ok := strings.CutPrefix(cfg.RuleFiles[0], "/etc/prometheus/homeward/")
	require.True(t, ok, cfg.RuleFiles[0])
	_, err = os.Stat(filepath.Join(dir, rules))
	require.NoError(t, err)

	targets := map[string]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, d := range sc.DNS {
			for _, n := range d.Names {
				targets[sc.JobName] = fmt.Sprintf("%s:%d", n, d.Port)
			}
		}
		for _, st := range sc.Static {
			for _, tg := range st.Targets {
				targets[sc.JobName] = tg
			}
		}
	}
	port := func(svc, key string) string {
		_, port, err := net.SplitHostPort(env(t, service(t, p, svc), key))
		require.NoError(t, err)
		return svc + ":" + port
	}
	assert.Equal(t, map[string]string{
		"homeward-api":    port("api", "HOMEWARD_HTTP_METRICS_ADDRESS"),
		"homeward-worker": port("worker", "HOMEWARD_HTTP_METRICS_ADDRESS"),
		"temporal":        port("temporal", "PROMETHEUS_ENDPOINT"),
	}, targets)
}

func TestComposeRequiresSecrets(t *testing.T) {
	for _, key := range []string{"HOMEWARD_AUTH_TOKENS", "HOMEWARD_SERVICES_API_KEY", "HOMEWARD_CODEC_KEYS", "HOMEWARD_DATABASE_KEYS"} {
		for _, value := range []*string{nil, ptr("")} {
			e := requiredEnv()
			delete(e, key)
			if value != nil {
				e[key] = *value
			}
			_, err := load(t, e)
			require.Errorf(t, err, "loading without %s must fail", key)
			assert.Contains(t, err.Error(), "set "+key, "the message names what to set")
		}
	}
}

func TestSearchAttributesList(t *testing.T) {
	got := readSearchAttributes(t)
	assert.Equal(t, searchAttributes, got)
	// Postgres visibility has 10 Keyword, 3 Bool and 3 Datetime columns to map onto.
	count := map[string]int{}
	for _, typ := range got {
		count[typ]++
	}
	assert.LessOrEqual(t, count["Keyword"], 10)
	assert.LessOrEqual(t, count["Bool"], 3)
	assert.LessOrEqual(t, count["Datetime"], 3)
}

func readSearchAttributes(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "deploy", "temporal", "search-attributes.txt"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		require.Len(t, fields, 2, line)
		require.NotContains(t, out, fields[0], "listed twice")
		out[fields[0]] = fields[1]
	}
	require.NoError(t, sc.Err())
	return out
}

// fakeTemporal is a stand-in for the `temporal` CLI: it logs its arguments and answers
// like the real one would, as FAKE_MODE says.
const fakeTemporal = `#!/bin/sh
echo "$*" >>"$FAKE_LOG"
case "$*" in
*"cluster health"*)
  if [ -f "$FAKE_DIR/down" ]; then rm "$FAKE_DIR/down"; echo "connection refused" >&2; exit 1; fi
  echo SERVING; exit 0 ;;
esac
case "$FAKE_MODE" in
exists) echo "Error: Namespace or search attribute already exists." >&2; exit 1 ;;
conflict)
  case "$*" in *search-attribute*) echo "Error: search attribute X already exists and has different type Text" >&2; exit 1 ;; esac ;;
broken) echo "Error: permission denied" >&2; exit 1 ;;
esac
echo ok
`

// shells lists the shells on this machine to run the scripts with: they are POSIX sh
// for the admin-tools images (busybox ash), and bash must run them too.
func shells(t *testing.T) []string {
	var out []string
	for _, sh := range []string{"sh", "bash", "busybox"} {
		if p, err := exec.LookPath(sh); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Skip("no shell to run the scripts with")
	}
	return out
}

func runScript(t *testing.T, shell, script string, env map[string]string) (string, error) {
	t.Helper()
	args := []string{filepath.Join(root, "deploy", "temporal", script)}
	if filepath.Base(shell) == "busybox" {
		args = append([]string{"sh"}, args...)
	}
	cmd := exec.Command(shell, args...)
	cmd.Env = []string{"PATH=" + env["FAKE_DIR"] + ":/usr/bin:/bin"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSetupScriptRegistersExactlyTheSearchAttributes(t *testing.T) {
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "temporal"), []byte(fakeTemporal), 0o755))
			log := filepath.Join(dir, "log")
			e := map[string]string{
				"FAKE_DIR": dir, "FAKE_LOG": log, "FAKE_MODE": "ok",
				"TEMPORAL_ADDRESS": "temporal:7233", "TEMPORAL_NAMESPACE": "default",
				"SETUP_ATTEMPTS": "3", "SETUP_SLEEP_SECONDS": "0",
			}
			// The server is not up at the first try: the script waits.
			require.NoError(t, os.WriteFile(filepath.Join(dir, "down"), nil, 0o644))
			out, err := runScript(t, shell, "setup.sh", e)
			require.NoError(t, err, out)

			calls := readLines(t, log)
			require.GreaterOrEqual(t, len(calls), 3, out)
			assert.Equal(t, "operator cluster health --address temporal:7233", calls[0])
			assert.Equal(t, "operator cluster health --address temporal:7233", calls[1])
			assert.Equal(t, "operator namespace create --address temporal:7233 --namespace default --retention 720h", calls[2])
			// Last, a query naming every attribute, until the frontend accepts it.
			last := calls[len(calls)-1]
			require.True(t, strings.HasPrefix(last, "workflow count --address temporal:7233 --namespace default --query "), last)
			for name := range searchAttributes {
				assert.Contains(t, last, name+" IS NOT NULL", last)
			}
			got := map[string]string{}
			for _, c := range calls[3 : len(calls)-1] {
				f := flags(c)
				require.True(t, strings.HasPrefix(c, "operator search-attribute create "), c)
				assert.Equal(t, "default", f["--namespace"], c)
				assert.Equal(t, "temporal:7233", f["--address"], c)
				require.NotContains(t, got, f["--name"], "registered twice")
				got[f["--name"]] = f["--type"]
			}
			assert.Equal(t, searchAttributes, got)

			// Second run: everything exists already, which is success.
			e["FAKE_MODE"] = "exists"
			out, err = runScript(t, shell, "setup.sh", e)
			require.NoError(t, err, out)
			assert.Contains(t, out, "already exists")

			// An attribute that exists with another type is a conflict, not "exists".
			e["FAKE_MODE"] = "conflict"
			out, err = runScript(t, shell, "setup.sh", e)
			require.Error(t, err, out)
			assert.Contains(t, out, "different type")

			// Any other error is retried, then fails the job.
			e["FAKE_MODE"] = "broken"
			out, err = runScript(t, shell, "setup.sh", e)
			require.Error(t, err, out)
			assert.Contains(t, out, "failed after 3 attempts")
		})
	}
}

const fakeSQLTool = `#!/bin/sh
echo "$*" >>"$FAKE_LOG"
case "$FAKE_MODE:$*" in
exists:*create-database*) echo 'ERROR: database "x" already exists (SQLSTATE 42P04)' >&2; exit 1 ;;
broken:*create-database*) echo 'password authentication failed for user "temporal"' >&2; exit 1 ;;
esac
echo ok
`

func TestSchemaScript(t *testing.T) {
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "temporal-sql-tool"), []byte(fakeSQLTool), 0o755))
			log := filepath.Join(dir, "log")
			e := map[string]string{
				"FAKE_DIR": dir, "FAKE_LOG": log, "FAKE_MODE": "ok",
				"SQL_PLUGIN": "postgres12", "SQL_HOST": "postgres", "SQL_USER": "temporal",
				"SCHEMA_ATTEMPTS": "2", "SCHEMA_SLEEP_SECONDS": "0",
			}
			out, err := runScript(t, shell, "schema.sh", e)
			require.NoError(t, err, out)
			assert.Equal(t, []string{
				"--db temporal create-database",
				"--db temporal setup-schema -v 0.0",
				"--db temporal update-schema --schema-name postgresql/v12/temporal",
				"--db temporal_visibility create-database",
				"--db temporal_visibility setup-schema -v 0.0",
				"--db temporal_visibility update-schema --schema-name postgresql/v12/visibility",
			}, readLines(t, log))

			e["FAKE_MODE"] = "exists"
			out, err = runScript(t, shell, "schema.sh", e)
			require.NoError(t, err, out)

			e["FAKE_MODE"] = "broken"
			out, err = runScript(t, shell, "schema.sh", e)
			require.Error(t, err, out)
			assert.Contains(t, out, "password authentication failed")

			delete(e, "SQL_HOST")
			out, err = runScript(t, shell, "schema.sh", e)
			require.Error(t, err, out)
			assert.Contains(t, out, "SQL_HOST")
		})
	}
}

// TestSetupScriptAgainstTemporalDevServer runs setup.sh with the real Temporal CLI
// (bin/temporal, built from tools/go.mod) against a real dev server, twice. Skipped
// when the CLI has not been built, or with -short.
func TestSetupScriptAgainstTemporalDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	cliPath, err := filepath.Abs(filepath.Join(root, "bin", "temporal"))
	require.NoError(t, err)
	if _, err := os.Stat(cliPath); err != nil {
		t.Skip("bin/temporal not built")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	port, uiPort := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, cliPath, "server", "start-dev", "--headless",
		"--ip", "127.0.0.1", "--port", strconv.Itoa(port), "--ui-port", strconv.Itoa(uiPort),
		"--log-level", "error")
	require.NoError(t, srv.Start())
	t.Cleanup(func() { cancel(); _ = srv.Wait() })

	dir := t.TempDir()
	require.NoError(t, os.Symlink(cliPath, filepath.Join(dir, "temporal")))
	address := fmt.Sprintf("127.0.0.1:%d", port)
	e := map[string]string{
		"FAKE_DIR": dir, "TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": "homeward-test",
		"SETUP_ATTEMPTS": "60", "SETUP_SLEEP_SECONDS": "1", "HOME": dir,
	}
	for range 2 { // the second run finds everything in place
		out, err := runScript(t, sh, "setup.sh", e)
		require.NoError(t, err, out)
		assert.Contains(t, out, "11 search attributes")
	}

	list := exec.Command(cliPath, "operator", "search-attribute", "list",
		"--address", address, "--namespace", "homeward-test")
	list.Env = []string{"HOME=" + dir}
	out, err := list.CombinedOutput()
	require.NoError(t, err, string(out))
	for name, typ := range searchAttributes {
		assert.Regexp(t, regexp.MustCompile(`(?m)^\s*`+name+`\s+`+typ+`\s*$`), string(out))
	}
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	var froms []string
	var lastStage []string // instructions after the last FROM
	var all []string
	for _, line := range joinContinuations(string(b)) {
		switch {
		case strings.HasPrefix(line, "FROM "):
			froms = append(froms, line)
			lastStage = nil
		default:
			lastStage = append(lastStage, line)
		}
		all = append(all, line)
	}
	require.GreaterOrEqual(t, len(froms), 2, "multi-stage")
	assert.Equal(t, "FROM golang:1.26-bookworm AS build", froms[0])

	build := strings.Join(all, "\n")
	assert.Regexp(t, `(?m)^(ENV .*CGO_ENABLED=0|RUN .*CGO_ENABLED=0 )`, build)
	goBuild := regexp.MustCompile(`(?m)^RUN .*\bgo build (.*)$`).FindStringSubmatch(build)
	require.NotNil(t, goBuild, "no go build")
	assert.Contains(t, goBuild[1], "-trimpath")
	assert.Contains(t, goBuild[1], `-ldflags "-s -w"`)
	assert.True(t, strings.HasSuffix(goBuild[1], " ./cmd/homeward"), goBuild[1])
	out := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(goBuild[1])
	require.NotNil(t, out)

	final := froms[len(froms)-1]
	var user string
	for _, l := range lastStage {
		if u, ok := strings.CutPrefix(l, "USER "); ok {
			user = u
		}
	}
	nonrootImage := strings.HasSuffix(strings.Fields(final)[1], ":nonroot")
	require.Truef(t, nonrootImage || user != "", "final stage %q runs as root", final)
	if user != "" {
		name, _, _ := strings.Cut(user, ":")
		assert.NotContains(t, []string{"root", "0"}, name, "USER")
	}
	assert.Contains(t, lastStage, "COPY --from=build "+out[1]+" /homeward")
	assert.Contains(t, lastStage, `ENTRYPOINT ["/homeward"]`)

	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	require.NoError(t, err)
	lines := strings.Split(string(ignore), "\n")
	for _, want := range []string{".git", "bin/", "data/"} {
		assert.Contains(t, lines, want, ".dockerignore")
	}
}

func TestPostgresInitScript(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "deploy", "postgres", "10-homeward.sql"))
	require.NoError(t, err)
	sql := string(b)
	assert.Contains(t, sql, "CREATE DATABASE homeward OWNER homeward_owner;")
	assert.Contains(t, sql, "CREATE ROLE homeward_owner LOGIN PASSWORD :'homeward_owner_password';")
	assert.Contains(t, sql, "CREATE ROLE homeward LOGIN PASSWORD :'homeward_password';")
	assert.Contains(t, sql, "GRANT CONNECT ON DATABASE homeward TO homeward;")
	assert.Contains(t, sql, "CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';")
	// The variables the script reads are the ones compose passes to the container.
	p := mustLoad(t, requiredEnv())
	pg := service(t, p, "postgres")
	for _, m := range regexp.MustCompile(`\\getenv \w+ (\w+)`).FindAllStringSubmatch(sql, -1) {
		env(t, pg, m[1])
	}
	// Temporal's databases are the schema job's to create, not this script's.
	assert.NotContains(t, sql, "CREATE DATABASE temporal")
}

func TestDockerComposeConfigWhenInstalled(t *testing.T) {
	bin := "/usr/bin/docker-compose"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("docker-compose not installed")
	}
	cmd := exec.Command(bin, "-f", filepath.Join(root, "docker-compose.yml"), "config", "-q")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	for k, v := range requiredEnv() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
}

// helpers

func volume(t *testing.T, s types.ServiceConfig, target string) types.ServiceVolumeConfig {
	t.Helper()
	i := slices.IndexFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == target })
	require.GreaterOrEqualf(t, i, 0, "%s: nothing mounted at %s", s.Name, target)
	return s.Volumes[i]
}

func assertMountsDeployTemporal(t *testing.T, s types.ServiceConfig) {
	t.Helper()
	v := volume(t, s, "/homeward")
	abs, _ := filepath.Abs(filepath.Join(root, "deploy", "temporal"))
	assert.Equal(t, abs, v.Source, s.Name)
	assert.True(t, v.ReadOnly, s.Name)
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// flags reads "--k v" pairs.
func flags(args string) map[string]string {
	f := strings.Fields(args)
	out := map[string]string{}
	for i := 0; i+1 < len(f); i++ {
		if strings.HasPrefix(f[i], "--") {
			out[f[i]] = f[i+1]
		}
	}
	return out
}

// joinContinuations returns the Dockerfile's instructions, one a string, without
// comments, blank lines and backslash continuations.
func joinContinuations(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(strings.TrimSpace(l) + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, strings.TrimSpace(cur.String()))
		cur.Reset()
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// The init script runs on a real Postgres (the machine's, under names of this
// test's own: roles are cluster-wide), migrate runs as the owner role it creates,
// and the application role can then work with the audit trail but not change it.
func TestPostgresInitScriptOnARealServer(t *testing.T) {
	base := os.Getenv("HOMEWARD_TEST_POSTGRES_DSN")
	psql, err := exec.LookPath("psql")
	if base == "" || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true needs HOMEWARD_TEST_POSTGRES_DSN and psql (%v)", err)
		}
		t.Skip("needs HOMEWARD_TEST_POSTGRES_DSN and psql")
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "postgres", "10-homeward.sql"))
	require.NoError(t, err)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e12, 36)
	app, owner, tmp := "hw_app_"+suffix, "hw_owner_"+suffix, "hw_temporal_"+suffix
	script := regexp.MustCompile(`\bhomeward_owner\b`).ReplaceAllString(string(b), owner)
	script = regexp.MustCompile(`\bhomeward\b`).ReplaceAllString(script, app) // the role and its database
	script = regexp.MustCompile(`\btemporal\b`).ReplaceAllString(script, tmp)
	file := filepath.Join(t.TempDir(), "10-homeward.sql")
	require.NoError(t, os.WriteFile(file, []byte(script), 0o600))

	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { _ = admin.Close() }()
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + app + " WITH (FORCE)")
		for _, role := range []string{app, owner, tmp} {
			if _, err := admin.Exec("DROP ROLE IF EXISTS " + role); err != nil {
				t.Errorf("dropping role %s: %v", role, err)
			}
		}
	})
	cmd := exec.Command(psql, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", "-d", base, "-f", file)
	cmd.Env = append(os.Environ(), "TEMPORAL_DB_PASSWORD=t-secret", "HOMEWARD_OWNER_DB_PASSWORD=o-secret", "HOMEWARD_DB_PASSWORD=h-secret")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "psql: %s", out)

	dsn := func(user, password string) string {
		u, err := url.Parse(base)
		require.NoError(t, err)
		u.User, u.Path = url.UserPassword(user, password), "/"+app
		return u.String()
	}
	ctx := context.Background()
	st, err := store.Open("postgres", dsn(owner, "o-secret")) // homeward migrate
	require.NoError(t, err)
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, st.GrantApplication(ctx, app))
	require.NoError(t, st.Close())

	as, err := store.Open("postgres", dsn(app, "h-secret")) // homeward api and worker
	require.NoError(t, err)
	defer func() { _ = as.Close() }()
	require.NoError(t, as.Audit(ctx, store.AuditEntry{ActorUser: "manager", ActorRole: "manager", CaseID: "c1",
		Part: "case_file", Action: "read", At: time.Now().UTC()}))
	trail, err := as.AuditTrail(ctx, "c1")
	require.NoError(t, err)
	require.Len(t, trail, 1)
	db, err := as.SQL()
	require.NoError(t, err)
	for _, stmt := range []string{"UPDATE audit_log SET actor_user = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log",
		"DROP TRIGGER audit_log_no_update ON audit_log", "CREATE TABLE mine (id int)"} {
		_, err := db.ExecContext(ctx, stmt)
		require.ErrorContains(t, err, "SQLSTATE 42501", stmt)
	}
}
