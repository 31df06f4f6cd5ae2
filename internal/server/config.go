package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/alert"
	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/engine"
	"github.com/autohook/autohook/internal/httpapi"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/webhook"
)

// Config is one node's configuration; cmd/autohook fills it from flags and
// AUTOHOOK_* variables. The zero value of every field means its default,
// given on the field and set in one place, withDefaults; docs/OPERATIONS.md
// ("Settings") lists the flags with the same defaults (a test checks it).
type Config struct {
	// DataDir holds the SQLite database, secret.key, node.id and the lock
	// (one process per data dir); default DefaultDataDir.
	DataDir string
	// DatabaseURL is "sqlite:PATH" or "postgres://..."; default SQLite in
	// DataDir (autohook.db).
	DatabaseURL string
	// Listen is the address of the API and the UI; default DefaultListen.
	Listen string
	// BootstrapAPIKey is the instance admin's API key made on the first
	// start; default generated and printed once.
	BootstrapAPIKey string
	// AdminPassword is the web UI admin's password set on the first start;
	// default generated and printed once.
	AdminPassword string
	// SecretKey seals secrets at rest (32 bytes, base64 or hex); default
	// the data dir's secret.key, generated on the first start.
	SecretKey string
	// SecretKeyPrevious is the key being replaced during a key change
	// (AUTOHOOK_SECRET_KEY_PREVIOUS): values sealed with it still open.
	// Default none.
	SecretKeyPrevious string
	// AllowPrivateNetworks lets Call API reach loopback and private
	// addresses; default false.
	AllowPrivateNetworks bool
	// AllowCIDRs are private ranges Call API may reach all the same;
	// default none.
	AllowCIDRs []netip.Prefix
	// DenyHosts are host names Call API must never reach ("*.example.com"
	// allowed); default none.
	DenyHosts []string
	// MaxResponseBytes is how much of a response body Call API reads;
	// default webhook.DefaultMaxResponseBytes (1 MiB).
	MaxResponseBytes int64
	// MaxAttempts is a step's attempts unless its automation says;
	// default engine.DefaultMaxAttempts (9).
	MaxAttempts int
	// MaxWorkers bounds the runs in flight on the node (the queue's
	// workers and the engine's slots); default store.DefaultMaxWorkers (500).
	MaxWorkers int
	// MaxPerHost bounds the requests in flight from one organisation to one
	// destination host, all ports; default webhook.DefaultMaxPerHost (64).
	MaxPerHost int
	// MaxRunsPerOrg bounds one organisation's runs in flight on the node
	// (engine.Config.MaxPerOrg): 0 (the default) a fair share of MaxWorkers
	// that adapts to how many organisations are busy, N at most N,
	// negative no bound.
	MaxRunsPerOrg int
	// HeaderTimeout is Call API's longest wait for response headers,
	// within a step's timeout; default 0: the step's timeout.
	HeaderTimeout time.Duration
	// BodyIdleTimeout is Call API's longest pause while reading a response
	// body, within a step's timeout; default webhook.DefaultBodyIdleTimeout
	// (10 s), negative none.
	BodyIdleTimeout time.Duration
	// RateLimit is the API requests per second per key; default
	// httpapi.DefaultRateLimit (100), negative none.
	RateLimit float64
	// MetricsToken, when set, is the Bearer token GET /metrics requires;
	// default none (open).
	MetricsToken string
	// TrustedProxies are reverse proxies (CIDRs) whose X-Forwarded-For
	// header names the client, for the per-address limits; default none.
	TrustedProxies []netip.Prefix
	// LimitClock is the clock of the API's rate limits and of the sign-in
	// failure limit (tests); default nil: time.Now.
	LimitClock func() time.Time
	// DBConns is the size of SQLite's read pool or of the PostgreSQL pool;
	// default store.DefaultSQLiteReaders (8) or store.DefaultPostgresConns
	// (25).
	DBConns int
	// Version is shown in the start-up line and Call API's User-Agent;
	// default "dev".
	Version string
	// Logger receives the node's logs; default text on standard error.
	Logger *slog.Logger
	// Out receives the lines meant for the person who started the server
	// (how to reach it, the generated key); default os.Stdout.
	Out io.Writer
	// Retry overrides the retry schedule; default nil: retry.DefaultSchedule
	// with jitter.
	Retry *retry.Policy
	// Retention is how long run history, the audit log and delivered
	// alerts are kept;
	// default DefaultRetention (30 days).
	Retention time.Duration
	// SessionTTL is how long a web UI sign-in lasts; default
	// autohook.SessionTTL (12 hours).
	SessionTTL time.Duration
	// PublicURL is where people reach this server, for the invitation
	// URLs and the links alerts carry; default "": invitations use the
	// host each request was sent to, alerts http:// and the listen address.
	PublicURL string
	// SMTPURL is the relay of email alerts (smtp://user:pass@host:587);
	// default "": email channels fail.
	SMTPURL string
	// SMTPFrom is the sender address of email alerts; default "": none
	// (email channels fail).
	SMTPFrom string
	// PruneEvery is how often history is pruned; default DefaultPruneEvery
	// (10 min).
	PruneEvery time.Duration
	// DueInterval is how often due triggers are scanned; default
	// DefaultDueInterval (1 s).
	DueInterval time.Duration
	// RescueAfter is how long a job may stay running before another node
	// takes it over (its node died); default store.DefaultRescueAfter
	// (2 min 50 s). Shorter also cuts the longest a job may run
	// (RescueAfter - 10 s), and so steps with longer timeouts.
	RescueAfter time.Duration
	// Observer also receives what the engine observes (the bench uses it);
	// default nil: none.
	Observer engine.Metrics
}

