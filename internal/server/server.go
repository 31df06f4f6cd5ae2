// Package server builds and runs one Autohook node: it locks the data dir,
// opens the store, starts the engine and the HTTP server, and bootstraps the
// first organisation. Run is what `autohook serve` and the end-to-end tests
// call.
package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/alert"
	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/egress"
	"github.com/autohook/autohook/internal/engine"
	"github.com/autohook/autohook/internal/httpapi"
	"github.com/autohook/autohook/internal/keyring"
	"github.com/autohook/autohook/internal/metrics"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/service"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
	"github.com/autohook/autohook/internal/webhook"
	"github.com/autohook/autohook/internal/webui"
)

// Node is a running Autohook node.
type Node struct {
	Addr    string // the address it listens on
	Service *service.Service
	Store   *store.Store
	Engine  *engine.Engine
	Metrics *metrics.Metrics
	Firer   *trigger.Firer // which runs record changes fire

	cfg         Config // with its defaults
	log         *slog.Logger
	nodeID      string
	box         *secret.Box
	keys        *keyring.Keyring
	workers     *river.Workers
	web         *webhook.Client
	alerts      *alert.Sender
	scanner     *trigger.Scanner
	shutdown    sync.Once
	shutdownErr error
	bgStop      context.CancelFunc
	bg          sync.WaitGroup // the due scanner and the lost-jobs sweep
	lock        *os.File
	listener    net.Listener
	http        *http.Server
	serving     sync.WaitGroup // http.Serve
	handling    inflight       // requests under way (Shutdown waits for them)
}

// Start builds a node and starts it, in steps: settings (defaults and
// checks), storage (data dir, key, database), wiring (the engine and the
// services over the store), background work (the queue, the due scanner,
// the lost-jobs sweep), HTTP, and the lines for the person who started it.
// A step that fails undoes the ones before. Stop the node with Shutdown.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger}
	if err := n.start(ctx); err != nil {
		n.close(context.WithoutCancel(ctx))
		return nil, err
	}
	return n, nil
}

