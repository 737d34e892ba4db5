package usage

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// csvHeader names the report's CSV columns, the JSON keys of Row.
var csvHeader = []string{"user", "client_family", "route", "client_id", "client_version", "requests", "refused", "dry_run", "first_seen", "last_seen"}

// WriteCSV writes rows as CSV with a header line. A name that a
// spreadsheet would take for a formula is prefixed with a quote.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{safeCell(r.User), r.ClientFamily, r.Route, safeCell(r.ClientID), safeCell(r.ClientVersion),
			strconv.FormatInt(r.Requests, 10), strconv.FormatInt(r.Refused, 10), strconv.FormatInt(r.DryRun, 10),
			r.FirstSeen.Format(time.RFC3339), r.LastSeen.Format(time.RFC3339)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// safeCell defuses CSV formula injection (OWASP): user names come from
// tokens and client ids from the UAA, not from the operator.
func safeCell(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

// WriteTable writes rows as an aligned text table, for a terminal.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tCLIENT\tVERSION\tCLIENT ID\tROUTE\tREQUESTS\tREFUSED\tDRY RUN\tFIRST SEEN\tLAST SEEN")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.User, r.ClientFamily, dash(r.ClientVersion), dash(r.ClientID), r.Route,
			r.Requests, r.Refused, r.DryRun, r.FirstSeen.Format("2006-01-02 15:04"), r.LastSeen.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
