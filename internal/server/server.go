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
	"net/netip"
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

// Config is one node's configuration; cmd/autohook fills it from flags and
// AUTOHOOK_* variables.
type Config struct {
	DataDir         string
	DatabaseURL     string // "" = SQLite in DataDir
	Listen          string
	BootstrapAPIKey string
	AdminPassword   string
	SecretKey       string
	// SecretKeyPrevious is the key being replaced during a key change
	// (AUTOHOOK_SECRET_KEY_PREVIOUS): values sealed with it still open.
	SecretKeyPrevious    string
	AllowPrivateNetworks bool
	AllowCIDRs           []netip.Prefix
	DenyHosts            []string
	MaxResponseBytes     int64
	MaxAttempts          int
	MaxWorkers           int
	MaxPerHost           int
	// MaxRunsPerOrg bounds one organisation's runs in flight on the node
	// (engine.Config.MaxPerOrg): 0 a fair share of MaxWorkers that adapts
	// to how many organisations are busy, N at most N, negative no bound.
	MaxRunsPerOrg int
	// HeaderTimeout and BodyIdleTimeout are Call API's time layers within
	// a step's timeout (webhook.Config); zero keeps their defaults.
	HeaderTimeout, BodyIdleTimeout time.Duration
	RateLimit                      float64 // API requests per second per key: 0 the default (100), negative none
	// MetricsToken, when set, is the Bearer token GET /metrics requires.
	MetricsToken string
	// SMTPURL and SMTPFrom: the relay and sender address of email alerts
	// (smtp://user:pass@host:587); without them email channels fail.
	SMTPURL  string
	SMTPFrom string
	// PublicURL is the address people reach the web UI at, for the links
	// alerts carry; "" uses http:// and the listen address.
	PublicURL string
	// TrustedProxies are reverse proxies (CIDRs) whose X-Forwarded-For
	// header names the client, for the per-address limits.
	TrustedProxies []netip.Prefix
	// LimitClock is the clock of the API's rate limits and of the sign-in
	// failure limit (tests); nil means time.Now.
	LimitClock func() time.Time
	DBConns    int
	Version    string
	Logger     *slog.Logger
	// Out receives the lines meant for the person who started the server
	// (how to reach it, the generated key); nil means os.Stdout.
	Out io.Writer
	// Retry overrides the retry schedule (tests); nil keeps the default.
	Retry *retry.Policy
	// Retention is how long run history is kept; default 30 days.
	Retention time.Duration
	// PruneEvery is how often history is pruned; default 10 min.
	PruneEvery time.Duration
	// DueInterval is how often due triggers are scanned; default 1 s.
	DueInterval time.Duration
	// RescueAfter is how long a job may stay running before another node
	// takes it over (its node died); default 2 min 50 s. Shorter also cuts
	// the longest a job may run (RescueAfter - 10 s), and so steps with
	// longer timeouts.
	RescueAfter time.Duration
	// Observer also receives what the engine observes (the bench uses it);
	// nil for none.
	Observer engine.Metrics
}

// Node is a running Autohook node.
type Node struct {
	Addr    string // the address it listens on
	Service *service.Service
	Store   *store.Store
	Engine  *engine.Engine
	Metrics *metrics.Metrics
	Firer   *trigger.Firer // which runs record changes fire

	cfg         Config
	shutdown    sync.Once
	shutdownErr error
	bgStop      context.CancelFunc
	bg          sync.WaitGroup
	lock        *os.File
	listener    net.Listener
	http        *http.Server
}

// DefaultListen is where a node listens unless told otherwise.
const DefaultListen = "127.0.0.1:8080"