// start runs Start's steps on n, whose close undoes what they did.
func (n *Node) start(ctx context.Context) error {
	if err := n.openStore(ctx); err != nil {
		return err
	}
	n.wire()
	boot, err := n.Service.Bootstrap(ctx, n.cfg.BootstrapAPIKey, n.cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := n.startWork(ctx); err != nil {
		return err
	}
	if err := n.serve(); err != nil {
		return err
	}
	n.banner(boot)
	return nil
}

// openStore locks the data dir, loads the node id and the secret key, and
// opens the store (migrated, its queue not yet working).
func (n *Node) openStore(ctx context.Context) error {
	cfg := n.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// One data dir belongs to one process: with SQLite, one file has one
	// writer; on PostgreSQL, the node id kept in the data dir names one
	// process. Jobs left running by this node's previous process can then be
	// resumed at once, safely.
	var err error
	if n.lock, err = lockDir(cfg.DataDir); err != nil {
		return err
	}
	if n.nodeID, err = loadNodeID(cfg.DataDir); err != nil {
		return err
	}
	key, generated, err := secret.LoadKey(cfg.DataDir, cfg.SecretKey)
	if err != nil {
		return fmt.Errorf("secret key: %w", err)
	}
	if generated {
		n.log.Info("generated the key that encrypts secrets at rest", "file", filepath.Join(cfg.DataDir, secret.KeyFile))
	}
	if n.box, err = newBox(key, cfg.SecretKeyPrevious); err != nil {
		return err
	}
	n.workers = river.NewWorkers()
	n.Store, err = store.Open(ctx, store.Config{
		URL:          databaseURL(cfg.DataDir, cfg.DatabaseURL),
		Workers:      n.workers,
		PeriodicJobs: []*river.PeriodicJob{prunePeriodically(cfg.PruneEvery)},
		Queue:        store.QueueConfig{MaxWorkers: cfg.MaxWorkers, RescueAfter: cfg.RescueAfter, JobTimeout: jobTimeout(cfg.RescueAfter)},
		NodeID:       n.nodeID,
		MaxConns:     cfg.DBConns,
		Logger:       n.log.With("component", "queue"),
	})
	if err != nil {
		return err
	}
	if n.keys, err = keyring.Check(ctx, n.Store, n.box); err != nil {
		return wrongKey(cfg, generated, err)
	}
	return nil
}

// wire builds what runs over the store: catalog, triggers, metrics, Call
// API, the engine (its workers registered) and the services.
func (n *Node) wire() {
	cfg, log := n.cfg, n.log
	cat := catalog.New(n.Store, n.box, automation.Options{}, n.Store.Kind() == "postgres")
	fire := trigger.New(cat, log)
	n.Firer = fire
	n.Metrics = metrics.New(n.Store, log)
	fire.Skipped = n.Metrics.ConditionFalse
	policy := &egress.Policy{AllowPrivate: cfg.AllowPrivateNetworks, Allow: cfg.AllowCIDRs, DenyHosts: cfg.DenyHosts}
	n.web = webhook.New(webhook.Config{Policy: policy, MaxResponseBytes: cfg.MaxResponseBytes, UserAgent: "Autohook/" + cfg.Version, MaxPerHost: cfg.MaxPerHost,
		HeaderTimeout: cfg.HeaderTimeout, BodyIdleTimeout: cfg.BodyIdleTimeout})
	var observer engine.Metrics = n.Metrics
	if cfg.Observer != nil {
		observer = tee{n.Metrics, cfg.Observer}
	}
	ecfg := engine.Config{MaxInFlight: cfg.MaxWorkers, MaxPerOrg: cfg.MaxRunsPerOrg, DefaultMaxAttempts: cfg.MaxAttempts, Logger: log, Metrics: observer}
	if cfg.Retry != nil {
		ecfg.Retry = *cfg.Retry
	}
	n.Engine = engine.New(n.Store, cat, fire, n.web, n.box, ecfg)
	n.Engine.Register(n.workers)
	river.AddWorker(n.workers, &pruner{st: n.Store, retention: cfg.Retention, now: time.Now, log: log, batch: 1000, budget: pruneBudget})
	n.Service = service.New(service.Config{Store: n.Store, Catalog: cat, Firer: fire, Engine: n.Engine, Box: n.box, Keys: n.keys, Logger: log, SessionTTL: cfg.SessionTTL})
	n.alerts = alert.New(alert.Config{Store: n.Store, Policy: policy, SMTPURL: cfg.SMTPURL, SMTPFrom: cfg.SMTPFrom, BaseURL: cfg.PublicURL,
		UserAgent: "Autohook/" + cfg.Version, Metrics: n.Metrics, Logger: log.With("component", "alerts")})
	n.alerts.Register(n.workers)
	n.scanner = trigger.NewScanner(n.Store, fire, cat, time.Now, log)
}

// startWork resumes the jobs the previous process left running, starts
// the queue, and the background loops (the due scanner, the lost-jobs
// sweep), which close stops and waits for before the store closes.
func (n *Node) startWork(ctx context.Context) error {
	resumed, err := n.Store.ResumeOrphanedJobs(ctx, n.nodeID)
	if err != nil {
		return err
	}
	if resumed > 0 {
		n.log.Info("resuming runs interrupted by the previous stop", "jobs", resumed)
	}
	if err := n.Store.Start(ctx); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	bgCtx, bgStop := context.WithCancel(context.WithoutCancel(ctx))
	n.bgStop = bgStop
	st, eng, scanner, nodeID, log, every := n.Store, n.Engine, n.scanner, n.nodeID, n.log, n.cfg.DueInterval
	n.bg.Go(func() { scanner.Run(bgCtx, every) })
	n.bg.Go(func() { resumeLostJobs(bgCtx, st, eng, nodeID, log) })
	return nil
}

// serve listens and serves the API, the UI, /metrics and the health
// checks.
func (n *Node) serve() error {
	cfg, log := n.cfg, n.log
	mux := http.NewServeMux()
	api := httpapi.New(httpapi.Config{Service: n.Service, Logger: log, RateLimit: cfg.RateLimit, TrustedProxies: cfg.TrustedProxies, Now: cfg.LimitClock, PublicURL: cfg.PublicURL})
	api.Register(mux)
	ui := webui.New(webui.Config{Service: n.Service, Logger: log, TrustedProxies: cfg.TrustedProxies, Now: cfg.LimitClock, PublicURL: cfg.PublicURL})
	ui.Register(mux)
	mux.Handle("GET /metrics", requireToken(cfg.MetricsToken, n.Metrics.Handler()))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	st := n.Store
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := st.Ready(ctx); err != nil {
			w.Header().Set("Retry-After", strconv.Itoa(int(autohook.RetryAfter.Seconds())))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, `{"status":"unavailable","reason":%q}`+"\n", err.Error())
			return
		}
		_, _ = io.WriteString(w, `{"status":"ready"}`+"\n")
	})
	var err error
	n.listener, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	n.Addr = n.listener.Addr().String()
	n.web.SetSelf([]string{n.Addr}) // compared with the address every request is about to connect to
	n.alerts.SetBaseURL("http://" + n.Addr)
	n.http = &http.Server{
		Handler:           n.counted(recoverPanics(mux, log, api.Panicked, ui.Panicked)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      150 * time.Second, // a dry run may wait for a step's 120 s
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv, l := n.http, n.listener
	n.serving.Go(func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	})
	return nil
}

