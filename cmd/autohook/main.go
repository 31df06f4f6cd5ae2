// Command autohook runs the Autohook automation engine.
//
//	autohook serve       run a node (API, web UI, queue workers)
//	autohook bench       measure the engine end to end on this machine
//	autohook copy        copy a SQLite data dir into PostgreSQL
//	autohook backup      write a consistent copy of a SQLite database, also while it serves
//	autohook rotate-key  seal every secret again with a new key, while nodes serve
//	autohook export      write an organisation's collections and automations (a server's API)
//	autohook apply       make them what a file says, with a plan (a server's API)
//	autohook version     print the version
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/bench"
	"github.com/autohook/autohook/internal/engine"
	"github.com/autohook/autohook/internal/httpapi"
	"github.com/autohook/autohook/internal/keyring"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/webhook"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var status exitStatus
		if errors.As(err, &status) {
			os.Exit(int(status))
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "autohook:", err)
		}
		os.Exit(1)
	}
}

const usage = `Usage: autohook <command> [flags]

Commands:
  serve       run an Autohook node: the API, the web UI and the queue workers
  bench       measure the engine end to end on this machine
  copy        copy a SQLite data dir into an empty PostgreSQL database
  backup      write a consistent copy of a SQLite database, also while serve runs
  rotate-key  seal every secret and signing secret again with a new key, while nodes serve
  export      write an organisation's collections and automations as JSON
  apply       apply such a file to a server, showing the plan (--plan: only show it)
  version     print the version

Run 'autohook <command> -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if os.Getenv("GOGC") == "" {
		// The engine allocates short-lived request and row buffers at a high
		// rate; collecting at 200 % growth instead of 100 % gave 10–15 %
		// more throughput for about 20 % more peak memory (docs/PERFORMANCE.md).
		debug.SetGCPercent(200)
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "copy":
		return runCopy(ctx, args[1:], stdout, stderr)
	case "export":
		return runExport(ctx, args[1:], stdout, stderr)
	case "apply":
		return runApply(ctx, args[1:], stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], stdout, stderr)
	case "rotate-key":
		return runRotateKey(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "autohook", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// env returns the value of an AUTOHOOK_* variable, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envBool(name string) bool {
	b, _ := strconv.ParseBool(os.Getenv(name))
	return b
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// serveFlags are serve's flags that need work before they become Config
// fields.
type serveFlags struct {
	allowCIDRs, proxies, denyHosts string
	logLevel, logFormat            string
	schedule                       string
	rateLimit                      *float64
}

// newServeFlags defines serve's flags, each defaulting to its AUTOHOOK_*
// variable, or else to the constant Config's default comes from
// (docs/OPERATIONS.md, "Settings", lists them; TestSettingsTable checks it).
func newServeFlags(cfg *server.Config, stderr io.Writer) (*flag.FlagSet, *serveFlags) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o serveFlags
	fs.StringVar(&cfg.DataDir, "data-dir", env("AUTOHOOK_DATA_DIR", server.DefaultDataDir), "where the SQLite file and generated keys live (AUTOHOOK_DATA_DIR)")
	fs.StringVar(&cfg.DatabaseURL, "database", env("AUTOHOOK_DATABASE_URL", ""), "sqlite:PATH or postgres://... (AUTOHOOK_DATABASE_URL); default: SQLite in the data dir")
	fs.StringVar(&cfg.Listen, "listen", env("AUTOHOOK_LISTEN", server.DefaultListen), "address of the API and UI (AUTOHOOK_LISTEN)")
	fs.BoolVar(&cfg.AllowPrivateNetworks, "allow-private-networks", envBool("AUTOHOOK_ALLOW_PRIVATE_NETWORKS"), "let Call API reach loopback and private addresses (AUTOHOOK_ALLOW_PRIVATE_NETWORKS)")
	fs.StringVar(&o.allowCIDRs, "allow-cidrs", env("AUTOHOOK_ALLOW_CIDRS", ""), "comma-separated CIDRs Call API may reach even though private (AUTOHOOK_ALLOW_CIDRS)")
	fs.StringVar(&o.denyHosts, "deny-hosts", env("AUTOHOOK_DENY_HOSTS", ""), "comma-separated host names Call API must never reach, '*.example.com' allowed (AUTOHOOK_DENY_HOSTS)")
	fs.Int64Var(&cfg.MaxResponseBytes, "max-response-bytes", int64(envInt("AUTOHOOK_MAX_RESPONSE_BYTES", webhook.DefaultMaxResponseBytes)), "how much of a response body Call API reads (AUTOHOOK_MAX_RESPONSE_BYTES)")
	fs.IntVar(&cfg.MaxAttempts, "max-attempts", envInt("AUTOHOOK_MAX_ATTEMPTS", engine.DefaultMaxAttempts), "default attempts per step, server-wide (AUTOHOOK_MAX_ATTEMPTS)")
	fs.IntVar(&cfg.MaxWorkers, "max-workers", envInt("AUTOHOOK_MAX_WORKERS", store.DefaultMaxWorkers), "runs in flight on this node (AUTOHOOK_MAX_WORKERS)")
	fs.IntVar(&cfg.MaxPerHost, "max-per-host", envInt("AUTOHOOK_MAX_PER_HOST", webhook.DefaultMaxPerHost), "requests in flight from one organisation to one destination host, all ports (AUTOHOOK_MAX_PER_HOST)")
	fs.IntVar(&cfg.MaxRunsPerOrg, "max-runs-per-org", envInt("AUTOHOOK_MAX_RUNS_PER_ORG", 0), "runs of one organisation in flight on this node: 0 a fair share of --max-workers (nine tenths, divided among the busy organisations), N at most N, -1 no bound (AUTOHOOK_MAX_RUNS_PER_ORG)")
	fs.DurationVar(&cfg.HeaderTimeout, "header-timeout", envDuration("AUTOHOOK_HEADER_TIMEOUT", 0), "Call API: longest wait for response headers after sending, within the step's timeout (AUTOHOOK_HEADER_TIMEOUT; default: the step's timeout)")
	fs.DurationVar(&cfg.BodyIdleTimeout, "body-idle-timeout", envDuration("AUTOHOOK_BODY_IDLE_TIMEOUT", webhook.DefaultBodyIdleTimeout), "Call API: longest pause while reading a response body, within the step's timeout (AUTOHOOK_BODY_IDLE_TIMEOUT)")
	o.rateLimit = fs.Float64("rate-limit", envFloat("AUTOHOOK_RATE_LIMIT", httpapi.DefaultRateLimit), "API requests per second per key, 0 for no limit (AUTOHOOK_RATE_LIMIT)")
	fs.StringVar(&o.proxies, "trusted-proxies", env("AUTOHOOK_TRUSTED_PROXIES", ""), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client, for the failed sign-in and API key limits (AUTOHOOK_TRUSTED_PROXIES)")
	fs.StringVar(&cfg.SMTPURL, "smtp-url", env("AUTOHOOK_SMTP_URL", ""), "SMTP relay of email alerts: smtp://user:pass@host:587 (STARTTLS when offered) or smtps://...:465 (AUTOHOOK_SMTP_URL)")
	fs.StringVar(&cfg.SMTPFrom, "smtp-from", env("AUTOHOOK_SMTP_FROM", ""), "sender address of email alerts (AUTOHOOK_SMTP_FROM)")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", env("AUTOHOOK_METRICS_TOKEN", ""), "Bearer token that GET /metrics requires; empty leaves it open (AUTOHOOK_METRICS_TOKEN)")
	fs.IntVar(&cfg.DBConns, "db-conns", envInt("AUTOHOOK_DB_CONNS", 0), "database connections: SQLite readers, or the PostgreSQL pool (AUTOHOOK_DB_CONNS)")
	fs.DurationVar(&cfg.RescueAfter, "rescue-after", envDuration("AUTOHOOK_RESCUE_AFTER", store.DefaultRescueAfter), "how long a job may run before another node takes it over (AUTOHOOK_RESCUE_AFTER; shorter also cuts step timeouts to it minus 10s)")
	fs.DurationVar(&cfg.Retention, "retention", envDuration("AUTOHOOK_RETENTION", server.DefaultRetention), "how long run history, the audit log and delivered alerts are kept (AUTOHOOK_RETENTION)")
	fs.DurationVar(&cfg.SessionTTL, "session-lifetime", envDuration("AUTOHOOK_SESSION_LIFETIME", autohook.SessionTTL), "how long a web UI sign-in lasts (AUTOHOOK_SESSION_LIFETIME)")
	fs.StringVar(&cfg.PublicURL, "public-url", env("AUTOHOOK_PUBLIC_URL", ""), "where people reach this server, e.g. https://autohook.example.com, for invitation URLs and the links in alerts (AUTOHOOK_PUBLIC_URL; default: invitations use the host each request was sent to, alerts http:// and the listen address)")
	fs.StringVar(&o.schedule, "retry-schedule", env("AUTOHOOK_RETRY_SCHEDULE", ""), "waits before a failed step's next attempts, comma-separated, the last repeating, e.g. 10s,30s,2m (AUTOHOOK_RETRY_SCHEDULE; default "+scheduleText(retry.DefaultSchedule)+")")
	fs.StringVar(&o.logLevel, "log-level", env("AUTOHOOK_LOG_LEVEL", "info"), "debug, info, warn or error (AUTOHOOK_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", env("AUTOHOOK_LOG_FORMAT", "text"), "text or json (AUTOHOOK_LOG_FORMAT)")
	return fs, &o
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg server.Config
	fs, o := newServeFlags(&cfg, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	allowCIDRs, proxies, denyHosts, logLevel, logFormat, schedule := o.allowCIDRs, o.proxies, o.denyHosts, o.logLevel, o.logFormat, o.schedule
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	cfg.RateLimit = *o.rateLimit
	if cfg.RateLimit == 0 {
		cfg.RateLimit = -1
	}
	cfg.BootstrapAPIKey = os.Getenv("AUTOHOOK_BOOTSTRAP_API_KEY")
	cfg.AdminPassword = os.Getenv("AUTOHOOK_ADMIN_PASSWORD")
	cfg.SecretKey = os.Getenv("AUTOHOOK_SECRET_KEY")
	cfg.SecretKeyPrevious = os.Getenv("AUTOHOOK_SECRET_KEY_PREVIOUS")
	cfg.Version = version
	cfg.Out = stdout
	var err error
	if cfg.AllowCIDRs, err = parseCIDRs("--allow-cidrs", allowCIDRs); err != nil {
		return err
	}
	cfg.DenyHosts = splitList(denyHosts)
	if schedule != "" {
		var waits []time.Duration
		for _, s := range splitList(schedule) {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return fmt.Errorf("--retry-schedule: %q is not a positive duration such as 10s or 2m", s)
			}
			waits = append(waits, d)
		}
		cfg.Retry = &retry.Policy{Schedule: waits}
	}
	if cfg.TrustedProxies, err = parseCIDRs("--trusted-proxies", proxies); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch logFormat {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, opts))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, opts))
	default:
		return fmt.Errorf("--log-format: must be text or json, got %q", logFormat)
	}
	return server.Run(ctx, cfg)
}

// parseCIDRs parses a comma-separated list of CIDRs given to flag.
func parseCIDRs(flag, list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(list) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a CIDR (like 10.0.0.0/8): %w", flag, s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

// scheduleText writes a retry schedule as --retry-schedule takes it.
func scheduleText(waits []time.Duration) string {
	parts := make([]string, len(waits))
	for i, d := range waits {
		parts[i] = shortDuration(d)
	}
	return strings.Join(parts, ",")
}

// shortDuration writes d without its zero minutes and seconds: 2m, 1h,
// not 2m0s, 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg        bench.Config
		asJSON     bool
		cpuProfile string
	)
	fs.IntVar(&cfg.Records, "records", 20000, "records to create (one run each)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "records per second; 0 creates them all at once")
	fs.StringVar(&cfg.DatabaseURL, "database", "", "postgres://... of an empty database; default a temporary SQLite file")
	fs.IntVar(&cfg.MaxWorkers, "max-workers", 0, "engine workers (default: the server's default)")
	fs.IntVar(&cfg.Creators, "creators", 64, "goroutines creating records in a burst")
	fs.DurationVar(&cfg.Stall, "stall", 0, "fairness scenario: every other record goes to a receiver that holds each request this long (e.g. 5s)")
	fs.IntVar(&cfg.Runs, "runs", 1, "repeat the measurement in one process (memory growth check)")
	fs.IntVar(&cfg.Nodes, "nodes", 1, "PostgreSQL: nodes in this process sharing the database, records created across them")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object (an array with --runs > 1)")
	fs.BoolVar(&cfg.Statements, "statements", false, "count the statements by text: how often per run the burst sent each")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole bench to this file")
	blockProfile := fs.String("blockprofile", "", "write a blocking profile (where goroutines wait) to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the whole bench to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if term, ok := stderr.(*os.File); ok && isTerminal(term) {
		cfg.Progress = stderr
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *blockProfile != "" {
		runtime.SetBlockProfileRate(int(10 * time.Microsecond))
		defer func() {
			if f, err := os.Create(*blockProfile); err == nil {
				pprof.Lookup("block").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *memProfile != "" {
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	results, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		if len(results) == 1 {
			return enc.Encode(results[0])
		}
		return enc.Encode(results)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "run\tmode\tdatabase\tnodes\trecords\truns/s\tp50 ms\tp95 ms\tp99 ms\tbaseline req/s\tratio\tstmts/run\ttrips/run\tbytes/run\tCPU ms/run\tpeak RSS MB\tRSS after MB\tverified")
	for i, r := range results {
		mode := r.Mode
		if r.Rate > 0 {
			mode = fmt.Sprintf("%s %.0f/s", r.Mode, r.Rate)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.0f\t%.2f\t%.1f\t%.1f\t%.0f\t%.2f\t%.0f\t%.0f\t%t\n", i+1, mode, r.Database, r.Nodes, r.Records,
			r.RunsPerSecond, r.LatencyMs.P50, r.LatencyMs.P95, r.LatencyMs.P99, r.BaselineRequestsPerSecond, r.Ratio,
			r.StatementsPerRun, r.RoundTripsPerRun, r.BytesPerRun, r.CPUMsPerRun,
			float64(r.PeakRSSBytes)/(1<<20), float64(r.RSSAfterBytes)/(1<<20), r.Verified)
		for j, p := range r.PerNode {
			fmt.Fprintf(w, "\t  node %d\t\t\t%d\t%.0f\n", j+1, p.Runs, p.RunsPerSecond)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for i, r := range results {
		if len(r.Statements) > 0 {
			fmt.Fprintf(stdout, "\nrun %d: statements per run, by text\n", i+1)
		}
		for _, c := range r.Statements {
			fmt.Fprintf(stdout, "%8.2f  %s\n", c.PerRun, c.SQL)
		}
	}
	return nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runCopy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", env("AUTOHOOK_DATA_DIR", server.DefaultDataDir), "the SQLite data dir to copy (the server using it must be stopped)")
	to := fs.String("to", "", "postgres://... URL of an empty database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !strings.HasPrefix(*to, "postgres://") && !strings.HasPrefix(*to, "postgresql://") {
		return errors.New("copy: --to must be a postgres:// URL")
	}
	counts, err := server.CopyDataDir(ctx, *from, *to, func(table string, rows int) {
		fmt.Fprintf(stdout, "  %-20s %d\n", table, rows)
	})
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	fmt.Fprintf(stdout, "Copied; %d unfinished run(s) queued on PostgreSQL.\n", counts["jobs"])
	fmt.Fprintf(stdout, "Secrets stay encrypted with the data dir's key: start every node with\n  AUTOHOOK_SECRET_KEY=$(cat %s)\n", filepath.Join(*from, "secret.key"))
	return nil
}

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", env("AUTOHOOK_DATA_DIR", server.DefaultDataDir), "the data dir whose SQLite database to copy (AUTOHOOK_DATA_DIR); serve may be running on it")
	database := fs.String("database", env("AUTOHOOK_DATABASE_URL", ""), "sqlite:PATH of the database, if not the data dir's (AUTOHOOK_DATABASE_URL)")
	to := fs.String("to", "", "the file to write (must not exist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("backup: unexpected argument %q", fs.Arg(0))
	}
	start := time.Now()
	info, err := server.Backup(ctx, *dataDir, *database, *to)
	if err != nil {
		return err
	}
	c := info.Counts
	fmt.Fprintf(stdout, "Backed up to %s in %v: %.1f MB, integrity ok; %d organisation(s), %d collection(s), %d record(s), %d automation(s), %d run(s), %d attempt(s), %d secret(s).\n",
		*to, time.Since(start).Round(time.Millisecond), float64(info.Bytes)/(1<<20), c["organisations"], c["collections"], c["records"], c["automations"], c["runs"], c["attempts"], c["secrets"])
	fmt.Fprintf(stdout, "Its secrets open only with this data dir's key: keep %s (or AUTOHOOK_SECRET_KEY) with the backup. Restore: docs/OPERATIONS.md, \"Backup and restore\".\n",
		filepath.Join(*dataDir, "secret.key"))
	return nil
}

func runRotateKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rotate-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := server.RotateConfig{SecretKey: os.Getenv("AUTOHOOK_SECRET_KEY"), SecretKeyPrevious: os.Getenv("AUTOHOOK_SECRET_KEY_PREVIOUS")}
	fs.StringVar(&cfg.DataDir, "data-dir", env("AUTOHOOK_DATA_DIR", server.DefaultDataDir), "the data dir, as serve uses it (AUTOHOOK_DATA_DIR): its database and, without AUTOHOOK_SECRET_KEY, its secret.key")
	fs.StringVar(&cfg.DatabaseURL, "database", env("AUTOHOOK_DATABASE_URL", ""), "sqlite:PATH or postgres://... (AUTOHOOK_DATABASE_URL); default: SQLite in the data dir")
	fs.StringVar(&cfg.NewKey, "new-key", env("AUTOHOOK_NEW_SECRET_KEY", ""), "the new key: 32 bytes as base64 or 64 hex digits (AUTOHOOK_NEW_SECRET_KEY keeps it out of the process list)")
	fs.BoolVar(&cfg.UpdateKeyFile, "update-key-file", false, "when done, write the new key into the data dir's secret.key (when the key came from that file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("rotate-key: unexpected argument %q", fs.Arg(0))
	}
	if cfg.NewKey == "" {
		return errors.New("rotate-key: --new-key is required (generate one with: openssl rand -base64 32)")
	}
	if term, ok := stderr.(*os.File); ok && isTerminal(term) {
		cfg.Progress = func(s keyring.RotateStats) {
			fmt.Fprintf(stderr, "\r  sealed again: %d, already with the new key: %d", s.Resealed, s.Already)
		}
		defer fmt.Fprintln(stderr)
	}
	stats, err := server.RotateKey(ctx, cfg)
	if err != nil {
		return fmt.Errorf("rotate-key: %w", err)
	}
	fmt.Fprintf(stdout, "Every secret and signing secret is sealed with the new key (%d sealed again, %d already were, %d changed meanwhile; %d pass(es)).\n",
		stats.Resealed, stats.Already, stats.Changed, stats.Passes)
	if cfg.UpdateKeyFile {
		fmt.Fprintf(stdout, "The new key is in %s: restart the node.\n", filepath.Join(cfg.DataDir, "secret.key"))
	} else {
		fmt.Fprintln(stdout, "Give every node AUTOHOOK_SECRET_KEY=<the new key>; AUTOHOOK_SECRET_KEY_PREVIOUS can go once each has restarted with it.")
	}
	return nil
}
