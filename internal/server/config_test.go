package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/engine"
	"github.com/autohook/autohook/internal/httpapi"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/webhook"
)

// TestConfigFieldsDocumented: every Config field says what its default is,
// on the field (config.go is the one place defaults are written).
func TestConfigFieldsDocumented(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		found = true
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			if doc := field.Doc.Text(); !strings.Contains(strings.ToLower(doc), "default") {
				t.Errorf("Config.%s: its comment %q does not give its default", field.Names[0].Name, doc)
			}
		}
		return false
	})
	if !found {
		t.Fatal("no Config type in config.go")
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want func(Config) []string // problems
	}{
		{"zero", Config{}, func(c Config) (bad []string) {
			check := func(ok bool, what string) {
				if !ok {
					bad = append(bad, what)
				}
			}
			check(c.DataDir == DefaultDataDir, "DataDir")
			check(c.Listen == DefaultListen, "Listen")
			check(c.MaxResponseBytes == webhook.DefaultMaxResponseBytes, "MaxResponseBytes")
			check(c.MaxAttempts == engine.DefaultMaxAttempts, "MaxAttempts")
			check(c.MaxWorkers == store.DefaultMaxWorkers, "MaxWorkers")
			check(c.MaxPerHost == webhook.DefaultMaxPerHost, "MaxPerHost")
			check(c.BodyIdleTimeout == webhook.DefaultBodyIdleTimeout, "BodyIdleTimeout")
			check(c.RateLimit == httpapi.DefaultRateLimit, "RateLimit")
			check(c.DBConns == store.DefaultSQLiteReaders, "DBConns")
			check(c.Version == DefaultVersion, "Version")
			check(c.Logger != nil && c.Out != nil, "Logger, Out")
			check(c.Retention == DefaultRetention, "Retention")
			check(c.PruneEvery == DefaultPruneEvery, "PruneEvery")
			check(c.DueInterval == DefaultDueInterval, "DueInterval")
			check(c.RescueAfter == store.DefaultRescueAfter && jobTimeout(c.RescueAfter) == store.DefaultJobTimeout, "RescueAfter")
			check(c.HeaderTimeout == 0 && c.MaxRunsPerOrg == 0 && c.Retry == nil, "zero defaults")
			return bad
		}},
		{"postgres", Config{DatabaseURL: "postgres://x/y"}, func(c Config) []string {
			if c.DBConns != store.DefaultPostgresConns {
				return []string{"DBConns"}
			}
			return nil
		}},
		{"kept", Config{MaxWorkers: 7, RateLimit: -1, BodyIdleTimeout: -1, MaxRunsPerOrg: -1, RescueAfter: time.Minute}, func(c Config) []string {
			if c.MaxWorkers != 7 || c.RateLimit != -1 || c.BodyIdleTimeout != -1 || c.MaxRunsPerOrg != -1 || c.RescueAfter != time.Minute {
				return []string{"a value given was changed"}
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range tc.want(got) {
				t.Errorf("%s: not its default: %+v", bad, got)
			}
		})
	}
}

// A --public-url or --smtp-url that cannot work refuses the start, with a
// message naming the setting, instead of broken invitation links and email
// alerts that fail later; the SMTP password is never repeated.
func TestConfigRefusesBadURLs(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // "" : accepted
	}{
		{Config{PublicURL: "https://autohook.example.com"}, ""},
		{Config{PublicURL: "http://10.0.0.5:8080/"}, ""},
		{Config{PublicURL: "autohook.example.com"}, "--public-url"},
		{Config{PublicURL: "ftp://autohook.example.com"}, "--public-url"},
		{Config{SMTPURL: "smtp://user:s3cret@mail.example.com:587"}, ""},
		{Config{SMTPURL: "smtps://mail.example.com"}, ""},
		{Config{SMTPURL: "http://user:s3cret@mail.example.com"}, "--smtp-url"},
		{Config{SMTPURL: "mail.example.com:587"}, "--smtp-url"},
	} {
		_, err := tc.cfg.withDefaults()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v refused: %v", tc.cfg.PublicURL+tc.cfg.SMTPURL, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want an error naming %s", tc.cfg.PublicURL+tc.cfg.SMTPURL, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("the error %q repeats the SMTP password", err)
		}
	}
}
