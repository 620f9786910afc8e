// Command hello-service is the reference application of the stagex images:
// a small HTTP service with no dependency outside Go's standard library,
// built from source in stagex-base-go and run on stagex-base-static
// (examples/Dockerfile, examples/app.yaml, docker-bake.hcl group
// "examples").
//
//	GET /         {"service":"hello-service","message":"hello from stagex-base-static"}
//	GET /healthz  ok
//
// It listens on -addr (default :8080), logs to stderr, and stops cleanly on
// SIGTERM or SIGINT. The answers are fixed, so a test can compare them byte
// for byte.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// greeting is the answer of GET /.
type greeting struct {
	Service string `json:"service"`
	Message string `json:"message"`
}

var answer = greeting{Service: "hello-service", Message: "hello from stagex-base-static"}

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: routes(), ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("hello-service listening on %s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