// counted counts the requests under way, for Shutdown.
func (n *Node) counted(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.handling.add(1)
		defer n.handling.add(-1)
		h.ServeHTTP(w, r)
	})
}

// inflight counts requests under way. Not a sync.WaitGroup: requests
// arrive while Shutdown waits (a connection accepted just before the
// listener closed), and a WaitGroup's Add from zero must not race its Wait.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero *sync.Cond
}

func (f *inflight) add(d int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n += d
	if f.n == 0 && f.zero != nil {
		f.zero.Broadcast()
	}
}

// wait returns once no request is under way.
func (f *inflight) wait() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.zero == nil {
		f.zero = sync.NewCond(&f.mu)
	}
	for f.n > 0 {
		f.zero.Wait()
	}
}

// banner tells the person who started the node how to reach it (and, on
// the first start, the keys it made).
func (n *Node) banner(boot *service.Bootstrapped) {
	cfg := n.cfg
	base := "http://" + n.Addr
	if boot != nil {
		fmt.Fprintf(cfg.Out, "First start: created organisation %q.\n", boot.Organisation.Name)
		if boot.KeyGenerated {
			fmt.Fprintf(cfg.Out, "Instance admin API key (shown once, keep it): %s\n", boot.APIKey)
		} else {
			fmt.Fprintf(cfg.Out, "Instance admin API key: the value of AUTOHOOK_BOOTSTRAP_API_KEY\n")
		}
		if boot.PasswordGenerated {
			fmt.Fprintf(cfg.Out, "Web UI: sign in at %s/login as %q with password %s (shown once)\n", base, boot.AdminLogin, boot.AdminPassword)
		} else {
			fmt.Fprintf(cfg.Out, "Web UI: sign in at %s/login as %q with the password of AUTOHOOK_ADMIN_PASSWORD\n", base, boot.AdminLogin)
		}
		fmt.Fprintf(cfg.Out, "Try: curl -H 'Authorization: Bearer <key>' %s/api/v1/collections\n", base)
	}
	fmt.Fprintf(cfg.Out, "autohook %s ready on %s (database: %s, data dir: %s)\n", cfg.Version, base, n.Store.Kind(), cfg.DataDir)
}