// Defaults of the Config fields that belong to this package (the others
// are the defaults of the packages that use them, named on each field).
const (
	// DefaultDataDir is where a node keeps its files unless told otherwise.
	DefaultDataDir = "./autohook-data"
	// DefaultListen is where a node listens unless told otherwise.
	DefaultListen = "127.0.0.1:8080"
	// DefaultRetention is how long run history, the audit log and
	// delivered alerts are kept.
	DefaultRetention = 30 * 24 * time.Hour
	// DefaultPruneEvery is how often history is pruned.
	DefaultPruneEvery = 10 * time.Minute
	// DefaultDueInterval is how often due triggers are scanned.
	DefaultDueInterval = time.Second
	// DefaultVersion is the version of a node not told its own.
	DefaultVersion = "dev"
)

// withDefaults returns cfg with every zero field set to its default (see
// the fields), and checks what can be checked before anything starts.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = webhook.DefaultMaxResponseBytes
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = engine.DefaultMaxAttempts
	}
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = store.DefaultMaxWorkers
	}
	if cfg.MaxPerHost <= 0 {
		cfg.MaxPerHost = webhook.DefaultMaxPerHost
	}
	if cfg.BodyIdleTimeout == 0 {
		cfg.BodyIdleTimeout = webhook.DefaultBodyIdleTimeout
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = httpapi.DefaultRateLimit
	}
	if cfg.DBConns <= 0 {
		cfg.DBConns = store.DefaultPostgresConns
		if !isPostgres(cfg.DatabaseURL) {
			cfg.DBConns = store.DefaultSQLiteReaders
		}
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = autohook.SessionTTL
	}
	if cfg.PruneEvery <= 0 {
		cfg.PruneEvery = DefaultPruneEvery
	}
	if cfg.DueInterval <= 0 {
		cfg.DueInterval = DefaultDueInterval
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = store.DefaultRescueAfter
	}
	return cfg, cfg.validate()
}

// validate checks the settings that would otherwise fail late, or
// obscurely.
func (cfg Config) validate() error {
	var errs []error // the database URL is store.Open's to check
	if cfg.Retry != nil {
		for i, d := range cfg.Retry.Schedule {
			if d <= 0 {
				errs = append(errs, fmt.Errorf("retry schedule: entry %d is %v, not a positive duration", i, d))
			}
		}
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--public-url %q must be an absolute http or https URL such as https://autohook.example.com (invitation URLs and the links in alerts start with it)", cfg.PublicURL))
		}
	}
	if cfg.SMTPURL != "" {
		if _, err := alert.SMTPClient(cfg.SMTPURL, time.Second); err != nil { // builds a client, connects to nothing
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}
