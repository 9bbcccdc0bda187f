package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// Latencies collects durations from many goroutines.
type Latencies struct {
	mu sync.Mutex
	ds []time.Duration
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.ds = append(l.ds, d)
	l.mu.Unlock()
}

// merge adds another collection's durations.
func (l *Latencies) merge(o *Latencies) {
	o.mu.Lock()
	ds := append([]time.Duration(nil), o.ds...)
	o.mu.Unlock()
	l.mu.Lock()
	l.ds = append(l.ds, ds...)
	l.mu.Unlock()
}

// Len is how many were recorded.
func (l *Latencies) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ds)
}

// Quantile returns the q-quantile (nearest rank), 0 if none were recorded.
func (l *Latencies) Quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ds) == 0 {
		return 0
	}
	s := slices.Clone(l.ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Mean is the arithmetic mean.
func (l *Latencies) Mean() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range l.ds {
		sum += d
	}
	return sum / time.Duration(len(l.ds))
}

// ms formats a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v == 0:
		return "0"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
func f3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// table prints aligned plain-text columns.
type table struct {
	title string
	head  []string
	rows  [][]string
	notes []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }
func (t *table) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

func (t *table) print(w io.Writer) {
	fmt.Fprintf(w, "\n== %s\n", t.title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
	for _, n := range t.notes {
		fmt.Fprintln(w, "  "+n)
	}
}

// CPU is a process's accumulated user+system CPU time.
type CPU time.Duration

// selfCPU reads this process's CPU time (worker, API, simulator and the driver).
func selfCPU() CPU {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return CPU(time.Duration(ru.Utime.Nano() + ru.Stime.Nano()))
}

// clockTicks is USER_HZ, 100 on every Linux this runs on (sysconf needs cgo).
const clockTicks = 100

// procCPU reads utime+stime of a process from /proc/<pid>/stat.
func procCPU(pid int) CPU {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold spaces: fields start after ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return CPU(time.Duration(ut+st) * time.Second / clockTicks)
}

// rssBytes reads VmRSS of a process (pid 0: this one).
func rssBytes(pid int) int64 {
	p := "/proc/self/status"
	if pid > 0 {
		p = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(p)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fs := strings.Fields(rest)
			if len(fs) > 0 {
				kb, _ := strconv.ParseInt(fs[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func mib(b int64) string { return f1(float64(b) / (1 << 20)) }

// findDevServer finds the dev server's process: the devserver package runs the CLI
// (`temporal server start-dev ... --port N`) and does not expose its PID.
func findDevServer(port string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) != "temporal" || !slices.Contains(args, "start-dev") {
			continue
		}
		if i := slices.Index(args, "--port"); i >= 0 && i+1 < len(args) && args[i+1] == port {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no temporal start-dev process with --port %s in /proc", port)
}

// usage is the CPU two processes spent over a phase.
type usage struct {
	server, self CPU
	wall         time.Duration
}

type meter struct {
	serverPID int
	start     time.Time
	server    CPU
	self      CPU
}

func (e *env) meter() meter {
	return meter{serverPID: e.serverPID, start: time.Now(), server: procCPU(e.serverPID), self: selfCPU()}
}

func (m meter) stop() usage {
	return usage{server: procCPU(m.serverPID) - m.server, self: selfCPU() - m.self, wall: time.Since(m.start)}
}

func (u usage) plus(v usage) usage {
	return usage{server: u.server + v.server, self: u.self + v.self, wall: u.wall + v.wall}
}

func (u usage) serverCores() float64 { return time.Duration(u.server).Seconds() / u.wall.Seconds() }
func (u usage) selfCores() float64   { return time.Duration(u.self).Seconds() / u.wall.Seconds() }

// per is CPU milliseconds per unit.
func per(c CPU, n int) string {
	if n == 0 {
		return "-"
	}
	return ms(time.Duration(c) / time.Duration(n))
}

// perSec is CPU seconds per unit.
func perSec(c CPU, n int) string {
	if n == 0 {
		return "-"
	}
	return f3(time.Duration(c).Seconds() / float64(n))
}