// Shutdown stops the node, in the reverse order of Start: it stops taking
// requests (waiting for those under way), stops the due scanner and the
// lost-jobs sweep (waiting for them), lets jobs in flight finish, stops the
// store's own goroutines (waiting for them too) and only then closes the
// database and releases the data dir. ctx bounds the waits for requests and
// jobs; a job still running when it ends is cancelled, and resumed by the
// node's next start. Calling it again does nothing and returns the same.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdown.Do(func() {
		var errs []error
		if n.http != nil {
			if err := n.http.Shutdown(ctx); err != nil {
				// Out of time: close the connections, which cancels the
				// requests still under way, and wait for their handlers
				// all the same, so that none uses the store once closed.
				errs = append(errs, err, n.http.Close())
			}
			n.serving.Wait()
			n.handling.wait()
		}
		errs = append(errs, n.close(ctx))
		n.shutdownErr = errors.Join(errs...)
	})
	return n.shutdownErr
}

// close undoes what Start did, whichever step it reached (all but HTTP,
// which Shutdown stops).
func (n *Node) close(ctx context.Context) error {
	if n.bgStop != nil {
		n.bgStop()
		n.bg.Wait()
	}
	var errs []error
	if n.listener != nil && n.http == nil {
		errs = append(errs, n.listener.Close())
	}
	if n.Store != nil {
		errs = append(errs, n.Store.Close(ctx))
	}
	if n.web != nil {
		n.web.CloseIdleConnections() // no job is left to send a request
	}
	if n.lock != nil {
		errs = append(errs, n.lock.Close())
	}
	return errors.Join(errs...)
}

// Run starts a node and runs it until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	n, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return n.Shutdown(shutdownCtx)
}

// newBox returns the Box of the node's key and, during a key change, the
// previous key.
func newBox(key []byte, previous string) (*secret.Box, error) {
	var others [][]byte
	if previous != "" {
		prev, err := secret.ParseKey(previous)
		if err != nil {
			return nil, fmt.Errorf("AUTOHOOK_SECRET_KEY_PREVIOUS: %w", err)
		}
		others = append(others, prev)
	}
	box, err := secret.NewBox(key, others...)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return box, nil
}

// wrongKey explains a failed key check: which key was wrong, and what to
// do. A key file generated by this very start is removed (it sealed
// nothing), so that the next start does not find a wrong key in place.
func wrongKey(cfg Config, generated bool, err error) error {
	if !errors.Is(err, keyring.ErrWrongKey) {
		return err
	}
	file := filepath.Join(cfg.DataDir, secret.KeyFile)
	var which string
	switch {
	case cfg.SecretKey != "":
		which = "AUTOHOOK_SECRET_KEY"
	case generated:
		_ = os.Remove(file)
		which = "a newly generated key (AUTOHOOK_SECRET_KEY is empty and the data dir had no " + secret.KeyFile + ")"
	default:
		which = "the key in " + file
	}
	if cfg.SecretKeyPrevious != "" {
		which += " (nor AUTOHOOK_SECRET_KEY_PREVIOUS)"
	}
	return fmt.Errorf("wrong secret key: %s is not the key this database's secrets are sealed with (%v). "+
		"Start this node with the key the database was used with: the other nodes' AUTOHOOK_SECRET_KEY, or the %s of the data dir that created it (keep it with every backup). "+
		"To change keys, see docs/OPERATIONS.md, \"Keys\" (autohook rotate-key)", which, strings.TrimPrefix(err.Error(), keyring.ErrWrongKey.Error()+": "), secret.KeyFile)
}

// lostJobsEvery is how often a node looks for jobs the database holds as
// running for it that it is not working, and lostJobsAfter how old such a
// job must be (see store.ResumeLostJobs).
const (
	lostJobsEvery = 10 * time.Second
	lostJobsAfter = 10 * time.Second
)

