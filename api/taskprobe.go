package api

import (
	"context"
	"sync"
	"time"
)

// taskProbe keeps the last answer to "which quiet cases have a failing workflow
// task?". Asking Temporal about a hundred cases takes 100-200 ms and a hundred
// describe calls of the server's CPU, too much for every GET /stuck; a task that
// keeps failing stays stuck for hours, so an answer up to `every` old will do.
// A read returns the last answer at once and, when it is older than `every`,
// has one refresh run in the background; only the first read after a start waits
// for an answer. With every 0, each read asks.
type taskProbe struct {
	every time.Duration
	ask   func(ctx context.Context, now time.Time) ([]StuckCase, error)
	// onError is told of a background refresh that failed (the last answer stays).
	onError func(error)

	mu      sync.Mutex
	found   []StuckCase
	at      time.Time // when the answer was asked for; zero: no answer yet
	running bool      // a background refresh is under way
	// asking is held by the read that asks for the first answer; the others wait.
	asking sync.Mutex
}

// refreshTimeout bounds one background refresh.
const refreshTimeout = 30 * time.Second

func newTaskProbe(every time.Duration, ask func(context.Context, time.Time) ([]StuckCase, error), onError func(error)) *taskProbe {
	return &taskProbe{every: every, ask: ask, onError: onError}
}

// failing is the last answer; it was asked for at or after now-every unless a
// refresh is under way.
func (p *taskProbe) failing(ctx context.Context, now time.Time) ([]StuckCase, error) {
	if p.every <= 0 {
		return p.ask(ctx, now)
	}
	if found, ok := p.last(now); ok {
		return found, nil
	}
	// No answer yet: one read asks, the others wait for it and take its answer.
	p.asking.Lock()
	defer p.asking.Unlock()
	if found, ok := p.last(now); ok {
		return found, nil
	}
	found, err := p.ask(ctx, now)
	if err != nil {
		return nil, err
	}
	p.keep(found, now)
	return found, nil
}

// last is the answer there is, if any, with a refresh started when it is stale.
func (p *taskProbe) last(now time.Time) ([]StuckCase, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at.IsZero() {
		return nil, false
	}
	if now.Sub(p.at) >= p.every && !p.running {
		p.running = true
		go p.refresh(now)
	}
	return p.found, true
}

func (p *taskProbe) keep(found []StuckCase, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if at.After(p.at) {
		p.found, p.at = found, at
	}
}

func (p *taskProbe) refresh(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	found, err := p.ask(ctx, now)
	if err == nil {
		p.keep(found, now)
	} else if p.onError != nil {
		p.onError(err)
	}
	p.mu.Lock()
	p.running = false
	p.mu.Unlock()
}
