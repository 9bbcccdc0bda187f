package api

import (
	"net/http"

	"github.com/homeward/homeward/config"
)

// HTTPServer is the http.Server for a Homeward handler at addr, with every
// timeout set (http.*_timeout): a client that sends its headers or body slowly,
// or keeps a connection open doing nothing, holds no connection for long. The
// write timeout leaves room for the longest request, an action that waits up to
// 30 s for the case's workflow to answer.
func HTTPServer(cfg config.HTTP, addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout}
}
