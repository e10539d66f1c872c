package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pbxbridge/pbxbridge/config"
)

const outboxUsage = `usage: pbxbridge outbox list [--config FILE] [--dead]
       pbxbridge outbox replay [--config FILE] (--dead | ID...)

Shows and replays the callbacks in pbxbridge's outbox, in the store the configuration names
(Redis, or the embedded store in data_dir: that one is locked while pbxbridge serves, so stop
it first, or use the HTTP API: GET /v1/outbox/dead, POST /v1/outbox/dead/{id}/replay).

  list            the number of callbacks waiting for delivery
  list --dead     the dead letters, oldest first: callbacks that failed their last retry
  replay ID...    puts these dead letters back in the queue, due now, attempts reset
  replay --dead   replays every dead letter

PBXBRIDGE_CONFIG names the file too. Exit status: 0 on success, 1 when a dead letter is
unknown or the store fails, 2 on usage errors.
`

func runOutbox(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, outboxUsage)
			return 0
		}
		fmt.Fprint(stderr, outboxUsage)
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("outbox "+verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", os.Getenv("PBXBRIDGE_CONFIG"), "")
	dead := fs.Bool("dead", false, "")
	ids, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, outboxUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pbxbridge outbox: %v\n\n%s", err, outboxUsage)
		return 2
	}
	switch {
	case verb == "list" && len(ids) > 0:
		fmt.Fprintf(stderr, "pbxbridge outbox list: takes no ID\n\n%s", outboxUsage)
		return 2
	case verb == "replay" && *dead == (len(ids) > 0):
		fmt.Fprintf(stderr, "pbxbridge outbox replay: give either --dead or IDs\n\n%s", outboxUsage)
		return 2
	}
	cfg := config.Default()
	if *cfgPath != "" {
		if cfg, err = config.Load(*cfgPath); err != nil {
			fmt.Fprintf(stderr, "pbxbridge outbox: %v\n", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "pbxbridge outbox: %v\n", err)
		return 1
	}
	defer st.Close()

	if verb == "list" && !*dead {
		n, err := st.Pending(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "pbxbridge outbox: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%d callbacks waiting for delivery\n", n)
		return 0
	}
	if verb == "replay" && len(ids) == 0 {
		es, err := st.ListDead(ctx, 0)
		if err != nil {
			fmt.Fprintf(stderr, "pbxbridge outbox: %v\n", err)
			return 1
		}
		for _, e := range es {
			ids = append(ids, e.ID)
		}
	}
	if verb == "replay" {
		status := 0
		for _, id := range ids {
			if err := st.Replay(ctx, id); err != nil {
				fmt.Fprintf(stderr, "pbxbridge outbox replay %s: %v\n", id, err)
				status = 1
				continue
			}
			fmt.Fprintf(stdout, "replayed %s\n", id)
		}
		return status
	}
	es, err := st.ListDead(ctx, 0)
	if err != nil {
		fmt.Fprintf(stderr, "pbxbridge outbox: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCALL\tKIND\tREQUEST\tATTEMPTS\tDEAD AT\tLAST ERROR")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%d\t%s\t%s\n", e.ID, e.CallID, e.Kind, e.Method, e.URL, e.Attempts,
			e.DeadAt.UTC().Format(time.RFC3339), oneLine(e.LastError))
	}
	_ = tw.Flush()
	return 0
}

// oneLine keeps a multi-line error on its table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