// Start builds a node and starts it: queue workers and HTTP server. Stop it
// with Shutdown.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "autohook-data"
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	log := cfg.Logger
	node := &Node{cfg: cfg}
	n = node
	defer func() {
		if err != nil {
			// n is nil here (every error return sets it): close node.
			node.close(context.WithoutCancel(ctx))
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	url := databaseURL(cfg.DataDir, cfg.DatabaseURL)
	// One data dir belongs to one process: with SQLite, one file has one
	// writer; on PostgreSQL, the node id kept in the data dir names one
	// process. Jobs left running by this node's previous process can then be
	// resumed at once, safely.
	if node.lock, err = lockDir(cfg.DataDir); err != nil {
		return nil, err
	}
	nodeID, err := loadNodeID(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	key, generated, err := secret.LoadKey(cfg.DataDir, cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if generated {
		log.Info("generated the key that encrypts secrets at rest", "file", filepath.Join(cfg.DataDir, secret.KeyFile))
	}
	box, err := newBox(key, cfg.SecretKeyPrevious)
	if err != nil {
		return nil, err
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	workers := river.NewWorkers()
	n.Store, err = store.Open(ctx, store.Config{
		URL:          url,
		Workers:      workers,
		PeriodicJobs: []*river.PeriodicJob{prunePeriodically(cfg.PruneEvery)},
		Queue:        store.QueueConfig{MaxWorkers: cfg.MaxWorkers, RescueAfter: cfg.RescueAfter, JobTimeout: jobTimeout(cfg.RescueAfter)},
		NodeID:       nodeID,
		MaxConns:     cfg.DBConns,
		Logger:       log.With("component", "queue"),
	})
	if err != nil {
		return nil, err
	}
	keys, err := keyring.Check(ctx, n.Store, box)
	if err != nil {
		return nil, wrongKey(cfg, generated, err)
	}
	cat := catalog.New(n.Store, box, automation.Options{}, n.Store.Kind() == "postgres")
	fire := trigger.New(cat, log)
	n.Firer = fire
	n.Metrics = metrics.New(n.Store, log)
	fire.Skipped = n.Metrics.ConditionFalse
	policy := &egress.Policy{AllowPrivate: cfg.AllowPrivateNetworks, Allow: cfg.AllowCIDRs, DenyHosts: cfg.DenyHosts}
	web := webhook.New(webhook.Config{Policy: policy, MaxResponseBytes: cfg.MaxResponseBytes, UserAgent: "Autohook/" + cfg.Version, MaxPerHost: cfg.MaxPerHost,
		HeaderTimeout: cfg.HeaderTimeout, BodyIdleTimeout: cfg.BodyIdleTimeout})
	var observer engine.Metrics = n.Metrics
	if cfg.Observer != nil {
		observer = tee{n.Metrics, cfg.Observer}
	}
	ecfg := engine.Config{MaxInFlight: cfg.MaxWorkers, MaxPerOrg: cfg.MaxRunsPerOrg, DefaultMaxAttempts: cfg.MaxAttempts, Logger: log, Metrics: observer}
	if cfg.Retry != nil {
		ecfg.Retry = *cfg.Retry
	}
	n.Engine = engine.New(n.Store, cat, fire, web, box, ecfg)
	n.Engine.Register(workers)
	alerts := alert.New(alert.Config{Store: n.Store, Policy: policy, SMTPURL: cfg.SMTPURL, SMTPFrom: cfg.SMTPFrom, BaseURL: cfg.PublicURL,
		UserAgent: "Autohook/" + cfg.Version, Metrics: n.Metrics, Logger: log.With("component", "alerts")})
	alerts.Register(workers)
	river.AddWorker(workers, &pruner{st: n.Store, retention: cfg.Retention, now: time.Now, log: log, batch: 1000, budget: pruneBudget})
	n.Service = service.New(service.Config{Store: n.Store, Catalog: cat, Firer: fire, Engine: n.Engine, Box: box, Keys: keys, Logger: log})

	boot, err := n.Service.Bootstrap(ctx, cfg.BootstrapAPIKey, cfg.AdminPassword)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	resumed, err := n.Store.ResumeOrphanedJobs(ctx, nodeID)
	if err != nil {
		return nil, err
	}
	if resumed > 0 {
		log.Info("resuming runs interrupted by the previous stop", "jobs", resumed)
	}
	if err := n.Store.Start(ctx); err != nil {
		return nil, fmt.Errorf("start queue: %w", err)
	}
	if cfg.DueInterval <= 0 {
		cfg.DueInterval = time.Second
	}
	bgCtx, bgStop := context.WithCancel(context.WithoutCancel(ctx))
	n.bgStop = bgStop
	scanner := trigger.NewScanner(n.Store, fire, cat, time.Now, log)
	n.bg.Go(func() { scanner.Run(bgCtx, cfg.DueInterval) })
	st, eng := n.Store, n.Engine // not n: Start's result, which a failed start sets to nil
	n.bg.Go(func() { resumeLostJobs(bgCtx, st, eng, nodeID, log) })

	mux := http.NewServeMux()
	api := httpapi.New(httpapi.Config{Service: n.Service, Logger: log, RateLimit: cfg.RateLimit, TrustedProxies: cfg.TrustedProxies, Now: cfg.LimitClock})
	api.Register(mux)
	ui := webui.New(webui.Config{Service: n.Service, Logger: log, TrustedProxies: cfg.TrustedProxies, Now: cfg.LimitClock})
	ui.Register(mux)
	mux.Handle("GET /metrics", requireToken(cfg.MetricsToken, n.Metrics.Handler()))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := n.Store.Ready(ctx); err != nil {
			w.Header().Set("Retry-After", strconv.Itoa(int(autohook.RetryAfter.Seconds())))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, `{"status":"unavailable","reason":%q}`+"\n", err.Error())
			return
		}
		_, _ = io.WriteString(w, `{"status":"ready"}`+"\n")
	})
	n.listener, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	n.Addr = n.listener.Addr().String()
	web.SetSelf([]string{n.Addr}) // compared with the address every request is about to connect to
	alerts.SetBaseURL("http://" + n.Addr)
	n.http = &http.Server{
		Handler:           recoverPanics(mux, log, api.Panicked, ui.Panicked),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      150 * time.Second, // a dry run may wait for a step's 120 s
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := n.http.Serve(n.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
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
	return n, nil
}

// Shutdown stops taking requests, lets jobs in flight finish (up to ctx's
// deadline), and closes the database. Calling it again does nothing.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdown.Do(func() {
		var errs []error
		if n.http != nil {
			errs = append(errs, n.http.Shutdown(ctx))
		}
		errs = append(errs, n.close(ctx))
		n.shutdownErr = errors.Join(errs...)
	})
	return n.shutdownErr
}

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
