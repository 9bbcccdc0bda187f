package api_test

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
)

// The API's server drops a client that sends its headers or its body too
// slowly (slowloris), and a keep-alive connection left idle; the defaults leave
// room for an action that waits 30 s for its workflow.
func TestTheServerTimesOutSlowAndIdleClients(t *testing.T) {
	cfg, err := config.Load("", func(string) string { return "" })
	require.NoError(t, err)
	d := cfg.HTTP
	require.Positive(t, d.ReadHeaderTimeout)
	require.Positive(t, d.ReadTimeout)
	require.Positive(t, d.IdleTimeout)
	require.GreaterOrEqual(t, d.WriteTimeout, 45*time.Second, "an action may wait 30 s for its workflow")
	srv := api.HTTPServer(cfg.HTTP, "", nil)
	require.Equal(t, []time.Duration{d.ReadHeaderTimeout, d.ReadTimeout, d.WriteTimeout, d.IdleTimeout},
		[]time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout})

	cfg.HTTP.ReadHeaderTimeout, cfg.HTTP.ReadTimeout, cfg.HTTP.IdleTimeout = 200*time.Millisecond, 400*time.Millisecond, 300*time.Millisecond
	h := api.New(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, nil, nil, codec.GenerateKeyRing()).Handler()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv = api.HTTPServer(cfg.HTTP, "", h)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	// closedWithin says whether the server closes the connection within d, while
	// the client sends nothing more.
	closedWithin := func(c net.Conn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		return err == nil // EOF: the server closed it; a deadline error: it did not
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	slowHeaders := dial()
	_, err = slowHeaders.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
	require.NoError(t, err)
	require.True(t, closedWithin(slowHeaders, 3*time.Second), "headers never finished")

	slowBody := dial()
	_, err = slowBody.Write([]byte("POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":"))
	require.NoError(t, err)
	require.True(t, closedWithin(slowBody, 3*time.Second), "a body that never finishes")

	idle := dial()
	_, err = idle.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(idle), nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.True(t, closedWithin(idle, 3*time.Second), "an idle keep-alive connection")

	// Against that, a connection the server keeps open is seen as open.
	open, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer func() { _ = open.Close() }()
	_ = open.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = open.Read(make([]byte, 1))
	require.True(t, errors.Is(err, os.ErrDeadlineExceeded), "a fresh connection is not closed at once: %v", err)
}
