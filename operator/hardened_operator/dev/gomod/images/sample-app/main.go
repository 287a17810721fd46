// sample-app is the local node's test service: an HTTP server whose health endpoints can be
// made to fail, so tests can watch the kubelet's probes act on a real container.
//
//	GET /healthz  liveness:  200, or 500 while /tmp/unhealthy exists or LIVENESS_FAIL=1
//	GET /ready    readiness: 200, or 503 while /tmp/unready exists or READY_FAIL=1
//	GET /whoami   the process's uid, gid and groups, as text
//
// PORT (default 8080) is the port; STARTUP_DELAY_SECONDS delays listening (a slow start the
// startup probe must cover); CRASH=1 exits with status 1 at once (CrashLoopBackOff).
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func flagged(env, file string) bool {
	if os.Getenv(env) == "1" {
		return true
	}
	_, err := os.Stat(file)
	return err == nil
}

func main() {
	if os.Getenv("CRASH") == "1" {
		fmt.Fprintln(os.Stderr, "sample-app: CRASH=1, exiting with status 1")
		os.Exit(1)
	}
	if delay, err := strconv.Atoi(os.Getenv("STARTUP_DELAY_SECONDS")); err == nil && delay > 0 {
		fmt.Printf("sample-app: starting in %ds\n", delay)
		time.Sleep(time.Duration(delay) * time.Second)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if flagged("LIVENESS_FAIL", "/tmp/unhealthy") {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if flagged("READY_FAIL", "/tmp/unready") {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, _ *http.Request) {
		groups, _ := os.Getgroups()
		fmt.Fprintf(w, "uid=%d gid=%d groups=%v\n", os.Getuid(), os.Getgid(), groups)
	})
	server := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
		<-signals
		server.Close()
	}()
	fmt.Printf("sample-app: listening on :%s as uid %d\n", port, os.Getuid())
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
