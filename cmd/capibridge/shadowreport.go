package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"capibridge/configs"
	"capibridge/proxy/shadow"
)

// shadowReport summarises shadow mode's comparisons, read from a running
// gateway's admin port (/admin/shadow): per route, how many matched and
// what differed most; with --route, that route's last differing samples.
func shadowReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shadow-report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file (for admin_listen)")
	admin := fs.String("admin", "", "the gateway's admin URL (default: http:// and admin_listen)")
	route := fs.String("route", "", "show this route's last differing samples")
	format := fs.String("format", "table", "table or json")
	cfg, err := load(fs, args, configPath, func(*configs.Config) {})
	if err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("shadow-report: --format %q is not one of table, json", *format)
	}
	base := adminBase(*admin, cfg)
	body, done, err := adminGet(ctx, base+"/admin/shadow", 30*time.Second)
	if err != nil {
		return fmt.Errorf("shadow-report: %w", err)
	}
	defer done()
	if *format == "json" {
		_, err := io.Copy(stdout, body)
		return err
	}
	var rep struct {
		Enabled bool                 `json:"enabled"`
		Routes  []shadow.RouteReport `json:"routes"`
	}
	if err := json.NewDecoder(body).Decode(&rep); err != nil {
		return fmt.Errorf("shadow-report: %w", err)
	}
	if !rep.Enabled {
		return fmt.Errorf("shadow-report: shadow mode is off on %s (shadow.enabled)", base)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	if *route == "" {
		fmt.Fprintln(tw, "ROUTE\tCOMPARED\tMATCH\tDIFFER\tERROR\tSKIPPED\tMOST DIFFERING")
		for _, r := range rep.Routes {
			most := "-"
			if len(r.Paths) > 0 {
				most = fmt.Sprintf("%s %s (%d)", r.Paths[0].Kind, orWhole(r.Paths[0].Path), r.Paths[0].Count)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%d\t%d\t%d\t%s\n", r.Route, r.Match+r.Differ, 100*r.MatchRate, r.Differ, r.Error, r.Skipped, most)
		}
		return tw.Flush()
	}
	for _, r := range rep.Routes {
		if r.Route != *route {
			continue
		}
		for _, s := range r.Last {
			fmt.Fprintf(tw, "%s  %s  native %d, translated %d\n", s.At.Format(time.RFC3339), s.Request, s.NativeStatus, s.TranslatedStatus)
			for _, d := range s.Differences {
				fmt.Fprintf(tw, "  %s\t%s\tnative %s\ttranslated %s\n", d.Kind, orWhole(d.Path), d.Native, d.Translated)
			}
		}
		return tw.Flush()
	}
	return fmt.Errorf("shadow-report: no comparisons of route %q", *route)
}

func orWhole(path string) string {
	if path == "" {
		return "(whole answer)"
	}
	return path
}
