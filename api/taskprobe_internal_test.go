package api

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// probeAnswers is an ask that counts its calls and answers with the call's number.
type probeAnswers struct {
	calls atomic.Int32
	fail  atomic.Bool
	gate  chan struct{} // if set, each ask waits for a value
}

func (a *probeAnswers) ask(ctx context.Context, _ time.Time) ([]StuckCase, error) {
	n := a.calls.Add(1)
	if a.gate != nil {
		select {
		case <-a.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if a.fail.Load() {
		return nil, errors.New("temporal unavailable")
	}
	return []StuckCase{{Detail: string(rune('0' + n))}}, nil
}

func answer(t *testing.T, p *taskProbe, now time.Time) string {
	t.Helper()
	found, err := p.failing(context.Background(), now)
	require.NoError(t, err)
	require.Len(t, found, 1)
	return found[0].Detail
}

func TestTheTaskProbeAnswersFromItsLastAnswer(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	a := &probeAnswers{}
	var refreshErrs atomic.Int32
	p := newTaskProbe(30*time.Second, a.ask, func(error) { refreshErrs.Add(1) })

	require.Equal(t, "1", answer(t, p, t0), "the first read asks and waits")
	require.Equal(t, "1", answer(t, p, t0.Add(29*time.Second)), "a fresh answer is reused")
	require.EqualValues(t, 1, a.calls.Load())

	// Stale: the read answers at once with what there is, and one refresh runs.
	require.Equal(t, "1", answer(t, p, t0.Add(31*time.Second)))
	require.Equal(t, "1", answer(t, p, t0.Add(32*time.Second)))
	require.Eventually(t, func() bool { return answer(t, p, t0.Add(33*time.Second)) == "2" }, 5*time.Second, time.Millisecond)
	require.EqualValues(t, 2, a.calls.Load(), "one refresh, however many stale reads")

	// A refresh that fails keeps the last answer.
	a.fail.Store(true)
	require.Equal(t, "2", answer(t, p, t0.Add(70*time.Second)))
	require.Eventually(t, func() bool { return refreshErrs.Load() == 1 }, 5*time.Second, time.Millisecond)
	require.Equal(t, "2", answer(t, p, t0.Add(71*time.Second)))
}

func TestTheTaskProbesFirstAnswerIsAskedOnce(t *testing.T) {
	a := &probeAnswers{gate: make(chan struct{})}
	p := newTaskProbe(time.Minute, a.ask, nil)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	got := make([]string, 5)
	for i := range got {
		wg.Go(func() { got[i] = answer(t, p, now) })
	}
	require.Eventually(t, func() bool { return a.calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	close(a.gate)
	wg.Wait()
	require.Equal(t, []string{"1", "1", "1", "1", "1"}, got, "the reads that came meanwhile take the first answer")
	require.EqualValues(t, 1, a.calls.Load())
}

func TestTheReadsWaitingForAFirstAnswerThatFailedHaveItsError(t *testing.T) {
	a := &probeAnswers{gate: make(chan struct{})}
	a.fail.Store(true)
	p := newTaskProbe(time.Minute, a.ask, nil)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { _, errs[i] = p.failing(context.Background(), now) })
	}
	require.Eventually(t, func() bool { return a.calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	close(a.gate)
	wg.Wait()
	for _, err := range errs {
		require.Error(t, err, "no answer: every waiting read is told, none hangs")
	}
}

func TestTheTaskProbesFirstFailureIsTriedAgain(t *testing.T) {
	a := &probeAnswers{}
	a.fail.Store(true)
	p := newTaskProbe(time.Minute, a.ask, nil)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	_, err := p.failing(context.Background(), now)
	require.Error(t, err)
	a.fail.Store(false)
	require.Equal(t, "2", answer(t, p, now.Add(time.Second)), "no answer yet: the next read asks")
}

func TestTheTaskProbeAsksEveryTimeWhenEveryIsZero(t *testing.T) {
	a := &probeAnswers{}
	p := newTaskProbe(0, a.ask, nil)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	require.Equal(t, "1", answer(t, p, now))
	require.Equal(t, "2", answer(t, p, now))
}
