package main

// autohook export and autohook apply: an organisation's collections and
// automations as a file, through a server's API (GET /api/v1/export, POST
// /api/v1/import), for keeping them in Git and moving them between servers.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/problem"
)

// exitStatus is an error that asks main for a status of its own: apply
// --plan exits 2 when the plan has changes, for CI.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// planHasChanges is what apply --plan returns when applying would change
// something.
const planHasChanges exitStatus = 2

// apiClient talks to a server's API with one key.
type apiClient struct {
	base string // scheme://host[:port], no trailing slash
	key  string
	http *http.Client
}

// serverFlags adds --server and --api-key to fs, defaulting to
// AUTOHOOK_SERVER and AUTOHOOK_API_KEY; the returned function checks them.
func serverFlags(fs *flag.FlagSet) func() (*apiClient, error) {
	server := fs.String("server", env("AUTOHOOK_SERVER", ""), "the server's base URL, like https://autohook.example.com (AUTOHOOK_SERVER)")
	key := fs.String("api-key", env("AUTOHOOK_API_KEY", ""), "an API key of the organisation (AUTOHOOK_API_KEY)")
	return func() (*apiClient, error) {
		if *server == "" {
			return nil, errors.New("give the server: --server URL or AUTOHOOK_SERVER")
		}
		u, err := url.Parse(*server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--server: want a URL like https://autohook.example.com, got %q", *server)
		}
		if *key == "" {
			return nil, errors.New("give an API key: --api-key KEY or AUTOHOOK_API_KEY")
		}
		return &apiClient{base: strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), key: *key, http: &http.Client{Timeout: 2 * time.Minute}}, nil
	}
}

// call sends a request and returns the body of a 2xx answer; any other
// answer is an error that says what the server said (the paths of a 422).
func (c *apiClient) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("User-Agent", "autohook-cli/"+version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	var env struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Details []problem.Problem `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &env) != nil || env.Error.Code == "" {
		return nil, fmt.Errorf("%s %s: the server answered %s: %.200s", method, path, resp.Status, data)
	}
	if len(env.Error.Details) == 0 {
		return nil, fmt.Errorf("%s (%s)", env.Error.Message, env.Error.Code)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the server refused the file (%s):", env.Error.Code)
	for _, d := range env.Error.Details {
		fmt.Fprintf(&b, "\n  %s: %s", d.Path, d.Message)
	}
	return nil, errors.New(b.String())
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := serverFlags(fs)
	out := fs.String("o", "", "write the export to this file (default: standard output)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: autohook export --server URL --api-key KEY [-o FILE]\n\nWrites the organisation's collections and automations as one JSON document\n(no ids, no secret values), the same for the same configuration.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("export: unexpected argument %q", fs.Arg(0))
	}
	c, err := client()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	doc, err := c.call(ctx, "GET", "/api/v1/export", nil)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if *out == "" || *out == "-" {
		_, err := stdout.Write(doc)
		return err
	}
	return writeFileAtomic(*out, doc)
}

// writeFileAtomic writes a file whole or not at all: a failed export never
// leaves half a file in a Git work tree.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func runApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := serverFlags(fs)
	file := fs.String("f", "", "the export to apply ('-' for standard input)")
	planOnly := fs.Bool("plan", false, "only show what would change; exit status 2 when something would, 0 when nothing")
	prune := fs.Bool("prune", false, "also delete the collections and automations the file does not hold")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: autohook apply -f FILE --server URL --api-key KEY [--plan] [--prune]\n\nMakes the organisation's collections and automations what FILE (an export)\nsays, in one transaction, and prints the plan:\n  + create   ~ update (with the paths that change)   = unchanged   - delete\nObjects match by collection key and automation name; objects the file does\nnot hold are kept unless --prune. Exit status: 0 done (or, with --plan, no\nchanges), 2 --plan found changes, 1 an error.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("apply: unexpected argument %q", fs.Arg(0))
	}
	if *file == "" {
		return errors.New("apply: give the file: -f FILE")
	}
	c, err := client()
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	var doc []byte
	if *file == "-" {
		doc, err = io.ReadAll(os.Stdin)
	} else {
		doc, err = os.ReadFile(*file)
	}
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	q := url.Values{}
	if *planOnly {
		q.Set("dryRun", "true")
	}
	if *prune {
		q.Set("prune", "true")
	}
	path := "/api/v1/import"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	answer, err := c.call(ctx, "POST", path, doc)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	var res autohook.ImportResult
	if err := json.Unmarshal(answer, &res); err != nil {
		return fmt.Errorf("apply: the server's answer: %w", err)
	}
	printPlan(stdout, &res)
	if *planOnly && res.Changed() {
		return planHasChanges
	}
	return nil
}

// printPlan writes a plan the way terraform plan does: a sign per object,
// the changed paths under an update, then a count.
func printPlan(w io.Writer, res *autohook.ImportResult) {
	signs := map[string]string{autohook.ActionCreate: "+", autohook.ActionUpdate: "~", autohook.ActionUnchanged: "=", autohook.ActionDelete: "-"}
	counts := map[string]int{}
	for _, p := range res.Plan {
		counts[p.Action]++
		fmt.Fprintf(w, "  %s %s %s\n", signs[p.Action], p.Kind, quoteName(p.Name))
		for _, c := range p.Changes {
			fmt.Fprintf(w, "      ~ %s\n", c)
		}
	}
	if len(res.Warnings) > 0 {
		fmt.Fprintln(w, "\nWarnings:")
		for _, p := range res.Warnings {
			fmt.Fprintf(w, "  ! %s: %s\n", p.Path, p.Message)
		}
	}
	summary := fmt.Sprintf("%d to create, %d to update, %d to delete, %d unchanged.", counts[autohook.ActionCreate], counts[autohook.ActionUpdate], counts[autohook.ActionDelete], counts[autohook.ActionUnchanged])
	switch {
	case res.Applied:
		summary = fmt.Sprintf("Applied: %d created, %d updated, %d deleted, %d unchanged.", counts[autohook.ActionCreate], counts[autohook.ActionUpdate], counts[autohook.ActionDelete], counts[autohook.ActionUnchanged])
	case !res.Changed():
		summary = "No changes: the server matches the file."
	default:
		summary = "Plan: " + summary
	}
	fmt.Fprintf(w, "\n%s\n", summary)
}

// quoteName quotes a name that has spaces or is empty, so that a plan line
// reads unambiguously.
func quoteName(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"") {
		b, _ := json.Marshal(s)
		return string(b)
	}
	return s
}
