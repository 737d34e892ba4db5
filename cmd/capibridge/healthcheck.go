package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"capibridge/configs"
)

// healthcheck probes the admin port's /healthz and fails unless it answers
// 200: the container image's HEALTHCHECK, and the probe of orchestrators
// without HTTP probes. The image has no shell and no curl, so the binary
// checks itself.
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file (for admin_listen)")
	target := fs.String("url", "", "URL to probe (default: http:// and admin_listen, /healthz)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	cfg, err := load(fs, args, configPath, func(*configs.Config) {})
	if err != nil {
		return err
	}
	u := *target
	if u == "" {
		u = adminBase("", cfg) + "/healthz"
	}
	_, done, err := adminGet(ctx, u, *timeout)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	done()
	fmt.Fprintf(stdout, "healthy: %s\n", u)
	return nil
}