// resumeLostJobs makes the node's lost jobs available again, every
// lostJobsEvery, until ctx ends. A database connection that drops as the
// queue fetches jobs loses the answer while the database marks them
// running: without this they would wait for River's rescuer (RescueAfter,
// about 3 minutes).
func resumeLostJobs(ctx context.Context, st *store.Store, eng *engine.Engine, nodeID string, log *slog.Logger) {
	t := time.NewTicker(lostJobsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := st.ResumeLostJobs(ctx, nodeID, lostJobsAfter, eng.WorkingJobs())
		switch {
		case err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrUnavailable):
			log.WarnContext(ctx, "resume lost jobs", "err", err)
		case n > 0:
			log.InfoContext(ctx, "resumed jobs this node had lost (the database connection dropped as they were fetched or finished)", "jobs", n)
		}
	}
}

// jobTimeout is the queue's job timeout for a rescue window: 10 s less,
// so a job is cancelled before another node may take it over.
func jobTimeout(rescueAfter time.Duration) time.Duration {
	if rescueAfter <= 0 {
		return 0 // the store's default
	}
	return max(rescueAfter-10*time.Second, 5*time.Second)
}

// loadNodeID returns the node's id, kept in the data dir (made on first
// start).
func loadNodeID(dir string) (string, error) {
	path := filepath.Join(dir, "node.id")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("node id: %w", err)
	}
	host, _ := os.Hostname()
	id := fmt.Sprintf("autohook-%.40s-%s", host, rand.Text()[:10]) // River allows 100 characters
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return id, nil
}

// recoverPanics turns a panic in a handler into a logged 500, so that no
// request can take the process down. It is answered as the part of the
// site that panicked answers its errors: api (the JSON envelope) under
// /api/, ui (a page, or JSON for the UI's script) elsewhere.
func recoverPanics(h http.Handler, log *slog.Logger, api, ui http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if strings.HasPrefix(r.URL.Path, "/api/") {
					api(w, r)
				} else {
					ui(w, r)
				}
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// lockDir takes an exclusive lock on the data dir, refusing a second
// process on the same SQLite file.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "autohook.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another autohook process (%w); one SQLite data dir serves one process — use PostgreSQL for several nodes", dir, err)
	}
	return f, nil
}

// tee sends what the engine observes to two observers.
type tee [2]engine.Metrics

func (t tee) RunStarted() {
	t[0].RunStarted()
	t[1].RunStarted()
}

func (t tee) RunFinished(s automation.Status) {
	t[0].RunFinished(s)
	t[1].RunFinished(s)
}

func (t tee) RunFailed(c retry.Class) {
	t[0].RunFailed(c)
	t[1].RunFailed(c)
}

func (t tee) AutomationPaused() {
	t[0].AutomationPaused()
	t[1].AutomationPaused()
}

func (t tee) RunRetrying() {
	t[0].RunRetrying()
	t[1].RunRetrying()
}

func (t tee) Attempt(c retry.Class, d time.Duration) {
	t[0].Attempt(c, d)
	t[1].Attempt(c, d)
}

func (t tee) FirstRequest(d time.Duration) {
	t[0].FirstRequest(d)
	t[1].FirstRequest(d)
}

// CopyDataDir copies the SQLite database of a data dir into an empty
// PostgreSQL database (see store.Copy). It takes the data dir's lock, so it
// refuses while a server is using it.
func CopyDataDir(ctx context.Context, dataDir, pgURL string, progress func(table string, rows int)) (map[string]int, error) {
	lock, err := lockDir(dataDir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	dbPath := filepath.Join(dataDir, "autohook.db")
	if _, err := os.Stat(dbPath); err != nil {
		return nil, fmt.Errorf("no Autohook database in %s: %w", dataDir, err)
	}
	src, err := store.Open(ctx, store.Config{URL: "sqlite:" + dbPath})
	if err != nil {
		return nil, err
	}
	defer src.Close(context.WithoutCancel(ctx))
	dst, err := store.Open(ctx, store.Config{URL: pgURL})
	if err != nil {
		return nil, err
	}
	defer dst.Close(context.WithoutCancel(ctx))
	return store.Copy(ctx, src, dst, progress)
}

// requireToken guards h with a Bearer token; an empty token guards nothing.
func requireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="autohook metrics"`)
			http.Error(w, "send the metrics token as Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
