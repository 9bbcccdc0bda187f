// Package relay sends the case registry the changes the case file queued for it
// (the registry's outbox, written in the same transaction as each change): in
// order per case, each under its own idempotency key, none lost and none with a
// second effect. It runs in every worker process; two relays share the work
// through the store's claims (ClaimRegistryChanges). A relay that dies between
// sending a change and marking it sent leaves it to be sent again after its lease,
// under the same key: the registry answers it without a second effect.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/store"
)

// Send delivers one change to the registry under key.
type Send func(ctx context.Context, key string, rec contract.CaseRecord) error

// Outbox is the registry's outbox in the case file (*store.Store): claims, and
// the outcome of each change sent.
type Outbox interface {
	ClaimRegistryChanges(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.RegistryOutbox, error)
	RegistryChangeSent(ctx context.Context, caseID string, seq int64, at time.Time) error
	RegistryChangeRefused(ctx context.Context, caseID string, seq int64, at time.Time, message string) error
	RegistryChangeFailed(ctx context.Context, caseID string, seq int64, next time.Time) error
	// OnRegistryQueued has f called when a write in this process queues a change.
	OnRegistryQueued(f func())
}

// Relay sends the registry's outbox.
type Relay struct {
	store Outbox
	send  Send
	log   *slog.Logger
	owner string
	wake  chan struct{}

	// Every is how often the relay looks without being woken (changes another
	// process queued, retries that fall due): 5 s.
	Every time.Duration
	// Lease is how long a claim holds a change from other relays: 1 min, longer
	// than a call to the registry takes (its timeout).
	Lease time.Duration
	// Batch is how many cases' changes one look claims: 100; Parallel how many
	// are sent at once: 8.
	Batch, Parallel int
	// MinRetry and MaxRetry bound the pause before a change that could not be sent
	// is tried again (doubling from the one to the other): 1 s and 10 min.
	MinRetry, MaxRetry time.Duration
}

// New makes a relay over the store's outbox. The store wakes it when a case-file
// write in this process queues a change.
func New(st Outbox, send Send, log *slog.Logger) *Relay {
	host, _ := os.Hostname()
	r := &Relay{store: st, send: send, log: log, owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8]),
		wake: make(chan struct{}, 1), Every: 5 * time.Second, Lease: time.Minute, Batch: 100, Parallel: 8,
		MinRetry: time.Second, MaxRetry: 10 * time.Minute}
	st.OnRegistryQueued(r.Wake)
	return r
}

// ToRegistry sends changes with the partners' client.
func ToRegistry(c *partners.Client) Send {
	return func(ctx context.Context, key string, rec contract.CaseRecord) error {
		_, err := c.UpsertCase(ctx, key, rec)
		return err
	}
}

// Wake has the relay look now. It never blocks.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.Every)
	defer t.Stop()
	for {
		for {
			n, err := r.Once(ctx)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("registry relay: the outbox could not be read or marked", "error", err.Error())
			}
			if n == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
	}
}

// Once claims what is due now, sends it and marks it, and says how many changes
// it claimed.
func (r *Relay) Once(ctx context.Context) (int, error) {
	rows, err := r.store.ClaimRegistryChanges(ctx, r.owner, time.Now().UTC(), r.Lease, r.Batch)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	sem := make(chan struct{}, max(r.Parallel, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, row := range rows {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.deliver(ctx, row); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return len(rows), errors.Join(errs...)
}

// misconfigured says whether a refusal is about Homeward's access to the
// registry (its credentials, its address), not about the change: those are
// tried again like an outage, never dropped, until someone mends the setting.
func misconfigured(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound ||
		status == http.StatusProxyAuthRequired
}

// deliver sends one change (the oldest unsent of its case) and records the outcome.
func (r *Relay) deliver(ctx context.Context, row store.RegistryOutbox) error {
	rec, err := row.CaseRecord()
	if err == nil {
		err = r.send(ctx, row.Key(), rec)
	}
	now := time.Now().UTC()
	var rej *partners.Rejected
	switch {
	case err == nil:
		return r.store.RegistryChangeSent(ctx, row.CaseID, row.Seq, now)
	case errors.As(err, &rej) && !misconfigured(rej.Status):
		// The same change would be refused again: it is done with, so the case's
		// later changes (which replace it at the registry) go on.
		r.log.Warn("registry relay: the registry refused a change", "case_id", row.CaseID, "seq", row.Seq, "status", rej.Status)
		return r.store.RegistryChangeRefused(ctx, row.CaseID, row.Seq, now, truncate(rej.Error(), 300))
	default:
		pause := r.MinRetry << min(row.Attempts, 20)
		if pause > r.MaxRetry || pause <= 0 {
			pause = r.MaxRetry
		}
		if row.Attempts == 0 || row.Attempts%10 == 9 {
			r.log.Warn("registry relay: the registry is unavailable; trying again", "case_id", row.CaseID, "seq", row.Seq,
				"attempts", row.Attempts+1, "retry_in", pause.String())
		}
		return r.store.RegistryChangeFailed(context.WithoutCancel(ctx), row.CaseID, row.Seq, now.Add(pause))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
