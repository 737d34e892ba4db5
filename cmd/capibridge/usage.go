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
	base := *admin
	if base == "" {
		base = "http://" + dialable(cfg.AdminListen)
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
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/admin/v2-usage?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("usage: reading the report: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("usage: %s answered %s: %s", req.URL.Redacted(), resp.Status, strings.TrimSpace(string(b)))
	}
	if *format != "table" {
		_, err = io.Copy(stdout, resp.Body)
		return err
	}
	var report struct {
		Rows []v2usage.Row `json:"rows"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&report); err != nil {
		return fmt.Errorf("usage: decoding the report: %w", err)
	}
	return v2usage.WriteTable(stdout, report.Rows)
}
