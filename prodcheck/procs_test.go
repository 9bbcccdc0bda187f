package prodcheck

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one program of the deployment, run as its own process with its own
// environment; its output goes to a log file of the run.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string // file, appended to across restarts

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(f, "==== %s: %s started\n", time.Now().Format(time.RFC3339Nano), p.name)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = p.env, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_, _ = fmt.Fprintf(f, "==== %s: %s exited: %v\n", time.Now().Format(time.RFC3339Nano), p.name, cmd.ProcessState)
		_ = f.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

func (p *proc) running() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil, nil
	}
	select {
	case <-p.done:
		return nil, nil
	default:
		return p.cmd, p.done
	}
}

// kill sends SIGKILL, as a crash or an OOM kill would, and waits for the exit.
func (p *proc) kill() {
	if cmd, done := p.running(); cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// stop asks the process to stop (SIGTERM, as `docker compose stop` does) and
// kills it after grace.
func (p *proc) stop(grace time.Duration) {
	cmd, done := p.running()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		p.kill()
	}
}

// exited says whether the process has stopped by itself.
func (p *proc) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// freePort is a port nothing listens on at the moment.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lowPort is a free port below 32768: Temporal keeps membership ports in a
// smallint column, and the ports the kernel hands out for :0 are above it.
func lowPort() (int, error) {
	var err error
	for range 100 {
		var b [2]byte
		_, _ = rand.Read(b[:])
		p := 20000 + int(b[0])<<8%12000 + int(b[1])
		var l net.Listener
		if l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			_ = l.Close()
			return p, nil
		}
	}
	return 0, err
}

// listening is a condition: something accepts connections at addr.
func listening(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err
	}
}

// waitUntil polls cond until it holds, a process it depends on exits, or the
// deadline passes.
func waitUntil(what string, within time.Duration, procs []*proc, cond func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		for _, p := range procs {
			if p.exited() {
				return fmt.Errorf("%s: %s exited (see %s)", what, p.name, p.log)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %s: %w", what, within, err)
		}
		<-time.After(100 * time.Millisecond)
	}
}

// httpOK is a condition: url answers 200.
func httpOK(url string) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = res.Body.Close() }()
		_, _ = io.Copy(io.Discard, res.Body)
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %d", url, res.StatusCode)
		}
		return nil
	}
}

// scrape reads a /metrics page.
func scrape(url string) (string, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s answered %d", url, res.StatusCode)
	}
	return string(b), err
}

// keyRing is a fresh key ring in the JSON of HOMEWARD_CODEC_KEYS and
// HOMEWARD_DATABASE_KEYS.
func keyRing(id string) string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return fmt.Sprintf(`{"active":%q,"keys":{%q:%q}}`, id, id, base64.StdEncoding.EncodeToString(k))
}

func token() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// runScript runs one of deploy/temporal's scripts with sh, as compose's one-shot
// services do, with env only (and PATH).
func runScript(script, logFile string, env []string) error {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	cmd := exec.Command("sh", script)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w (see %s)", filepath.Base(script), err, logFile)
	}
	return nil
}

// binaries are the programs the check runs, built by make prod-check.
func binaries(root string) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for _, name := range []string{"homeward", "temporal-server", "temporal-sql-tool", "temporal"} {
		p := filepath.Join(root, "bin", name)
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
		out[name] = p
	}
	if len(missing) > 0 {
		return nil, errors.New("not built (make prod-check builds them): " + strings.Join(missing, ", "))
	}
	return out, nil
}
