// The Go peer of the berth-sidecar benchmark: net/http serving the routes of
// examples/echo-daemon, stopped the classic way (SIGTERM -> readiness 503 -> optional
// pre-stop delay -> http.Server.Shutdown with a deadline). Standard library only.
//
//	bench-go-daemon -app 127.0.0.1:8080 -admin 127.0.0.1:9090 -pre-stop-delay 0s -drain-timeout 5s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const maxSlow = 120 * time.Second

type appState struct {
	mu       sync.RWMutex
	greeting string
}

func (s *appState) greet() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.greeting
}

func main() {
	appAddr := flag.String("app", "127.0.0.1:8080", "application address")
	adminAddr := flag.String("admin", "127.0.0.1:9090", "probe address")
	preStop := flag.Duration("pre-stop-delay", 0, "readiness 503 and keep serving this long after SIGTERM")
	drain := flag.Duration("drain-timeout", 5*time.Second, "deadline of Shutdown")
	flag.Parse()

	state := &appState{greeting: "echo"}
	var ready atomic.Bool

	app := http.NewServeMux()
	app.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "echo-daemon: try GET /echo?msg=hello or GET /slow?ms=500\n")
	})
	app.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", state.greet(), r.URL.Query().Get("msg"))
	})
	app.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.ParseUint(r.URL.Query().Get("ms"), 10, 64)
		d := min(time.Duration(ms)*time.Millisecond, maxSlow)
		time.Sleep(d)
		fmt.Fprintf(w, "slept %d ms", d.Milliseconds())
	})

	probe := func(ok func() bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if ok() {
				fmt.Fprint(w, "ok")
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "shutting down")
		}
	}
	always := func() bool { return true }
	admin := http.NewServeMux()
	admin.HandleFunc("GET /livez", probe(always))
	admin.HandleFunc("GET /startupz", probe(always))
	admin.HandleFunc("GET /readyz", probe(ready.Load))

	appSrv := &http.Server{Addr: *appAddr, Handler: app}
	adminSrv := &http.Server{Addr: *adminAddr, Handler: admin}
	errs := make(chan error, 2)
	for _, srv := range []*http.Server{appSrv, adminSrv} {
		go func(srv *http.Server) {
			if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}(srv)
	}
	ready.Store(true)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-errs:
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	case <-signals:
	}
	ready.Store(false)
	time.Sleep(*preStop)
	ctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	code := 0
	if err := appSrv.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "drain:", err)
		code = 124
	}
	_ = adminSrv.Close()
	os.Exit(code)
}
