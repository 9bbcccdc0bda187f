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
// has one refresh run in the background; only the reads before the first answer
// wait for it. With every 0, each read asks.
type taskProbe struct {
	every time.Duration
	ask   func(ctx context.Context, now time.Time) ([]StuckCase, error)
	// onError is told of a background refresh that failed (the last answer stays).
	onError func(error)

	mu      sync.Mutex
	found   []StuckCase
	at      time.Time // when the answer was asked for; zero: no answer yet
	running bool      // a background refresh is under way
	// first is closed when the read asking for the first answer is done (nil: no
	// such read); firstErr is its error, if it had no answer.
	first    chan struct{}
	firstErr error
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
	p.mu.Lock()
	if !p.at.IsZero() {
		if now.Sub(p.at) >= p.every && !p.running {
			p.running = true
			go p.refresh(now)
		}
		defer p.mu.Unlock()
		return p.found, nil
	}
	if first := p.first; first != nil {
		// Another read is asking for the first answer: take its answer, or its error.
		p.mu.Unlock()
		select {
		case <-first:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.at.IsZero() {
			return nil, p.firstErr
		}
		return p.found, nil
	}
	first := make(chan struct{})
	p.first = first
	p.mu.Unlock()

	found, err := p.ask(ctx, now)
	p.mu.Lock()
	p.first, p.firstErr = nil, err
	if err == nil {
		p.found, p.at = found, now
	}
	p.mu.Unlock()
	close(first)
	return found, err
}

func (p *taskProbe) refresh(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	found, err := p.ask(ctx, now)
	p.mu.Lock()
	p.running = false
	if err == nil && now.After(p.at) {
		p.found, p.at = found, now
	}
	p.mu.Unlock()
	if err != nil && p.onError != nil {
		p.onError(err)
	}
}
