package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"capibridge/configs"
	v2usage "capibridge/proxy/usage"
)

// usageCmd prints the v2 usage report a running gateway serves on its
// admin port (/admin/v2-usage): who still calls v2, with which client,
// on which routes. Any instance answers for all that share its Redis.
func usageCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("usage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file (for admin_listen)")
	admin := fs.String("admin", "", "the gateway's admin URL (default: http:// and admin_listen)")
	days := fs.Int("days", 0, "the last days only (default: all the report keeps)")
	format := fs.String("format", "table", "table, csv or json")
	cfg, err := load(fs, args, configPath, func(*configs.Config) {})
	if err != nil {
		return err
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return fmt.Errorf("usage: --format %q is not one of table, csv, json", *format)
	}
	q := url.Values{}
	if *days > 0 {
		q.Set("days", strconv.Itoa(*days))
	}
	if *format == "csv" {
		q.Set("format", "csv")
	}
	body, done, err := adminGet(ctx, adminBase(*admin, cfg)+"/admin/v2-usage?"+q.Encode(), 30*time.Second)
	if err != nil {
		return fmt.Errorf("usage: reading the report: %w", err)
	}
	defer done()
	if *format != "table" {
		_, err = io.Copy(stdout, body)
		return err
	}
	var report struct {
		Rows []v2usage.Row `json:"rows"`
	}
	if err := json.NewDecoder(body).Decode(&report); err != nil {
		return fmt.Errorf("usage: decoding the report: %w", err)
	}
	return v2usage.WriteTable(stdout, report.Rows)
}

// adminBase is the admin URL given, or http:// and admin_listen.
func adminBase(given string, cfg configs.Config) string {
	if given != "" {
		return strings.TrimSuffix(given, "/")
	}
	return "http://" + dialable(cfg.AdminListen)
}

// adminGet reads url within timeout and fails unless it answers 200,
// quoting the start of the answer; the caller closes the body.
func adminGet(ctx context.Context, url string, timeout time.Duration) (io.ReadCloser, func(), error) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		return nil, nil, fmt.Errorf("%s answered %s: %s", req.URL.Redacted(), resp.Status, strings.TrimSpace(string(b)))
	}
	return resp.Body, func() { resp.Body.Close(); cancel() }, nil
}
